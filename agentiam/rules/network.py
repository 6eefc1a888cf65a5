"""AGT038, AGT039, AGT047: where an integration agent's traffic may go, how fast it may log in to Vault (limits from
each environment's stack config, `guardrails`), and whether the environment's egress allow-list fits its
Network Firewall rule group."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING

from agentiam.environment.model import EnvironmentConfig
from agentiam.findings import Finding, Severity
from agentiam.plan.build import agents_in_environment, egress_capacity_needed
from agentiam.plan.locate import network_sources
from agentiam.rules.base import FleetRule, Rule, SpecContext
from agentiam.spec.types import format_duration

if TYPE_CHECKING:
    from agentiam.rules.fleet import FleetMember


def _in_domain(host: str, domain: str) -> bool:
    return host == domain or host.endswith("." + domain)


def _check_internal_domains(rule: Rule, ctx: SpecContext) -> Iterator[Finding]:
    environments = ctx.environments
    for path, network, envs in network_sources(ctx.loaded.spec):
        for i, endpoint in enumerate(network.egress):
            for env in envs:
                hits = sorted((other, domain) for other, config in environments.items() if other != env
                              for domain in config.guardrails.internal_domains if _in_domain(endpoint.host, domain))
                if hits:
                    other, domain = hits[0]
                    yield ctx.finding(rule, path + ("egress", i, "host"),
                                      f"{endpoint.host} is inside {other}'s internal domain {domain}, named as egress "
                                      f"in {env}: environments stay apart")
                    break


def _check_rate_limit_bound(rule: Rule, ctx: SpecContext) -> Iterator[Finding]:
    for path, network, envs in network_sources(ctx.loaded.spec):
        rate = network.vault_login_rate
        if rate is None:
            continue
        per_second = rate.requests / rate.interval
        for env in envs:
            config = ctx.environments.get(env)
            if config is not None and per_second > config.guardrails.max_rate_per_second:
                yield ctx.finding(rule, path + ("vault_login_rate",),
                                  f"{rate.requests}/{format_duration(rate.interval)} is {per_second:g} logins per "
                                  f"second, above {env}'s guardrails.max_rate_per_second "
                                  f"{config.guardrails.max_rate_per_second:g}", at_key=True)
                break


INTERNAL_DOMAINS = Rule(
    id="AGT038", severity=Severity.ERROR, title="Egress never names another environment's internal domains",
    rationale="A dev agent calling prod's internal hosts crosses environments through the network instead of IAM.",
    check=_check_internal_domains)

RATE_LIMIT_BOUND = Rule(
    id="AGT039", severity=Severity.ERROR, title="Vault login quotas within the environment's bound",
    rationale="A login quota of a million a second limits nothing; each environment sets the highest rate "
              "(`guardrails.max_rate_per_second`, default 100).",
    check=_check_rate_limit_bound)


def _hosts(member: FleetMember, environment: str) -> tuple[str, ...]:
    return next((hosts for env, _, hosts in member.egress if env == environment), ())


def _check_allow_list_capacity(rule: FleetRule, members: list[FleetMember],
                               environments: Mapping[str, EnvironmentConfig]) -> Iterator[Finding]:
    for env_name, env in sorted(environments.items()):
        if env.egress.enforcement != "network-firewall":
            continue
        in_env = agents_in_environment(members, env_name)  # a summary reads as a spec
        # The hosts `egress_allow_list` puts in the rule group: every active agent's (agentiam.plan.build).
        hosts = {host for m in in_env for env, active, named in m.egress if env == env_name and active
                 for host in named}
        needed = egress_capacity_needed(len(hosts))
        if needed <= env.egress.rule_group_capacity:
            continue
        # Point at the spec that brings the most hosts here: the first place a reviewer can act.
        widest = max(in_env, key=lambda m: (len(set(_hosts(m, env_name))), m.file))
        yield widest.finding(
            rule.id, ("network", "egress"),
            f"{env_name}'s egress allow-list needs capacity {needed:,} for "
            f"{len(hosts)} host(s), above its rule group's egress.rule_group_capacity "
            f"{env.egress.rule_group_capacity:,} (fixed when the group is created); name fewer hosts, or raise the "
            "capacity in the stack config, which replaces the group (docs/egress.md)", rule.severity)


ALLOW_LIST_CAPACITY = FleetRule(
    id="AGT047", severity=Severity.ERROR, title="The egress allow-list fits its Network Firewall rule group",
    rationale="A rule group's capacity is fixed when it is created and AWS refuses a list beyond it: find out in "
              "review, not when `pulumi up` fails half-way (docs/facts.md#aws-network-firewall).",
    check=_check_allow_list_capacity)
