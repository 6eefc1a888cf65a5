"""The compliance report: per control, the evidence per agent (from the plan, git and a `check` report) and the gaps.

Nothing here re-derives a permission: identities, lifetimes, boundaries and log routing are read from the plan;
when each spec was last reviewed from git (its last commit, and whether the file still matches it); activity and
open findings from a `check --format json` report when one is given.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentiam.check.history import History
from agentiam.check.project import Project
from agentiam.compliance.controls import CONTROLS, GAPS, Control
from agentiam.errors import ConfigError
from agentiam.plan.model import AgentPlan, IdentityPlan
from agentiam.plan.vault_policy import self_service_rules
from agentiam.spec.types import format_duration

YEAR_DAYS = 365
EXPIRING_DAYS = 30
_SELF_SERVICE = {path for path, _ in self_service_rules()}


@dataclass
class AgentEvidence:
    """One agent x environment: evidence fields (display strings) and its gaps (GAPS keys)."""

    agent: str
    environment: str
    fields: dict[str, str]
    gaps: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Gap:
    """A gap of one control: a GAPS kind or a check rule id, for an agent or a whole environment."""

    kind: str
    environment: str
    agent: str | None = None
    detail: str = ""  # a check finding's subject and message


@dataclass
class ControlResult:
    control: Control
    gaps: list[Gap]

    @property
    def met(self) -> bool:
        return not self.gaps


@dataclass
class ComplianceReport:
    generated: str
    environments: list[str]
    agents: list[AgentEvidence]
    controls: list[ControlResult]
    check_window: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "format": 1, "generated": self.generated, "environments": self.environments,
            "check_window": self.check_window,
            "controls": [{
                "id": r.control.id, "framework": r.control.framework, "reference": r.control.reference,
                "title": str(r.control.title), "asks": r.control.asks.plain(),
                "enforced": [text.plain() for text in r.control.enforced], "status": "met" if r.met else "gaps",
                "evidence_fields": list(r.control.evidence),
                "gaps": [{"kind": g.kind, "environment": g.environment, "agent": g.agent,
                          "text": GAPS[g.kind].plain() if g.kind in GAPS else g.detail} for g in r.gaps],
            } for r in self.controls],
            "agents": [{"agent": a.agent, "environment": a.environment, "evidence": a.fields, "gaps": a.gaps}
                       for a in self.agents],
        }


def read_check_report(path: Path) -> dict[str, Any]:
    """A `agentiam check --format json` report (format 1), checked for the parts used here."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the check report: {exc.strerror or exc}") from exc
    except ValueError as exc:
        raise ConfigError(f"{path}: not a JSON check report: {exc}") from exc
    if not isinstance(data, dict) or data.get("format") != 1 or not isinstance(data.get("findings"), list) \
            or not isinstance(data.get("agents"), list) or not isinstance(data.get("window"), dict):
        raise ConfigError(f"{path}: not an `agentiam check --format json` report (format 1)")
    return data


def _lifetime(seconds: int | None) -> str:
    return format_duration(seconds) if seconds else "none"


def _fields(entry: AgentPlan, plan: IdentityPlan, history: History, activity: dict[str, Any] | None) -> dict[str, str]:
    routing = plan.platform.log_routing
    commit = history.last_commit(entry.source_file)
    aws_actions = sum(len(s.get("Action") or []) for s in (entry.aws.inline_policy or {}).get("Statement") or [])
    vault_paths = [p for p in entry.vault.policy_rules if p not in _SELF_SERVICE]
    secret_role = entry.vault.aws_secret_role
    return {
        "identity": entry.identity_name, "role_arn": entry.aws.role_arn, "entity": entry.vault.entity.name,
        "certificate_cn": ", ".join(entry.vault.cert.allowed_common_names),
        "login": "client certificate + AppRole secret id (single use, wrapped)",
        "bound_cidrs": ", ".join(entry.vault.token_role.token_bound_cidrs) or "none",
        "function": entry.function, "boundary": entry.aws.boundary_policy_arn,
        "aws_actions": str(aws_actions), "vault_paths": str(len(vault_paths)),
        "token_ttl": (f"{_lifetime(entry.vault.token_role.token_period)} / "
                      f"{_lifetime(entry.vault.token_role.token_explicit_max_ttl)}"),  # the working token's
        "aws_session_ttl": _lifetime(secret_role.max_sts_ttl) if secret_role else "no AWS grant",
        "database_max_ttl": _lifetime(max((r.max_ttl for r in entry.vault.database_roles), default=0)),
        "status": entry.status,
        "kill_switch": ("deployed: deny-all policy, entity disabled" if entry.status != "active"
                        else "ready: agentiam revoke"),
        "owner": f"{entry.owner_team} / {entry.owner_sponsor}", "expires": entry.expires,
        "spec": entry.source_file, "spec_digest": entry.spec_digest,
        "spec_commit": commit.sha[:12] if commit else "not in git",
        "reviewed": commit.date[:10] if commit else "never",
        "audit_device": f"{routing.audit.path} ({routing.audit.options.get('file_path', '')})",
        "log_group": routing.agent_log_group, "retention_days": str(routing.retention_days),
        "activity": (f"{activity['events']} event(s), {activity['logins']} login(s), {activity['failed_logins']} "
                     f"failed, {activity['denied']} refused" if activity else "no check report"),
    }


def _agent_gaps(entry: AgentPlan, history: History, today: dt.date) -> list[str]:
    gaps = []
    commit = history.last_commit(entry.source_file)
    if commit is None:
        gaps.append("no-history")
    else:
        if history.uncommitted(entry.source_file):
            gaps.append("uncommitted")
        if (today - dt.date.fromisoformat(commit.date[:10])).days > YEAR_DAYS:
            gaps.append("stale-review")
    expires = dt.date.fromisoformat(entry.expires)
    if expires < today:
        gaps.append("expired")
    elif (expires - today).days <= EXPIRING_DAYS:
        gaps.append("expiring")
    if not entry.vault.token_role.token_bound_cidrs:
        gaps.append("no-networks")
    return gaps


def build_report(loaded: Project, history: History, today: dt.date,
                 check: dict[str, Any] | None = None) -> ComplianceReport:
    """Evidence and gaps of every agent of the loaded plans."""
    activity = {(a.get("environment"), a.get("agent")): a for a in (check or {}).get("agents", [])
                if isinstance(a, dict)}
    checked_envs = set((check or {}).get("environments") or [])
    agents: list[AgentEvidence] = []
    env_gaps: list[Gap] = []
    environments = []
    for plan in loaded.plans:
        if plan.environment not in environments:
            environments.append(plan.environment)
            if plan.platform.log_routing.retention_days < YEAR_DAYS:
                env_gaps.append(Gap("short-retention", plan.environment))
            if plan.environment not in checked_envs:
                env_gaps.append(Gap("no-activity-evidence", plan.environment))
        for entry in plan.agents:
            agents.append(AgentEvidence(entry.agent, entry.environment,
                                        _fields(entry, plan, history, activity.get((entry.environment, entry.agent))),
                                        _agent_gaps(entry, history, today)))
    agents.sort(key=lambda a: (environments.index(a.environment), a.agent))
    findings = [f for f in (check or {}).get("findings", []) if isinstance(f, dict)]
    results = []
    for control in CONTROLS:
        gaps = [g for g in env_gaps if g.kind in control.gaps]
        gaps += [Gap(kind, a.environment, a.agent) for a in agents for kind in a.gaps if kind in control.gaps]
        gaps += [Gap(str(f.get("rule_id")), str(f.get("environment") or "-"), f.get("agent"),
                     f"{f.get('subject', '')}: {f.get('message', '')}")
                 for f in findings if f.get("rule_id") in control.findings]
        results.append(ControlResult(control, gaps))
    window = (check or {}).get("window") or {}
    return ComplianceReport(today.isoformat(), environments, agents, results,
                            f"{window.get('since')} to {window.get('until')}" if window else None)
