"""Risk labels on added permissions and the one-line verdict per agent x environment.

cloudsplaining's published sets name the AWS risks (privilege escalation, credentials exposure, data
exfiltration, resource exposure = the catalogue's "Permissions management" level, infrastructure
modification = any non-read level), with cloudsplaining's own severities. Our own labels judge the
change rather than the permission: a higher access level on a resource the agent already had, a
wildcard, a resource of another environment, a longer credential life.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from cloudsplaining.shared import constants as _cloudsplaining_constants

from agentiam.diff.model import SEVERITY_ORDER, Change, Direction, RiskLabel, Verdict
from agentiam.iam import catalogue
from agentiam.plan import risk as plan_risk

LEVEL_RANK = {level: rank for rank, level in enumerate(catalogue.ACCESS_LEVELS)}
MODIFYING_LEVELS = frozenset({"Write", "Tagging", "Permissions management"})
_TOKEN = re.compile(r"[a-z0-9]+")

# Stable label ids (README, section diff). Severity of our own labels: crossing environments and getting
# admin-level access where the agent could only read are what a reviewer must never miss.
PRIVILEGE_ESCALATION = "privilege-escalation"
CREDENTIALS_EXPOSURE = "credentials-exposure"
DATA_EXFILTRATION = "data-exfiltration"
RESOURCE_EXPOSURE = "resource-exposure"
INFRASTRUCTURE_MODIFICATION = "infrastructure-modification"
ACCESS_ESCALATION = "access-escalation"
WILDCARD = "wildcard"
CROSS_ENVIRONMENT = "cross-environment"
LONGER_LIFETIME = "longer-lifetime"
NEW_EGRESS = "new-egress"
TRUST_CHANGED = "trust-changed"  # who may assume the agent's role, or sign its login certificate, changed
REACTIVATED = "reactivated"  # a suspended or revoked agent gets every permission back at once
AUDIT_WEAKENED = "audit-weakened"  # agent activity kept shorter, routed elsewhere, or the audit device moved
ENVIRONMENT_MOVED = "environment-moved"  # the environment's account or region changed
CODE_CHANGED = "code-changed"  # agentiam's own code (or its build) changes what deploys, or its effect was not compiled
GATE_CHANGED = "gate-changed"  # the review gate itself (CI workflows, CODEOWNERS) changed
_IDENTITY_SERVICES = frozenset(d.split(":")[0] for d in plan_risk.DENIED_SERVICES) | {"sts"}


def _cloudsplaining(name: str) -> str:
    return _cloudsplaining_constants.ISSUE_SEVERITY.get(name, "medium")


def ordered_levels(levels: Iterable[str]) -> tuple[str, ...]:
    """Access levels in catalogue order (List < Read < Tagging < Write < Permissions management)."""
    return tuple(sorted(set(levels), key=lambda lv: LEVEL_RANK.get(lv, len(LEVEL_RANK))))


def top_level(levels: Iterable[str]) -> str | None:
    """The highest access level among `levels`."""
    ordered = ordered_levels(levels)
    return ordered[-1] if ordered else None


def _escalation(new: dict[str, str], reached: frozenset[str]) -> RiskLabel | None:
    """cloudsplaining's escalation methods: complete ones the change makes reachable, else a step of one."""
    complete = sorted(name for name, combo in _cloudsplaining_constants.PRIVILEGE_ESCALATION_METHODS.items()
                      if set(combo) <= reached and any(a in new for a in combo))
    if complete:
        return RiskLabel(PRIVILEGE_ESCALATION, _cloudsplaining("PrivilegeEscalation"),
                         f"completes {_short(complete)} (cloudsplaining privilege-escalation methods)")
    steps = sorted(new[a] for a in new if a in plan_risk.privilege_escalation_actions())
    if not steps:
        return None
    admin = sorted(new[a] for a in new if a.split(":")[0] in _IDENTITY_SERVICES)
    if admin:  # identity administration: one step is enough to be worth a stop (the boundary denies it too)
        return RiskLabel(PRIVILEGE_ESCALATION, "high", f"{_short(admin)} administers identities: a step of a "
                                                       "privilege-escalation method (cloudsplaining)")
    return RiskLabel(PRIVILEGE_ESCALATION, "medium", f"{_short(steps)} is one step of a privilege-escalation "
                                                     "method (cloudsplaining)")


def action_risks(concrete: Iterable[catalogue.ActionInfo], reached: Iterable[str] = ()) -> list[RiskLabel]:
    """cloudsplaining's labels for the concrete actions a grant adds; `reached`: every action the agent has after."""
    infos = list(concrete)
    new = {i.name.lower(): i.name for i in infos}
    labels: list[RiskLabel] = []
    escalation = _escalation(new, frozenset(a.lower() for a in reached) | frozenset(new))
    if escalation:
        labels.append(escalation)
    for label, cs_name, risky, what in (
            (CREDENTIALS_EXPOSURE, "CredentialsExposure", plan_risk.credential_exposure_actions(),
             "returns credentials"),
            (DATA_EXFILTRATION, "DataExfiltration", plan_risk.data_exfiltration_actions(),
             "reads data or secrets out")):
        found = sorted(new[n] for n in new if n in risky)
        if found:
            labels.append(RiskLabel(label, _cloudsplaining(cs_name), f"{_short(found)} {what} (cloudsplaining)"))
    exposure = sorted(i.name for i in infos if i.access_level == "Permissions management")
    if exposure:
        labels.append(RiskLabel(RESOURCE_EXPOSURE, _cloudsplaining("ResourceExposure"),
                                f"{_short(exposure)} can change who may access resources (Permissions management)"))
    modifying = sorted(i.name for i in infos if i.access_level in MODIFYING_LEVELS)
    if modifying:
        labels.append(RiskLabel(INFRASTRUCTURE_MODIFICATION, _cloudsplaining("InfrastructureModification"),
                                f"{_short(modifying)} modifies resources"))
    return labels


def _short(names: list[str], limit: int = 3) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def access_escalation(resource: str, before_level: str | None, after_level: str | None) -> RiskLabel | None:
    """Read -> Write (or any higher level) on a resource the agent could already reach."""
    if before_level is None or after_level is None:
        return None
    if LEVEL_RANK.get(after_level, 0) <= LEVEL_RANK.get(before_level, 0):
        return None
    severity = "high" if after_level == "Permissions management" else "medium"
    return RiskLabel(ACCESS_ESCALATION, severity, f"{before_level} -> {after_level} on {resource}")


def wildcard_action(pattern: str, count: int) -> RiskLabel | None:
    """An action pattern with `*` or `?`: the reviewer approves everything it matches, now and later."""
    if "*" not in pattern and "?" not in pattern:
        return None
    return RiskLabel(WILDCARD, "medium", f"{pattern} reaches {count} actions today, and any the service adds")


def wildcard_resource(resource: str) -> RiskLabel | None:
    """A resource with `*` in it (outside the `/*` object suffix of one named bucket or folder)."""
    if resource == "*":
        return RiskLabel(WILDCARD, "high", "Resource \"*\": every resource of the account")
    stem = resource[:-2] if resource.endswith("/*") else resource
    if "*" in stem or "?" in stem:
        return RiskLabel(WILDCARD, "medium", f"{resource} matches resources by pattern")
    return None


def cross_environment(text: str, environment: str, others: Mapping[str, str]) -> RiskLabel | None:
    """A resource naming another environment: its account id, or its name as a word (`billing-prod-x`)."""
    tokens = set(_TOKEN.findall(text.lower()))
    for name, account in sorted(others.items()):
        if name == environment:
            continue
        if account and account in text:
            return RiskLabel(CROSS_ENVIRONMENT, "high", f"{text} is in the {name} account {account}, "
                                                        f"granted in {environment}")
        if name in tokens:
            return RiskLabel(CROSS_ENVIRONMENT, "high", f"{text} names the {name} environment, granted in "
                                                        f"{environment}")
    return None


def longer_lifetime(field: str, before: int, after: int, text_before: str, text_after: str) -> RiskLabel | None:
    """A credential that lives longer: more time to use it if it leaks (field guide: short-lived tokens)."""
    if after <= before:
        return None
    severity = "medium" if after < 4 * max(before, 1) else "high"
    return RiskLabel(LONGER_LIFETIME, severity, f"{field} {text_before} -> {text_after}")


def new_egress(host: str, port: int, purpose: str) -> RiskLabel:
    """A new external endpoint: a way for data to leave the network."""
    return RiskLabel(NEW_EGRESS, "medium", f"{host}:{port} ({purpose}) is reachable from the agent")


def unique_labels(labels: Iterable[RiskLabel | None]) -> tuple[RiskLabel, ...]:
    """Distinct labels, most severe first."""
    return tuple(sorted({label for label in labels if label is not None},
                        key=lambda r: (-SEVERITY_ORDER.index(r.severity), r.id, r.reason)))


def verdict(changes: Iterable[Change]) -> Verdict:
    """Worst change wins: any high-risk widening, else any widening, else any narrowing, else neutral."""
    items = list(changes)
    if not items:
        return Verdict.NO_CHANGE
    wider = [c for c in items if c.direction is Direction.WIDER]
    if any(c.high_risk for c in wider):
        return Verdict.HIGH_RISK
    if wider:
        return Verdict.WIDENED
    if any(c.direction is Direction.NARROWER for c in items):
        return Verdict.NARROWED
    return Verdict.CHANGED
