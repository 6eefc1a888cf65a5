"""AGT038, AGT039: where an integration agent's traffic may go and how fast (limits from each environment's stack
config, `guardrails`)."""

from __future__ import annotations

from collections.abc import Iterator

from agentiam.findings import Finding, Severity
from agentiam.rules.base import Rule, SpecContext
from agentiam.plan.locate import network_sources
from agentiam.spec.types import format_duration


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
        rate = network.rate_limit
        if rate is None:
            continue
        per_second = rate.requests / rate.interval
        for env in envs:
            config = ctx.environments.get(env)
            if config is not None and per_second > config.guardrails.max_rate_per_second:
                yield ctx.finding(rule, path + ("rate_limit",),
                                  f"{rate.requests}/{format_duration(rate.interval)} is {per_second:g} requests per "
                                  f"second, above {env}'s guardrails.max_rate_per_second "
                                  f"{config.guardrails.max_rate_per_second:g}", at_key=True)
                break


INTERNAL_DOMAINS = Rule(
    id="AGT038", severity=Severity.ERROR, title="Egress never names another environment's internal domains",
    rationale="A dev agent calling prod's internal hosts crosses environments through the network instead of IAM.",
    check=_check_internal_domains)

RATE_LIMIT_BOUND = Rule(
    id="AGT039", severity=Severity.ERROR, title="Rate limits within the environment's bound",
    rationale="A rate limit of a million requests a second limits nothing; each environment sets the highest rate "
              "(`guardrails.max_rate_per_second`, default 100).",
    check=_check_rate_limit_bound)
