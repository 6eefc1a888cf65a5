"""AGT001-AGT008: who the agent is: a unique name, derived names every system accepts and no other agent shares,
known environments, expiry within the environment's horizon."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator, Mapping
from pathlib import PurePath

from agentiam.environment.model import EnvironmentConfig
from agentiam.findings import Finding, Severity
from agentiam.plan import names
from agentiam.plan.effective import fill
from agentiam.rules.base import FleetRule, Rule, SpecContext
from agentiam.rules.fleet import FleetMember
from agentiam.spec.model import Status

EXPIRY_WARNING_DAYS = 30
# IAM role name <= 64 chars (docs/facts.md#aws-iam-limits); RoleSessionName / SourceIdentity `[\w+=,.@-]`, 2-64 chars
# (docs/facts.md#aws-sts-sessions).
IAM_NAME = re.compile(r"[\w+=,.@-]{1,64}\Z")
SESSION_NAME = re.compile(r"[\w+=,.@-]{2,64}\Z")
# Vault role, policy and entity names: the AppRole role-name pattern `\w(([\w-.@]+)?\w)?`, lower-case here.
VAULT_NAME = re.compile(r"[a-z0-9](?:[a-z0-9.@_-]*[a-z0-9])?\Z")
# RFC 5280 ub-common-name: a certificate CN is at most 64 characters; DNS labels at most 63.
CN_MAX = 64
DNS_LABEL_MAX = 63


def _check_unique_names(rule: FleetRule, members: list[FleetMember],
                        _environments: Mapping[str, EnvironmentConfig]) -> Iterator[Finding]:
    first: dict[str, FleetMember] = {}
    repeated: dict[str, list[FleetMember]] = {}  # lists for repeated names only: a fleet's worth would be 100 B/spec
    for member in members:
        holder = first.setdefault(member.name, member)
        if holder is not member:
            repeated.setdefault(member.name, [holder]).append(member)
    for name, owners in repeated.items():
        for member in owners:
            others = ", ".join(sorted(o.file for o in owners if o is not member))
            yield member.finding(rule.id, ("name",), f"agent name {name!r} is also declared in {others}; "
                                 "names must be unique (they name the IAM role and the Vault identity)", rule.severity)


def derived_names(member: FleetMember) -> Iterator[tuple[str, str, str, tuple]]:
    """(environment, namespace, name, spec path) of every name the agent's identity takes on the target systems.

    A namespace is where two equal names would be one object: Vault ACL policies (the working, login and mint
    policies), IAM roles and the Vault roles (AppRole, cert, token role) and entity named alike, database roles,
    certificate common names (the cert-auth alias of the entity). A certificate CN template is filled for the
    environments that have a stack config (`summarise`); elsewhere the default CN stands.
    """
    agent = member.name
    for env in member.environments:
        ident = names.identity_name(agent, env)
        yield env, "IAM role, Vault role and entity", ident, ("name",)
        yield env, "Vault policy", ident, ("name",)
        yield env, "Vault policy", names.login_policy_name(agent, env), ("name",)
        yield env, "Vault policy", names.mint_policy_name(agent, env), ("name",)
        for i, (database, access) in enumerate(member.databases):
            yield env, "Vault database role", names.database_role_name(agent, env, database, access), \
                ("permissions", "databases", i, "database")
        filled = dict(member.common_names or ()).get(env)
        if filled is not None:
            yield env, "certificate common name", filled, ("authentication", "certificate_common_name")
        else:
            yield env, "certificate common name", names.default_common_name(agent, env), ("name",)


# Bits of each bitmap AGT007 marks derived names in (4 x 2 MiB): a fleet of 100,000 agents derives ~1.5 million
# names; with two independent hashes, under 1% of them are compared exactly without being held twice.
_SEEN_BITS = 1 << 24


def _bits(key: tuple[str, str, str]) -> tuple[int, int]:
    return hash(key) % _SEEN_BITS, hash((key, "second")) % _SEEN_BITS


def _check_unique_derived_names(rule: FleetRule, members: list[FleetMember],
                                _environments: Mapping[str, EnvironmentConfig]) -> Iterator[Finding]:
    # Two passes over the summaries instead of a table of every derived name (~1.5 million strings for 100,000
    # agents): the first marks each name's two hashes in `seen` and, met again, in `again`; the second keeps
    # the names with both hashes in `again`, a superset of the names held twice, and compares those for real.
    seen = (bytearray(_SEEN_BITS // 8), bytearray(_SEEN_BITS // 8))
    again = (bytearray(_SEEN_BITS // 8), bytearray(_SEEN_BITS // 8))
    for member in members:
        for env, namespace, name, _ in derived_names(member):
            for bit, marked, twice in zip(_bits((env, namespace, name)), seen, again, strict=True):
                byte, mask = bit >> 3, 1 << (bit & 7)
                if marked[byte] & mask:
                    twice[byte] |= mask
                marked[byte] |= mask
    holders: dict[tuple[str, str, str], list[tuple[FleetMember, tuple]]] = {}
    for member in members:
        for env, namespace, name, path in derived_names(member):
            first, second = _bits((env, namespace, name))
            if again[0][first >> 3] & (1 << (first & 7)) and again[1][second >> 3] & (1 << (second & 7)):
                holders.setdefault((env, namespace, name), []).append((member, path))
    reported: set[tuple[str, tuple, str]] = set()
    collisions = sorted(((key, owners) for key, owners in holders.items() if len(owners) > 1), key=lambda i: i[0])
    for (env, namespace, name), owners in collisions:
        agents = {member.name for member, _ in owners}
        if len(agents) < 2:
            continue  # one agent (or AGT001's duplicate names)
        for member, path in owners:
            others = ", ".join(sorted(f"{o.name} ({o.file})" for o, _ in owners if o.name != member.name))
            key = (member.file, path, namespace)
            if key in reported:
                continue
            reported.add(key)
            yield member.finding(rule.id, path, f"{namespace} {name!r} in {env} is also derived for {others}; the "
                                 "two identities would be one object there (rename one agent or change the "
                                 "certificate common name)", rule.severity)


def _check_expiry_horizon(rule: Rule, ctx: SpecContext) -> Iterator[Finding]:
    spec = ctx.loaded.spec
    if spec.status is Status.REVOKED:
        return
    limits = sorted((env.guardrails.max_expiry_days, env.name) for env in ctx.deployed())
    if not limits:
        return
    days, env = limits[0]
    if (spec.expires - ctx.today).days > days:
        latest = ctx.today + dt.timedelta(days=days)
        yield ctx.finding(rule, ("expires",), f"expires {spec.expires.isoformat()} is more than {days} days ahead "
                                              f"({env}'s guardrails.max_expiry_days); the sponsor re-approves agents "
                                              f"at least that often: {latest.isoformat()} at the latest")


def _check_derived_names(rule: Rule, ctx: SpecContext) -> Iterator[Finding]:
    spec = ctx.loaded.spec
    problems: dict[tuple[tuple, str], list[str]] = {}  # (path, what) -> "env (detail)"
    for env in spec.environments:
        ident = names.identity_name(spec.name, env)
        if not IAM_NAME.match(ident):
            problems.setdefault((("name",), "IAM role name exceeds 64 characters"), []).append(
                f"{env} ({ident!r}, {len(ident)})")
        if not VAULT_NAME.match(ident):
            problems.setdefault((("name",), "Vault role/policy/entity name is invalid"), []).append(
                f"{env} ({ident!r})")
        env_config = ctx.environments.get(env)
        template = spec.authentication.certificate_common_name
        path: tuple[str, ...]
        if template is not None and env_config is not None:
            common_name, path = fill(template, spec, env_config), ("authentication", "certificate_common_name")
        else:
            common_name, path = names.default_common_name(spec.name, env), ("name",)
        if len(common_name) > CN_MAX or any(len(label) > DNS_LABEL_MAX for label in common_name.split(".")):
            problems.setdefault((path, "certificate common name exceeds the 64-character X.509 limit"), []).append(
                f"{env} ({common_name!r}, {len(common_name)})")
    for (path, what), where in problems.items():
        fix = "shorten the agent name" if path == ("name",) else "shorten the template"
        yield ctx.finding(rule, path, f"{what} in {', '.join(where)}; {fix}")
    if not SESSION_NAME.match(spec.name):
        yield ctx.finding(rule, ("name",), f"agent name {spec.name!r} cannot be an STS source identity "
                                           "([\\w+=,.@-], 2-64 chars)")


def _check_known_environments(rule: Rule, ctx: SpecContext) -> Iterator[Finding]:
    known = ", ".join(sorted(ctx.environments)) or "none"
    for i, env in enumerate(ctx.loaded.spec.environments):
        if env not in ctx.environments:
            yield ctx.finding(rule, ("environments", i), f"environment {env!r} has no stack config "
                                                         f"(no Pulumi.<stack>.yaml declares `name: {env}`); "
                                                         f"known environments: {known}")


def _check_not_expired(rule: Rule, ctx: SpecContext) -> Iterator[Finding]:
    # A revoked identity is disabled everywhere, so its date no longer matters: revoking is the documented
    # alternative to re-approval, and must not block every other agent's plan once the date passes.
    expires = ctx.loaded.spec.expires
    if expires < ctx.today and ctx.loaded.spec.status is not Status.REVOKED:
        yield ctx.finding(rule, ("expires",), f"identity expired on {expires.isoformat()}; the sponsor must "
                                              "re-approve it with a new date (or set status: revoked)")


def _check_expiring_soon(rule: Rule, ctx: SpecContext) -> Iterator[Finding]:
    expires = ctx.loaded.spec.expires
    days = (expires - ctx.today).days
    if 0 <= days <= EXPIRY_WARNING_DAYS and ctx.loaded.spec.status is not Status.REVOKED:
        when = "today" if days == 0 else f"in {days} day(s)"
        yield ctx.finding(rule, ("expires",), f"identity expires {when} ({expires.isoformat()}); ask "
                                              f"{ctx.loaded.spec.owner.sponsor} to re-approve it")


def _check_file_name(rule: Rule, ctx: SpecContext) -> Iterator[Finding]:
    stem = PurePath(ctx.loaded.file).stem
    if stem != ctx.loaded.spec.name:
        yield ctx.finding(rule, ("name",), f"file is named {stem!r} but declares agent {ctx.loaded.spec.name!r}; "
                                           f"rename it to {ctx.loaded.spec.name}.yaml")


UNIQUE_DERIVED_NAMES = FleetRule(
    id="AGT007", severity=Severity.ERROR, title="Every derived name unique across the fleet",
    rationale="Two agents whose policies, roles, entity names or certificate names coincide (`ticket-triage-login` "
              "and ticket-triage's login policy) would share one object: one could log in or act as the other.",
    check=_check_unique_derived_names)

EXPIRY_HORIZON = Rule(
    id="AGT008", severity=Severity.ERROR, title="Expiry within the environment's horizon",
    rationale="An expiry years ahead is no expiry: sponsors re-approve agents at least every "
              "`guardrails.max_expiry_days` (default 365) of each environment they are deployed to.",
    check=_check_expiry_horizon)

UNIQUE_NAMES = FleetRule(
    id="AGT001", severity=Severity.ERROR, title="Agent names unique across all specs",
    rationale="The name is the identity: two specs with one name would share a role, a policy and an audit trail.",
    check=_check_unique_names)

DERIVED_NAMES = Rule(
    id="AGT002", severity=Severity.ERROR, title="Derived names fit every target system",
    rationale="IAM role names, STS source identities, Vault names and certificate CNs have hard limits; "
              "a name that does not fit fails mid-deployment.",
    check=_check_derived_names)

KNOWN_ENVIRONMENTS = Rule(
    id="AGT003", severity=Severity.ERROR, title="Every environment has a stack config",
    rationale="An agent can only exist where an environment (account, Vault, log routing) is configured.",
    check=_check_known_environments)

NOT_EXPIRED = Rule(
    id="AGT004", severity=Severity.ERROR, title="Expired identities are refused",
    rationale="Agent identities are time-boxed; after expiry a human sponsor must re-approve them.",
    check=_check_not_expired)

EXPIRING_SOON = Rule(
    id="AGT005", severity=Severity.WARNING, title="Identity expires within 30 days",
    rationale="Warn the sponsor before the identity is refused, so re-approval is not an outage.",
    check=_check_expiring_soon)

FILE_NAME_MATCHES = Rule(
    id="AGT006", severity=Severity.WARNING, title="File name matches the agent name",
    rationale="Reviewers and `git log` find an agent by its file; a mismatch hides renames.",
    check=_check_file_name)
