"""Kill switch: cut one agent off everywhere now, step by step, each step reported (never claimed, always tried).

Order matters: the identity entity is disabled first because that alone blocks every token of the agent at once
(FACTS.md: a disabled entity blocks the use of its tokens); then the material for new logins (secret ids) is
destroyed, dynamic database users are dropped (lease revocation), tokens are revoked, and on AWS a deny-all
conditioned on `aws:TokenIssueTime` kills the STS sessions Vault cannot revoke (FACTS.md).

Names come from the identity plan (`agentiam.plan`), never re-derived here. The servers are reached through the
`VaultSide` / `AwsSide` protocols, implemented by `vault_adapter.py` (hvac) and `aws_adapter.py` (boto3), which
the CLI imports lazily so the core stays free of both.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any, Protocol

from agentiam.environment.load import load_environment, project_root
from agentiam.environment.model import Selection
from agentiam.errors import ServerError, UserError
from agentiam.findings import Severity
from agentiam.plan import names
from agentiam.plan.build import KILL_SWITCH_POLICY, build_plan
from agentiam.plan.model import AgentPlan, IdentityPlan
from agentiam.project import load_specs
from agentiam.spec.model import DatabaseAccess


class Outcome(str, Enum):
    """What one step achieved."""

    REVOKED = "revoked"  # this run changed something
    ALREADY = "already revoked"  # nothing left to do (second run)
    FAILED = "FAILED"


@dataclass(frozen=True)
class StepResult:
    """What a side reports for one step: outcome and a short, secret-free detail."""

    outcome: Outcome
    detail: str


@dataclass(frozen=True)
class Step:
    """One line of the revocation report."""

    system: str  # "vault" | "aws"
    action: str
    target: str
    outcome: Outcome
    detail: str


@dataclass(frozen=True)
class Revocation:
    """The whole report of one `agentiam revoke` run."""

    agent: str
    environment: str
    identity_name: str
    source_file: str
    status_in_spec: str
    cutoff: str  # ISO 8601 UTC: sessions issued before it are denied on AWS
    steps: list[Step]

    @property
    def ok(self) -> bool:
        return all(step.outcome is not Outcome.FAILED for step in self.steps)

    def to_json(self) -> dict[str, Any]:
        return {"agent": self.agent, "environment": self.environment, "identity_name": self.identity_name,
                "source_file": self.source_file, "status_in_spec": self.status_in_spec, "cutoff": self.cutoff,
                "ok": self.ok, "steps": [{"system": s.system, "action": s.action, "target": s.target,
                                          "outcome": s.outcome.value, "detail": s.detail} for s in self.steps]}


class VaultSide(Protocol):
    """The Vault calls the kill switch needs (implemented in `vault_adapter.VaultRevoker`)."""

    def disable_entity(self, name: str) -> StepResult: ...

    def destroy_secret_ids(self, mount: str, role: str) -> StepResult: ...

    def revoke_leases(self, prefix: str) -> StepResult: ...

    def revoke_entity_tokens(self, entity_name: str) -> StepResult: ...


class AwsSide(Protocol):
    """The AWS call the kill switch needs (implemented in `aws_adapter.AwsRevoker`)."""

    def attach_kill_switch(self, role_name: str, policy_name: str, policy: dict[str, Any],
                           unconditional: dict[str, Any]) -> StepResult: ...


def kill_switch_policy(cutoff: str) -> dict[str, Any]:
    """The plan's deny-all, limited to sessions issued before `cutoff` (what "revoke active sessions" does)."""
    statement = dict(KILL_SWITCH_POLICY["Statement"][0])
    statement["Condition"] = {"DateLessThan": {"aws:TokenIssueTime": cutoff}}
    return {"Version": KILL_SWITCH_POLICY["Version"], "Statement": [statement]}


def agent_entry(agent: str, stack: str, specs_dir: Path, stacks_dir: Path) -> tuple[AgentPlan, IdentityPlan]:
    """The plan entry of `agent` in `stack`, built from its own spec only.

    A kill switch must work while another agent's spec is broken: unlike `compile_plan`, this does not stop on
    other files' findings. The stack's shard selection is ignored (the agent may live in any shard).
    """
    environment = load_environment(stacks_dir, stack)
    environment = environment.model_copy(update={"selection": Selection()})
    specs, findings, _ = load_specs([specs_dir], project_root(stacks_dir))
    mine = [s for s in specs if s.spec.name == agent]
    if not mine:
        broken = [f for f in findings if f.severity is Severity.ERROR]
        hint = f"; {len(broken)} spec file(s) could not be read, fix them first" if broken else ""
        raise UserError(f"no agent named {agent!r} under {specs_dir}{hint}")
    if len(mine) > 1:
        raise UserError(f"agent {agent!r} is defined twice: {', '.join(s.file for s in mine)}")
    plan = build_plan(mine, environment)
    try:
        return plan.agent(agent), plan
    except KeyError as exc:
        raise UserError(f"agent {agent!r} is not deployed to environment {environment.name!r} "
                        f"(its spec lists {', '.join(mine[0].spec.environments)})") from exc


def database_roles(entry: AgentPlan, plan: IdentityPlan) -> list[tuple[str, str]]:
    """(mount, role) of every database role the agent has or could have had in this environment.

    A suspended or revoked agent's plan lists no roles, yet leases issued while it was active may still live:
    so every role name `names.database_role_name` gives for the environment's connections is covered too.
    """
    found = {(role.mount, role.name) for role in entry.vault.database_roles}
    for connection in plan.platform.database_connections:
        for access in DatabaseAccess:
            found.add((connection.mount,
                       names.database_role_name(entry.agent, entry.environment, connection.name, access.value)))
    return sorted(found)


def _run(system: str, action: str, target: str, call: Callable[[], StepResult]) -> Step:
    try:
        result = call()
    except ServerError as exc:
        # Report and go on: every other step still cuts access; the exit code says not everything succeeded.
        return Step(system, action, target, Outcome.FAILED, str(exc))
    return Step(system, action, target, result.outcome, result.detail)


def revoke(entry: AgentPlan, plan: IdentityPlan, vault: VaultSide, aws: AwsSide | None,
           now: dt.datetime | None = None) -> Revocation:
    """Run every step against the servers; a failed step is reported and the others still run."""
    cutoff = (now or dt.datetime.now(dt.timezone.utc)).astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    v = entry.vault
    steps = [
        _run("vault", "disable identity entity", f"identity/entity/name/{v.entity.name}",
             lambda: vault.disable_entity(v.entity.name)),
        _run("vault", "destroy secret ids", f"auth/{v.approle.mount}/role/{v.approle.role_name}/secret-id",
             lambda: vault.destroy_secret_ids(v.approle.mount, v.approle.role_name)),
    ]
    for mount, role in database_roles(entry, plan):
        prefix = f"{mount}/creds/{role}/"
        steps.append(_run("vault", "revoke database leases", prefix, lambda p=prefix: vault.revoke_leases(p)))
    steps.append(_run("vault", "revoke tokens of the entity", f"auth/token (entity {v.entity.name})",
                      lambda: vault.revoke_entity_tokens(v.entity.name)))
    if aws is not None:
        policy = kill_switch_policy(cutoff)
        steps.append(_run("aws", "deny sessions issued before now",
                          f"iam role {entry.aws.role_name} / {entry.aws.kill_switch_policy_name}",
                          lambda: aws.attach_kill_switch(entry.aws.role_name, entry.aws.kill_switch_policy_name,
                                                         policy, KILL_SWITCH_POLICY)))
    return Revocation(agent=entry.agent, environment=entry.environment, identity_name=entry.identity_name,
                      source_file=entry.source_file, status_in_spec=entry.status, cutoff=cutoff, steps=steps)
