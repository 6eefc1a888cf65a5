"""Who is who in the logs: every name an agent's identity goes by, taken from the identity plan (never re-derived).

Vault writes the names it knows in clear (policies, role names, request paths, entity ids) and HMACs the strings a
request carried (docs/facts.md#vault-audit): a failed AppRole login shows only the HMAC of the role id it tried, a
certificate login the HMAC of the role name. Those HMACs, and the entity ids Vault assigned, come from Vault itself
(`agentiam audit-ids`, which asks `sys/audit-hash`), or from the stack's `agents` output (entity ids only).
CloudTrail names the agent's role by ARN (docs/facts.md#aws-cloudtrail): matched with account and path, so a role
of the same name in another account is not the agent.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentiam.errors import ConfigError
from agentiam.plan.model import AgentPlan, IdentityPlan

AUDIT_IDS_FORMAT = 1


@dataclass(frozen=True)
class KnownAgent:
    """One agent in one environment, with its plan entry."""

    agent: str
    environment: str
    identity: str
    plan: AgentPlan
    account_id: str


@dataclass(frozen=True)
class AuditIds:
    """What Vault calls one agent in its audit log: entity id and the HMACs of its role id and identity name."""

    entity_id: str = ""
    role_id_hmac: str = ""
    name_hmac: str = ""


@dataclass
class IdentityIndex:
    """Look-ups from every name in a log line to the agent it belongs to."""

    plans: dict[str, IdentityPlan] = field(default_factory=dict)  # environment -> plan (shards merged)
    by_identity: dict[str, KnownAgent] = field(default_factory=dict)
    by_policy: dict[str, KnownAgent] = field(default_factory=dict)
    by_role_arn: dict[str, KnownAgent] = field(default_factory=dict)
    by_account_role: dict[tuple[str, str], KnownAgent] = field(default_factory=dict)
    by_entity: dict[str, KnownAgent] = field(default_factory=dict)
    by_role_id_hmac: dict[str, KnownAgent] = field(default_factory=dict)
    by_name_hmac: dict[str, KnownAgent] = field(default_factory=dict)
    login_paths: dict[str, str] = field(default_factory=dict)  # auth/<mount>/login -> environment
    audit_ids_loaded: set[str] = field(default_factory=set)  # environments with HMACs (failed logins attributable)

    @classmethod
    def from_plans(cls, plans: Iterable[IdentityPlan]) -> IdentityIndex:
        """The index of every agent of `plans` (several stacks of one environment merge)."""
        index = cls()
        for plan in plans:
            known = index.plans.get(plan.environment)
            if known is None:
                index.plans[plan.environment] = plan
            else:  # another shard: same platform, other agents
                index.plans[plan.environment] = known.model_copy(update={"agents": [*known.agents, *plan.agents]})
            for mount in plan.platform.mounts:
                if mount.kind == "auth":
                    index.login_paths[f"auth/{mount.path}/login"] = plan.environment
            for entry in plan.agents:
                agent = KnownAgent(entry.agent, entry.environment, entry.identity_name, entry, plan.account_id)
                index.by_identity[entry.identity_name] = agent
                index.by_identity.setdefault(entry.vault.approle.role_name, agent)
                index.by_identity.setdefault(entry.vault.cert.role_name, agent)
                index.by_policy[entry.vault.policy_name] = agent
                index.by_policy[entry.vault.login_policy_name] = agent
                index.by_policy[entry.vault.mint_policy_name] = agent
                index.by_identity.setdefault(entry.vault.token_role.name, agent)
                index.by_role_arn[entry.aws.role_arn] = agent
                index.by_account_role[(plan.account_id, entry.aws.role_name)] = agent
        return index

    def agents(self) -> list[KnownAgent]:
        """Every agent x environment, sorted by environment then agent."""
        return sorted({a.identity: a for a in self.by_identity.values()}.values(),
                      key=lambda a: (a.environment, a.agent))

    def add_audit_ids(self, environment: str, ids: Mapping[str, AuditIds]) -> None:
        """Entity ids and HMACs of an environment's agents, keyed by identity name (unknown names are ignored:
        an agent removed from the specs since)."""
        for identity, value in ids.items():
            agent = self.by_identity.get(identity)
            if agent is None or agent.environment != environment:
                continue
            if value.entity_id:
                self.by_entity[value.entity_id] = agent
            if value.role_id_hmac:
                self.by_role_id_hmac[value.role_id_hmac] = agent
            if value.name_hmac:
                self.by_name_hmac[value.name_hmac] = agent
        if any(v.role_id_hmac for v in ids.values()):
            self.audit_ids_loaded.add(environment)


def _text(value: Any, where: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValueError(f"{where}: expected a string, got {type(value).__name__}")
    return value


def read_audit_ids(path: Path) -> dict[str, dict[str, AuditIds]]:
    """environment -> identity name -> AuditIds, from a file `agentiam audit-ids` wrote, or from the JSON of
    `pulumi stack output agents --json` (entity ids only; its environment is read from the identity names' plan
    later, so it is returned under the key "")."""
    try:
        data = json.loads(path.read_bytes())
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the audit ids file: {exc.strerror or exc}") from exc
    except ValueError as exc:
        raise ConfigError(f"{path}: not JSON: {exc}") from exc
    try:
        if isinstance(data, dict) and data.get("format") == AUDIT_IDS_FORMAT \
                and isinstance(data.get("environments"), dict):
            result: dict[str, dict[str, AuditIds]] = {}
            for env, agents in data["environments"].items():
                if not isinstance(agents, dict):
                    raise ValueError(f"environments.{env}: expected a mapping of identity names")
                result[str(env)] = {
                    str(name): AuditIds(entity_id=_text(v.get("entity_id"), f"environments.{env}.{name}.entity_id"),
                                        role_id_hmac=_text(v.get("role_id_hmac"),
                                                           f"environments.{env}.{name}.role_id_hmac"),
                                        name_hmac=_text(v.get("name_hmac"), f"environments.{env}.{name}.name_hmac"))
                    for name, v in agents.items() if isinstance(v, dict)}
            return result
        if isinstance(data, dict) and all(isinstance(v, dict) and "identity_name" in v for v in data.values()):
            return {"": {_text(v["identity_name"], f"{k}.identity_name"):
                         AuditIds(entity_id=_text(v.get("entity_id"), f"{k}.entity_id")) for k, v in data.items()}}
    except ValueError as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    raise ConfigError(f"{path}: neither an `agentiam audit-ids` file (format {AUDIT_IDS_FORMAT}) nor the output of "
                      "`pulumi stack output agents --json`")


def load_audit_ids(index: IdentityIndex, path: Path) -> None:
    """Add the ids of one file to `index` (the stack-output form is matched by identity name in every environment)."""
    for env, ids in read_audit_ids(path).items():
        if env:
            index.add_audit_ids(env, ids)
        else:
            for environment in index.plans:
                index.add_audit_ids(environment, ids)


def audit_ids_document(ids: Mapping[str, Mapping[str, AuditIds]], device: str) -> str:
    """The file `agentiam audit-ids` writes: no secret in it (HMACs are what the audit log shows anyway)."""
    return json.dumps({"format": AUDIT_IDS_FORMAT, "audit_device": device, "environments": {
        env: {name: {"entity_id": v.entity_id, "role_id_hmac": v.role_id_hmac, "name_hmac": v.name_hmac}
              for name, v in sorted(agents.items())} for env, agents in sorted(ids.items())}},
        indent=2, sort_keys=True) + "\n"
