"""Environment-wide changes: boundaries, database connections, mounts, log routing, audit device, trust.

Two ways to the same changes (`tests/diff/test_full_plans.py` checks they agree):
- **full**, for an environment whose stack config changed: every spec is loaded anyway (each agent of the
  stack may change), so the `PlatformPlan` of both revisions is compiled and compared field by field.
- **incremental**, for an environment whose stack config did not change but whose class membership,
  class actions or database grants did: the changed specs' before/after contributions decide the change,
  and only the question "does an unchanged spec of this class in this environment grant action X" goes to
  the rest of the repository, as a `git grep -F` prefilter whose few hits are parsed to confirm. Unchanged
  specs are identical at both revisions, so what they contribute cancels out. Limitation: a ceiling over
  the 6,144-character managed-policy limit is compacted to verb wildcards from the whole union
  (`agentiam.plan.boundary`); the incremental path reports the union's change, not the compacted list. A
  grep miss (an action written with YAML escapes) can only over-report a ceiling change, never hide one.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from agentiam.diff import risk
from agentiam.diff.gitsource import GitRepo
from agentiam.diff.model import Change, Direction, Op, RiskLabel, System
from agentiam.environment.model import EnvironmentConfig, Quotas
from agentiam.inputs.references import Certificate, ReferencedFile
from agentiam.iam import catalogue
from agentiam.plan.boundary import ACCOUNTS_SID, CEILING_SID
from agentiam.plan.build import Contribution, contribution
from agentiam.plan import coverage
from agentiam.plan.coverage import derived, each, handled, other
from agentiam.plan.model import (AgentCaPlan, AuditPlan, BoundaryPlan, CertificatePlan, DatabaseConnectionPlan,
                                 EgressAllowListPlan,
                                 ExpectedMountPlan, LogRoutingPlan, MountPlan, PlatformPlan, RateLimitPlan,
                                 VaultServerPlan)
from agentiam.iam.risk import boundary_denied_actions
from agentiam.spec.types import format_duration
from agentiam.spec.validate import LoadedSpec, load_spec_bytes



@dataclass(frozen=True)
class EnvironmentSide:
    """One revision of one environment: its config and, when compiled in full, its platform plan."""

    config: EnvironmentConfig
    platform: PlatformPlan | None = None


_unique = risk.unique_labels


# --------------------------------------------------------------------------------------------------------
# Boundaries


def ceiling(boundary: BoundaryPlan | None) -> set[str]:
    """Actions the class ceiling allows (after compaction, as the policy says)."""
    for statement in (boundary.policy.get("Statement", []) if boundary else []):
        if statement.get("Sid") == CEILING_SID:
            return set(statement["Action"])
    return set()


def allowed_accounts(boundary: BoundaryPlan | None) -> set[str]:
    """Accounts the class boundary leaves reachable (its account deny statement's exceptions)."""
    for statement in (boundary.policy.get("Statement", []) if boundary else []):
        if statement.get("Sid") == ACCOUNTS_SID:
            return set(statement["Condition"]["StringNotEqualsIfExists"]["aws:ResourceAccount"])
    return set()


def _denied(action: str) -> bool:
    """Whether the boundary's deny statement (same in every class) covers the concrete action."""
    name = action.lower()
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in boundary_denied_actions())


def boundary_action_changes(function: str, added: Iterable[str], removed: Iterable[str]) -> list[Change]:
    """Actions added to / removed from the class ceiling; additions carry cloudsplaining's labels."""
    changes = []
    for action in sorted(added):
        concrete = catalogue.expand(action)
        if concrete and all(_denied(i.name) for i in concrete):
            changes.append(Change(System.BOUNDARY, Op.ADDED, f"{function}: {action}", Direction.NEUTRAL,
                                  after="denied by the boundary's own deny statement"))
            continue
        labels = risk.action_risks(concrete) + [risk.wildcard_action(action, len(concrete))]
        levels = risk.ordered_levels(level for i in concrete for level in i.access_levels)
        changes.append(Change(System.BOUNDARY, Op.ADDED, f"{function}: {action}", Direction.WIDER,
                              access_level=", ".join(levels), risks=_unique(labels)))
    for action in sorted(removed):
        levels = risk.ordered_levels(catalogue.access_levels(action))
        changes.append(Change(System.BOUNDARY, Op.REMOVED, f"{function}: {action}", Direction.NARROWER,
                              access_level=", ".join(levels)))
    return changes


def boundary_account_changes(function: str, added: Iterable[str], removed: Iterable[str]) -> list[Change]:
    """Other accounts a class's boundary lets its agents reach (declared by their specs' `cross_account`)."""
    return ([Change(System.BOUNDARY, Op.ADDED, f"{function}: account {a}", Direction.WIDER,
                    risks=(risk.CROSS_ACCOUNT.label("high", f"every {function} agent's boundary now allows resources "
                                                            f"of account {a}"),)) for a in sorted(added)]
            + [Change(System.BOUNDARY, Op.REMOVED, f"{function}: account {a}", Direction.NARROWER)
               for a in sorted(removed)])


def boundary_existence(function: str, before: bool, after: bool) -> list[Change]:
    """A class gaining its first agent (a new boundary) or losing its last one in the environment."""
    if before == after:
        return []
    if after:
        return [Change(System.BOUNDARY, Op.ADDED, f"{function} boundary", Direction.NEUTRAL,
                       after=f"first {function} agent in the environment")]
    return [Change(System.BOUNDARY, Op.REMOVED, f"{function} boundary", Direction.NEUTRAL,
                   before=f"no {function} agent left in the environment")]


def _boundary_changes(old: list[BoundaryPlan], new: list[BoundaryPlan], own: set[str]) -> list[Change]:
    """Class ceilings, allowed accounts and deny statements; `own`: the environment's account id(s) at both sides."""
    before = {b.function: b for b in old}
    after = {b.function: b for b in new}
    changes: list[Change] = []
    for function in sorted(set(before) | set(after)):
        was, now = before.get(function), after.get(function)
        changes += boundary_existence(function, was is not None, now is not None)
        changes += boundary_action_changes(function, ceiling(now) - ceiling(was), ceiling(was) - ceiling(now))
        # The environment's own account is in every boundary; only the declared others are changes of power.
        before_accounts, after_accounts = allowed_accounts(was) - own, allowed_accounts(now) - own
        changes += boundary_account_changes(function, after_accounts - before_accounts,
                                            before_accounts - after_accounts)
        if was is None or now is None:
            continue
        described = (CEILING_SID, ACCOUNTS_SID)
        others = ({s.get("Sid"): s for s in was.policy["Statement"] if s.get("Sid") not in described},
                  {s.get("Sid"): s for s in now.policy["Statement"] if s.get("Sid") not in described})
        for sid in sorted(set(others[0]) | set(others[1]), key=str):
            a, b = others[0].get(sid), others[1].get(sid)
            if a != b:  # the deny statements: a change there moves the class's floor of protection
                changes.append(Change(System.BOUNDARY, Op.CHANGED, f"{function}: statement {sid}", Direction.NEUTRAL,
                                      before=_compact(a), after=_compact(b)))
        if was.policy_arn != now.policy_arn:
            changes.append(Change(System.BOUNDARY, Op.CHANGED, f"{function}: policy ARN", Direction.NEUTRAL,
                                  before=was.policy_arn, after=now.policy_arn))
    return changes


def _compact(value: Any) -> str | None:
    return None if value is None else json.dumps(value, sort_keys=True, separators=(",", ":"))


# --------------------------------------------------------------------------------------------------------
# Database connections


def _host(url: str) -> str:
    """`postgresql://{{username}}:{{password}}@db.internal:5432/x` -> `db.internal:5432` (never credentials)."""
    return urlsplit(url).netloc.rsplit("@", 1)[-1]


def allowed_role_changes(database: str, added: Iterable[str], removed: Iterable[str]) -> list[Change]:
    """Vault database roles allowed to draw credentials on a connection."""
    return ([Change(System.CONNECTION, Op.ADDED, f"{database}: allowed role {r}", Direction.WIDER)
             for r in sorted(added)]
            + [Change(System.CONNECTION, Op.REMOVED, f"{database}: allowed role {r}", Direction.NARROWER)
               for r in sorted(removed)])


def _connection_changes(old: list[DatabaseConnectionPlan], new: list[DatabaseConnectionPlan]) -> list[Change]:
    before, after = {c.name: c for c in old}, {c.name: c for c in new}
    changes: list[Change] = []
    for name in sorted(set(before) | set(after)):
        was, now = before.get(name), after.get(name)
        if was is None or now is None:
            present = now or was
            assert present is not None
            changes.append(Change(System.CONNECTION, Op.ADDED if now else Op.REMOVED, name,
                                  Direction.WIDER if now else Direction.NARROWER,
                                  before=None if now else _host(present.connection_url),
                                  after=_host(present.connection_url) if now else None))
            continue
        if _host(was.connection_url) != _host(now.connection_url):
            label = risk.TRUST_CHANGED.label("medium", f"Vault sends {name}'s management credentials to "
                                                            f"{_host(now.connection_url)}")
            changes.append(Change(System.CONNECTION, Op.CHANGED, f"{name}: host", Direction.WIDER,
                                  before=_host(was.connection_url), after=_host(now.connection_url), risks=(label,)))
        elif was.connection_url != now.connection_url:
            changes.append(Change(System.CONNECTION, Op.CHANGED, f"{name}: connection URL", Direction.NEUTRAL,
                                  before=was.connection_url, after=now.connection_url))
        for attr in ("username", "plugin", "mount", "password_secret", "verify_connection"):
            if getattr(was, attr) != getattr(now, attr):
                changes.append(Change(System.CONNECTION, Op.CHANGED, f"{name}: {attr}", Direction.NEUTRAL,
                                      before=str(getattr(was, attr)), after=str(getattr(now, attr))))
        changes += allowed_role_changes(name, set(now.allowed_roles) - set(was.allowed_roles),
                                        set(was.allowed_roles) - set(now.allowed_roles))
    return changes


# --------------------------------------------------------------------------------------------------------
# Mounts, log routing, audit device, trust, account


def _mount_changes(old: PlatformPlan, new: PlatformPlan) -> list[Change]:
    before = {(m.kind, m.type): m for m in old.mounts}
    after = {(m.kind, m.type): m for m in new.mounts}
    changes: list[Change] = []
    for key in sorted(set(before) | set(after)):
        was, now = before.get(key), after.get(key)
        subject = f"{key[0]} {key[1]}"
        if was is None or now is None:
            changes.append(Change(System.MOUNT, Op.ADDED if now else Op.REMOVED, subject, Direction.NEUTRAL,
                                  before=was.path if was else None, after=now.path if now else None))
            continue
        if was.path != now.path:
            changes.append(Change(System.MOUNT, Op.MOVED, f"{subject} path", Direction.NEUTRAL, before=was.path,
                                  after=now.path))
        for attr in ("max_lease_ttl", "default_lease_ttl"):
            a, b = getattr(was, attr), getattr(now, attr)
            if a != b:
                label = risk.longer_lifetime(f"{now.path} {attr}", a, b, format_duration(a), format_duration(b))
                changes.append(Change(System.MOUNT, Op.WIDENED if b > a else Op.NARROWED, f"{now.path} {attr}",
                                      Direction.WIDER if b > a else Direction.NARROWER, before=format_duration(a),
                                      after=format_duration(b), risks=_unique([label])))
        changes += _login_guard_changes(was, now)
    return changes


def _rate(limit: RateLimitPlan | None) -> float:
    return float("inf") if limit is None else limit.rate / limit.interval


def _rate_text(limit: RateLimitPlan | None) -> str:
    return "none" if limit is None else f"{limit.rate:g}/{format_duration(limit.interval)} per client address"


def _login_guard_changes(was: MountPlan, now: MountPlan) -> list[Change]:
    """A login mount's brute-force guards: Vault's user lockout and the per-address login rate limit."""
    changes: list[Change] = []
    if was.user_lockout_disable != now.user_lockout_disable:
        # Lockout counts failures per role id: on, anyone holding an agent's role id can lock it out (docs/vault.md:
        # brute force and lockout); off, guessing is slowed by the login rate limit and single-use secret ids.
        changes.append(Change(System.MOUNT, Op.CHANGED, f"{now.path} user lockout", Direction.NEUTRAL,
                              before="off" if was.user_lockout_disable else "on",
                              after="off" if now.user_lockout_disable else "on"))
    if was.login_rate_limit != now.login_rate_limit:
        looser = _rate(now.login_rate_limit) > _rate(was.login_rate_limit)
        changes.append(Change(System.MOUNT, Op.LOOSENED if looser else Op.TIGHTENED, f"{now.path} login rate limit",
                              Direction.WIDER if looser else Direction.NARROWER,
                              before=_rate_text(was.login_rate_limit), after=_rate_text(now.login_rate_limit),
                              risks=(risk.GUARDRAIL_LOOSENED.label("medium", "login guessing is slowed less"),)
                              if looser else ()))
    return changes


_LOG_ROUTE_FIELDS = {  # field -> what moving it does (each one can make agent activity go unseen)
    "agent_log_group": "agent activity is written to another log group",
    "trail_log_group": "agent activity is read from another CloudTrail log group",
    "subscription_filter_pattern": "another set of CloudTrail events is routed as agent activity",
    "destination_arn": "agent activity is delivered to another destination",
    "destination_role_arn": "the destination is written with another role",
    "denied_metric_filter_pattern": "another set of events counts as an agent access denial",
    "alarm_topic_arn": "access-denied alarms notify another topic",
}


def _logging_changes(old: PlatformPlan, new: PlatformPlan) -> list[Change]:
    was, now = old.log_routing, new.log_routing
    changes: list[Change] = []
    if was.retention_days != now.retention_days:
        shorter = now.retention_days < was.retention_days
        labels = [risk.AUDIT_WEAKENED.label("high" if now.retention_days < 90 else "medium",
                            f"agent activity kept {now.retention_days} days instead of {was.retention_days} "
                            "(PCI DSS 10.5.1: 12 months, 3 immediately available)")] if shorter else []
        changes.append(Change(System.LOGGING, Op.SHORTENED if shorter else Op.LENGTHENED, "retention_days",
                              Direction.WIDER if shorter else Direction.NARROWER, before=str(was.retention_days),
                              after=str(now.retention_days), risks=tuple(labels)))
    for attr, effect in _LOG_ROUTE_FIELDS.items():
        a, b = getattr(was, attr), getattr(now, attr)
        if a != b:
            severity = "high" if attr in ("destination_arn", "trail_log_group", "agent_log_group") else "medium"
            changes.append(Change(System.LOGGING, Op.CHANGED, attr, Direction.WIDER, before=a, after=b,
                                  risks=(risk.AUDIT_WEAKENED.label(severity, effect),)))
    audit_was, audit_now = was.audit, now.audit
    if audit_was.path != audit_now.path:
        changes.append(Change(System.AUDIT, Op.MOVED, "audit device path", Direction.WIDER, before=audit_was.path,
                              after=audit_now.path,
                              risks=(risk.AUDIT_WEAKENED.label(
                                  "high", "Vault audit lines go to another device; consumers and audit-hash look-ups "
                                          "of the old one see nothing"),)))
    if audit_was.options.get("file_path") != audit_now.options.get("file_path"):
        changes.append(Change(System.AUDIT, Op.MOVED, "audit file_path", Direction.WIDER,
                              before=audit_was.options.get("file_path"), after=audit_now.options.get("file_path"),
                              risks=(risk.AUDIT_WEAKENED.label("high", "Vault writes audit lines to another "
                                               "file; log shipping must follow"),)))
    other_options = {k for k in set(audit_was.options) | set(audit_now.options) if k != "file_path"}
    for key in sorted(other_options):
        if audit_was.options.get(key) != audit_now.options.get(key):
            changes.append(Change(System.AUDIT, Op.CHANGED, f"audit option {key}", Direction.WIDER,
                                  before=audit_was.options.get(key), after=audit_now.options.get(key),
                                  risks=(risk.AUDIT_WEAKENED.label("medium", f"audit option {key} changed"),)))
    if audit_was.api_managed != audit_now.api_managed:
        # OpenBao >= 2.3.2 refuses API-managed devices (docs/facts.md#vault-audit); one managed through the API can
        # also be disabled through it by any token with sudo on sys/audit.
        to_api = audit_now.api_managed
        direction = Direction.WIDER if to_api else Direction.NARROWER
        changes.append(Change(System.AUDIT, Op.CHANGED, "audit api_managed", direction,
                              before=str(audit_was.api_managed).lower(), after=str(audit_now.api_managed).lower(),
                              risks=(risk.AUDIT_WEAKENED.label("low", "the audit device can be disabled "
                                               "through the API (sys/audit)"),) if to_api else ()))
    return changes


AGENT_CA_FIELD = "vault.agent_ca_pem_file"


def _ca_text(ca: ReferencedFile, certificates: Iterable[Certificate]) -> str:
    listed = "; ".join(f"{c.subject} (SHA-256 {c.sha256_fingerprint}, until {c.not_after[:10]})" for c in certificates)
    return f"{ca.path} (sha256 {ca.sha256}): {listed or 'no certificate'}"


def agent_ca_changes(old: EnvironmentConfig, new: EnvironmentConfig) -> list[Change]:
    """The agent CA compared by what it trusts: the certificates' SHA-256 fingerprints, read at both revisions.

    A certificate added is a high-risk trust change whatever the file is called (whoever holds its key can
    become any agent of the environment, first factor); one removed only narrows; the same certificates in
    other bytes or another file are shown, neutral. Compared from the configs, so a PEM changed under an
    unchanged stack config is seen too."""
    was, now = old.referenced_file(AGENT_CA_FIELD), new.referenced_file(AGENT_CA_FIELD)
    if (was.path, was.sha256) == (now.path, now.sha256):
        return []
    before = {c.sha256_fingerprint: c for c in was.certificates}
    after = {c.sha256_fingerprint: c for c in now.certificates}
    added = [c for f, c in after.items() if f not in before]
    removed = [c for f, c in before.items() if f not in after]
    subject = f"agent CA ({AGENT_CA_FIELD})"
    if added:
        trusted = ", ".join(f"{c.subject} (SHA-256 {c.sha256_fingerprint})" for c in added)
        return [Change(System.TRUST, Op.CHANGED, subject, Direction.WIDER, before=_ca_text(was, was.certificates),
                       after=_ca_text(now, now.certificates), risks=(risk.TRUST_CHANGED.label(
                           "high", f"client certificates signed by {trusted} now log agents in (first factor): "
                           "whoever holds that CA's key can act as any agent of the environment"),))]
    if removed:
        return [Change(System.TRUST, Op.NARROWED, subject, Direction.NARROWER, before=_ca_text(was, was.certificates),
                       after=_ca_text(now, now.certificates))]
    return [Change(System.TRUST, Op.CHANGED, subject, Direction.NEUTRAL, before=_ca_text(was, ()),
                   after=_ca_text(now, ()) + " (same certificates)")]


def _principal_risks(config: EnvironmentConfig) -> tuple[RiskLabel, ...]:
    """What trusting the environment's secrets-engine principal means, and whether it is another account's."""
    principal = config.aws_secrets_engine_principal_arn
    labels = [risk.TRUST_CHANGED.label("high", f"every agent role of the environment trusts {principal}: it can "
                                               "mint every agent's AWS credentials")]
    account = principal.split(":")[4]
    if account != config.account_id:
        labels.append(risk.CROSS_ACCOUNT.label("high", f"the trusted principal is in account {account}, not the "
                                                       f"environment's {config.account_id} (reason given: "
                                                       f"{config.aws_secrets_engine_principal_cross_account_reason})"))
    return tuple(labels)


def new_environment_changes(config: EnvironmentConfig, plan: PlatformPlan) -> list[Change]:
    """A new environment, reviewed like a new agent plus its platform: each trust root and control, labelled."""
    log = plan.log_routing
    ca = config.referenced_file(AGENT_CA_FIELD)
    changes = [
        Change(System.ENVIRONMENT, Op.ADDED, config.name, Direction.WIDER,
               after=f"account {config.account_id}, region {config.region}",
               risks=(risk.NEW_ENVIRONMENT.label("high", f"a new environment in account {config.account_id}: new "
                                                         "trusted principal, agent CA, audit device and log "
                                                         "routing"),)),
        Change(System.TRUST, Op.ADDED, "trusted principal (aws_secrets_engine_principal_arn)", Direction.WIDER,
               after=config.aws_secrets_engine_principal_arn, risks=_principal_risks(config)),
        Change(System.TRUST, Op.ADDED, f"agent CA ({AGENT_CA_FIELD})", Direction.WIDER,
               after=_ca_text(ca, ca.certificates),
               risks=(risk.TRUST_CHANGED.label("high", "certificates this CA signs log agents in (first "
                                                       "factor)"),)),
        Change(System.AUDIT, Op.ADDED, "audit device", Direction.NEUTRAL,
               after=f"{log.audit.path}: {log.audit.options.get('file_path')} "
                     f"({'API-managed' if log.audit.api_managed else 'server config file'})",
               risks=(risk.AUDIT_WEAKENED.label("low", "the audit device can be disabled through the API "
                                                       "(sys/audit)"),) if log.audit.api_managed else ()),
        Change(System.LOGGING, Op.ADDED, "agent activity routing", Direction.NEUTRAL,
               after=f"{log.trail_log_group} -> {log.destination_arn}, kept {log.retention_days} days in "
                     f"{log.agent_log_group}",
               risks=(risk.AUDIT_WEAKENED.label("high" if log.retention_days < 90 else "medium",
                                                f"agent activity kept {log.retention_days} days (PCI DSS 10.5.1: "
                                                "12 months)"),) if log.retention_days < 365 else ()),
    ]
    egress = plan.egress_allow_list
    changes.append(Change(System.NETWORK, Op.ADDED, "egress allow-list enforcement", Direction.NEUTRAL,
                          after=risk.enforcement_text(egress.enforcement, egress.rule_group_name)))
    changes += [Change(System.MOUNT, Op.ADDED, f"{m.kind} {m.type}", Direction.NEUTRAL,
                       after=f"{m.path} (max lease {format_duration(m.max_lease_ttl)})") for m in plan.mounts]
    changes += _connection_changes([], plan.database_connections)
    changes += _boundary_changes([], plan.boundaries, {config.account_id})
    return changes


def _guardrail_changes(old: EnvironmentConfig, new: EnvironmentConfig) -> list[Change]:
    """The stack config's own guardrail limits, and the account quotas AGT048 counts against: loosening one is a
    widening for every later spec (a quota declared higher than AWS granted fails `pulumi up` part-way)."""
    was, now = old.guardrails, new.guardrails
    changes = _limit_changes("guardrails", was, now, ("max_expiry_days", "max_rate_per_second"))
    changes += _limit_changes("quotas", old.quotas, new.quotas, tuple(Quotas.model_fields), _QUOTA_HEADROOM_SHRINKS)
    for domain in sorted(set(was.internal_domains) - set(now.internal_domains)):
        changes.append(Change(System.ENVIRONMENT, Op.REMOVED, f"guardrails.internal_domains {domain}", Direction.WIDER,
                              risks=(risk.GUARDRAIL_LOOSENED.label("medium", f"other environments' agents may "
                                                                             f"name {domain} as egress"),)))
    for domain in sorted(set(now.internal_domains) - set(was.internal_domains)):
        changes.append(Change(System.ENVIRONMENT, Op.ADDED, f"guardrails.internal_domains {domain}",
                              Direction.NARROWER))
    return changes


# Quota fields that count what else the account holds: declaring fewer leaves more room for agents.
_QUOTA_HEADROOM_SHRINKS = ("iam_roles_outside_agentiam", "iam_customer_managed_policies_outside_agentiam")


def _limit_changes(prefix: str, was: Any, now: Any, attrs: tuple[str, ...],
                   looser_when_lower: tuple[str, ...] = ()) -> list[Change]:
    """Changes of numeric limits `prefix.<attr>`: a higher value is looser, except for `looser_when_lower`."""
    changes: list[Change] = []
    for attr in attrs:
        a, b = getattr(was, attr), getattr(now, attr)
        if a != b:
            looser = (b > a) != (attr in looser_when_lower)
            changes.append(Change(System.ENVIRONMENT, Op.LOOSENED if looser else Op.TIGHTENED, f"{prefix}.{attr}",
                                  Direction.WIDER if looser else Direction.NARROWER, before=f"{a:g}", after=f"{b:g}",
                                  risks=(risk.GUARDRAIL_LOOSENED.label("medium", f"{attr} {a:g} -> {b:g}"),)
                                  if looser else ()))
    return changes


def _trust_and_account(old: EnvironmentConfig, new: EnvironmentConfig, old_platform: PlatformPlan | None,
                       new_platform: PlatformPlan | None) -> list[Change]:
    changes: list[Change] = _guardrail_changes(old, new)
    if old.aws_secrets_engine_principal_arn != new.aws_secrets_engine_principal_arn:
        changes.append(Change(System.TRUST, Op.CHANGED, "trusted principal (aws_secrets_engine_principal_arn)",
                              Direction.WIDER, before=old.aws_secrets_engine_principal_arn,
                              after=new.aws_secrets_engine_principal_arn, risks=_principal_risks(new)))
    changes += agent_ca_changes(old, new)
    for attr, what in (("account_id", "AWS account"), ("region", "AWS region")):
        a, b = getattr(old, attr), getattr(new, attr)
        if a != b:
            changes.append(Change(System.ENVIRONMENT, Op.MOVED, what, Direction.NEUTRAL, before=a, after=b,
                                  risks=(risk.ENVIRONMENT_MOVED.label("high" if attr == "account_id" else
                                                   "medium", f"every agent role, boundary and log route is created "
                                                   f"in {b}; what exists in {a} is left to remove"),)))
    return changes


_NESTED = "a nested plan object: its fields are declared one by one"
_NAMES = "names agentiam derives from the environment"
# What the environment-wide handlers do with each platform field (see agentiam.plan.coverage); fields declared
# `other` are shown as an `other` change with their path.
COVERAGE = coverage.Coverage("diff (environment)", PlatformPlan, {
    PlatformPlan: {
        **each("vault_server agent_ca log_routing", handled(_NESTED)),
        "aws_secrets_engine_principal_arn": other("also a trust change from the stack config (_trust_and_account)"),
        "mounts": handled("_mount_changes, by path"),
        "expected_mounts": other("the mounts the stack config says exist"),
        "tags": other("tags on the environment-wide resources"),
        "boundaries": handled("_boundary_changes, by function class"),
        "database_connections": handled("_connection_changes, by name"),
        "egress_allow_list": handled(_NESTED)},
    # The allow-list's hosts are described per agent (each host an agent adds, labelled with what enforces it), the
    # same whichever path computes the diff; its settings come from the stack config and are described here.
    EgressAllowListPlan: {
        **each("hosts targets capacity_needed", handled("per agent: diff.describe._network_changes")),
        **each("enforcement capacity home_net rule_order", handled("_egress_changes")),
        **each("rule_group_name target_types", derived(_NAMES))},
    VaultServerPlan: {coverage.EVERY_FIELD: other("the server the stack config names")},
    ExpectedMountPlan: {coverage.EVERY_FIELD: other("part of expected_mounts")},
    MountPlan: {
        **each("kind type path", handled("_mount_changes: the mount's identity")),
        **each("max_lease_ttl default_lease_ttl", handled("_mount_changes: lease ceilings")),
        **each("user_lockout_disable login_rate_limit", handled("_mount_changes: login guards"))},
    RateLimitPlan: {coverage.EVERY_FIELD: handled("_mount_changes: the login rate limit")},
    AgentCaPlan: {coverage.EVERY_FIELD: handled("agent_ca_changes: file and certificates")},
    CertificatePlan: {coverage.EVERY_FIELD: handled("agent_ca_changes, by fingerprint")},
    BoundaryPlan: {
        "function": handled("_boundary_changes: existence per class"),
        "policy": handled("_boundary_changes: ceiling actions and accounts"),
        **each("policy_name policy_path policy_arn", derived(_NAMES))},
    DatabaseConnectionPlan: {
        **each("name plugin connection_url username password_secret verify_connection allowed_roles",
               handled("_connection_changes")),
        "mount": derived("the stack config's database mount (a mount change)")},
    LogRoutingPlan: {
        "retention_days": handled("_logging_changes"),
        **{name: handled(f"_logging_changes: {effect}") for name, effect in _LOG_ROUTE_FIELDS.items()},
        "audit": handled(_NESTED),
        **each("agent_role_pattern subscription_filter_name denied_metric_filter_name denied_metric_namespace "
               "denied_metric_name denied_alarm_name denied_alarm_period denied_alarm_threshold", other(_NAMES))},
    AuditPlan: {coverage.EVERY_FIELD: handled("_logging_changes: the audit device")},
})
_DESCRIBED, _DESCRIBED_OBJECTS = coverage.paths_of(COVERAGE, {coverage.Kind.HANDLED, coverage.Kind.DERIVED})


def _egress_changes(old: PlatformPlan, new: PlatformPlan) -> list[Change]:
    """The allow-list's enforcement and rule group settings (stack config `egress`)."""
    was, now = old.egress_allow_list, new.egress_allow_list
    changes: list[Change] = []
    if was.enforcement != now.enforcement:
        lost = now.enforcement == "none"
        changes.append(Change(System.NETWORK, Op.CHANGED, "egress allow-list enforcement",
                              Direction.WIDER if lost else Direction.NARROWER,
                              before=risk.enforcement_text(was.enforcement, was.rule_group_name),
                              after=risk.enforcement_text(now.enforcement, now.rule_group_name),
                              risks=(risk.NEW_EGRESS.label("medium", f"{len(now.hosts)} host(s) and every other "
                                                                     "destination: agentiam no longer provisions the "
                                                                     "allow-list rule group"),) if lost else ()))
    if now.enforcement != "network-firewall":
        return changes
    if was.capacity != now.capacity:
        changes.append(Change(System.NETWORK, Op.CHANGED, "egress rule group capacity", Direction.NEUTRAL,
                              before=str(was.capacity),
                              after=f"{now.capacity}: replaces {now.rule_group_name} (capacity is fixed at "
                                    "creation); the network team takes it out of the firewall policy first"))
    dropped, added = sorted(set(was.home_net) - set(now.home_net)), sorted(set(now.home_net) - set(was.home_net))
    if was.enforcement == now.enforcement and (dropped or added):
        changes.append(Change(System.NETWORK, Op.CHANGED, "egress rule group HOME_NET",
                              Direction.WIDER if dropped else Direction.NARROWER,
                              before=", ".join(was.home_net) or "the firewall's VPC",
                              after=", ".join(now.home_net) or "the firewall's VPC",
                              risks=(risk.NEW_EGRESS.label("medium", f"traffic from {', '.join(dropped)} is no longer "
                                                                     "inspected by the allow-list"),) if dropped
                              else ()))
    if was.rule_order != now.rule_order:
        changes.append(Change(System.NETWORK, Op.CHANGED, "egress rule group rule order", Direction.NEUTRAL,
                              before=was.rule_order, after=now.rule_order))
    return changes


def flatten(value: Any, prefix: str = "") -> dict[str, str]:
    """`{"a": {"b": 1}}` -> `{"a.b": "1"}`: dumped plan fields by dotted path, for the `other` changes."""
    if isinstance(value, dict):
        out: dict[str, str] = {}
        for key, inner in value.items():
            out.update(flatten(inner, f"{prefix}.{key}" if prefix else key))
        return out
    return {prefix: json.dumps(value, sort_keys=True)}


def _other_changes(old: PlatformPlan, new: PlatformPlan) -> list[Change]:
    """Platform fields no handler describes (names derived from the environment, tags): still shown."""
    a, b = flatten(old.model_dump(mode="json")), flatten(new.model_dump(mode="json"))
    return [Change(System.OTHER, Op.CHANGED, f"platform.{path}", Direction.NEUTRAL, before=a.get(path),
                   after=b.get(path))
            for path in sorted(set(a) | set(b)) if a.get(path) != b.get(path) and not path.startswith(_DESCRIBED)
            and path not in _DESCRIBED_OBJECTS]


def platform_changes(before: EnvironmentSide, after: EnvironmentSide) -> list[Change]:
    """Every environment-wide change between two fully compiled revisions of one environment."""
    old, new = before.platform, after.platform
    assert old is not None and new is not None
    return (_trust_and_account(before.config, after.config, old, new)
            + _boundary_changes(old.boundaries, new.boundaries,
                                {before.config.account_id, after.config.account_id})
            + _connection_changes(old.database_connections, new.database_connections) + _mount_changes(old, new)
            + _logging_changes(old, new) + _egress_changes(old, new) + _other_changes(old, new))


# --------------------------------------------------------------------------------------------------------
# Incremental: the changed specs' contributions plus a look-up of the unchanged rest


@dataclass
class Rest:
    """The unchanged specs, asked only what the incremental path needs, through `git grep` and a few parses."""

    repo: GitRepo
    commit: str
    prefix: str
    blobs: Mapping[str, str]  # unchanged path -> blob id (identical at both revisions)
    parsed: dict[str, LoadedSpec | None] = field(default_factory=dict)
    hits: dict[tuple[str, ...], list[str]] = field(default_factory=dict)  # one grep serves every environment
    lookups: int = 0  # `git grep` processes run

    def _load(self, paths: list[str]) -> list[LoadedSpec]:
        todo = [p for p in paths if p not in self.parsed]
        contents = self.repo.read_blobs(self.blobs[p] for p in todo)
        for path in todo:
            self.parsed[path] = load_spec_bytes(path, contents[self.blobs[path]])[0]
        return [s for s in (self.parsed[p] for p in paths) if s is not None]

    def any_member(self, env: EnvironmentConfig, function: str, action: str | None = None,
                   account: str | None = None) -> bool:
        """Whether an unchanged spec of class `function` deployed to `env` exists (and grants `action`, or declares
        `account`)."""
        needles = (function,) + tuple(n for n in (action, account) if n)
        if needles not in self.hits:
            self.lookups += 1
            self.hits[needles] = [p for p in self.repo.files_containing(self.commit, needles, self.prefix)
                                  if p in self.blobs]
        hits = self.hits[needles]
        for start in range(0, len(hits), 32):  # parse in small batches: the first confirming file ends it
            for loaded in self._load(hits[start:start + 32]):
                share = contribution(loaded, env)
                if share and share.function == function and (action is None or action in share.actions) \
                        and (account is None or account in share.accounts):
                    return True
        return False


def incremental_changes(env: EnvironmentConfig, before: list[Contribution], after: list[Contribution],
                        rest: Rest) -> list[Change]:
    """Boundary and allowed-role changes of `env` from the changed specs' contributions on both sides."""
    changes: list[Change] = []
    for function in sorted({c.function for c in before} | {c.function for c in after}):
        old = [c for c in before if c.function == function]
        new = [c for c in after if c.function == function]
        old_actions = set().union(*(c.actions for c in old)) if old else set()
        new_actions = set().union(*(c.actions for c in new)) if new else set()
        if bool(old) != bool(new) and rest.any_member(env, function):
            existed = exists = True
        else:
            existed, exists = bool(old), bool(new)
        changes += boundary_existence(function, existed, exists)
        added = sorted(a for a in new_actions - old_actions if not rest.any_member(env, function, a))
        removed = sorted(a for a in old_actions - new_actions if not rest.any_member(env, function, a))
        changes += boundary_action_changes(function, added, removed)
        old_accounts = set().union(*(c.accounts for c in old)) - {env.account_id} if old else set()
        new_accounts = set().union(*(c.accounts for c in new)) - {env.account_id} if new else set()
        changes += boundary_account_changes(
            function, sorted(a for a in new_accounts - old_accounts if not rest.any_member(env, function, account=a)),
            sorted(a for a in old_accounts - new_accounts if not rest.any_member(env, function, account=a)))
    # Role names carry the agent's name: an unchanged spec never holds the same role, so no look-up is needed.
    old_roles = {r for c in before for r in c.database_roles}
    new_roles = {r for c in after for r in c.database_roles}
    for database in sorted({d for d, _ in old_roles | new_roles}):
        changes += allowed_role_changes(database, {r for d, r in new_roles - old_roles if d == database},
                                        {r for d, r in old_roles - new_roles if d == database})
    return changes
