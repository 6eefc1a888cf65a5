"""Kill switch: cut one agent off everywhere now, every step at once, each step reported (never claimed, always tried).

Every step runs in its own thread from the same start, so no system waits on another: the AWS deny is attached
while Vault is still answering, or while it hangs. Disabling the identity entity blocks every token of the agent at
once (docs/revoke.md); destroying the secret ids stops new logins; revoking the database leases drops the
users; revoking the working tokens (one `revoke-prefix` of the agent's token role's lease path) makes the block
permanent (a re-enabled entity would revive them); on AWS a deny-all conditioned on `aws:TokenIssueTime` kills the
STS sessions Vault cannot revoke. Only the token step waits, for the entity disable: once the entity is disabled,
no new working token can be created behind the revocation. The AppRole mint tokens (60 s, all agents of a mount
share their lease path) are left to the disabled entity and their short life.
Each step has the run's deadline: one that has not answered by then is reported FAILED, and the report is returned
anyway.

A step ends by reading the end state back, so a concurrent run's work counts as done ("already revoked"), and a
server that does not know the agent at all is told apart ("NOT FOUND") from one where nothing is left.

Names come from the identity plan (`agentiam.plan`), never re-derived here. The servers are reached through the
`VaultSide` / `AwsSide` protocols, implemented by `vault_adapter.py` (hvac) and `aws_adapter.py` (boto3), which
the CLI imports lazily so the core stays free of both.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, as_completed
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, Protocol

from agentiam.environment.load import load_environment_names, project_root
from agentiam.environment.model import EnvironmentConfig
from agentiam.errors import ServerError, UserError
from agentiam.findings import Finding, Severity
from agentiam.plan import coverage, model, names
from agentiam.plan.coverage import EVERY_FIELD, derived, handled, not_needed
from agentiam.plan.build import KILL_SWITCH_POLICY, agent_plan
from agentiam.plan.model import AgentPlan
from agentiam.project import SPEC_SUFFIXES, load_specs
from agentiam.spec.model import DatabaseAccess

# Seconds every step gets from the start of the run. A hung server costs each step its socket timeouts (seconds);
# this is the backstop: every step is a handful of requests, whatever else Vault holds.
DEFAULT_TIMEOUT = 120.0


class Outcome(str, Enum):
    """What one step achieved."""

    REVOKED = "revoked"  # this run changed something
    ALREADY = "already revoked"  # nothing left to do (second run, or a concurrent run did it)
    FAILED = "FAILED"  # the server refused, failed or did not answer in time: access may remain
    NOT_FOUND = "NOT FOUND"  # this server does not know the agent (wrong address or account, never applied)


@dataclass(frozen=True)
class Remaining:
    """Something a failed step leaves alive, with what an operator needs to finish it by hand if need be."""

    kind: str  # "database user"
    lease_id: str  # Vault's lease: `sys/leases/revoke` on it drops the user once the database answers
    role: str  # the database role that created it
    issued: str | None  # ISO 8601 UTC, from sys/leases/lookup
    expires: str | None  # until when the password works (the creation statement's VALID UNTIL), ISO 8601 UTC
    expires_is_bound: bool = False  # True: an upper bound (the lease's own expiry was moved when its token died)

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "lease_id": self.lease_id, "role": self.role, "issued": self.issued,
                "expires": self.expires, "expires_is_bound": self.expires_is_bound}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Remaining:
        return cls(kind=str(data["kind"]), lease_id=str(data["lease_id"]), role=str(data["role"]),
                   issued=data.get("issued"), expires=data.get("expires"),
                   expires_is_bound=bool(data.get("expires_is_bound", False)))


@dataclass(frozen=True)
class StepResult:
    """What a side reports for one step: outcome, a short secret-free detail, and what is still alive."""

    outcome: Outcome
    detail: str
    remaining: tuple[Remaining, ...] = ()


@dataclass(frozen=True)
class Step:
    """One line of the revocation report."""

    system: str  # "vault" | "aws"
    action: str
    target: str
    outcome: Outcome
    detail: str
    seconds: float = 0.0  # from the start of the run to the step's end (or to the deadline)
    remaining: tuple[Remaining, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"system": self.system, "action": self.action, "target": self.target, "outcome": self.outcome.value,
                "detail": self.detail, "seconds": round(self.seconds, 3),
                "remaining": [r.to_json() for r in self.remaining]}


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
    vault_addr: str = ""

    @property
    def complete(self) -> bool:
        """Every step revoked or found nothing left: the agent is cut off everywhere this run looked."""
        return all(step.outcome in (Outcome.REVOKED, Outcome.ALREADY) for step in self.steps)

    @property
    def ok(self) -> bool:  # the name the JSON report has always used
        return self.complete

    @property
    def unknown_to_vault(self) -> bool:
        """The Vault asked does not know the agent's identity entity: most likely the wrong Vault."""
        return any(s.system == "vault" and s.action == DISABLE_ENTITY and s.outcome is Outcome.NOT_FOUND
                   for s in self.steps)

    @property
    def remaining(self) -> list[Remaining]:
        return [r for step in self.steps for r in step.remaining]

    def to_json(self) -> dict[str, Any]:
        return {"agent": self.agent, "environment": self.environment, "identity_name": self.identity_name,
                "source_file": self.source_file, "status_in_spec": self.status_in_spec, "cutoff": self.cutoff,
                "vault_addr": self.vault_addr, "ok": self.ok,
                "result": "revoked" if self.complete else "incomplete",
                "steps": [s.to_json() for s in self.steps]}


class VaultSide(Protocol):
    """The Vault calls the kill switch needs (implemented in `vault_adapter.VaultRevoker`)."""

    address: str

    def disable_entity(self, name: str) -> StepResult: ...

    def destroy_secret_ids(self, mount: str, role: str) -> StepResult: ...

    def revoke_leases(self, mount: str, role: str) -> StepResult: ...

    def revoke_role_tokens(self, role: str) -> StepResult: ...


class AwsSide(Protocol):
    """The AWS call the kill switch needs (implemented in `aws_adapter.AwsRevoker`)."""

    def attach_kill_switch(self, role_name: str, policy_name: str, policy: dict[str, Any],
                           unconditional: dict[str, Any]) -> StepResult: ...


DISABLE_ENTITY = "disable identity entity"
DESTROY_SECRET_IDS = "destroy secret ids"
REVOKE_LEASES = "revoke database leases"
REVOKE_TOKENS = "revoke the agent's tokens"
DENY_SESSIONS = "deny sessions issued before now"

# What revocation does for each kind of plan object an agent holds (see agentiam.plan.coverage): every object that
# issues a credential must be cut off by a step; tests/test_plan_coverage.py fails on an undeclared one.
COVERAGE = coverage.Coverage("revoke", AgentPlan, {
    AgentPlan: {EVERY_FIELD: handled("the revocation names the agent, environment, identity and spec file")},
    model.AwsRolePlan: {EVERY_FIELD: handled(f"{DENY_SESSIONS}: the kill switch policy on the role")},
    model.AwsSecretRolePlan: {EVERY_FIELD: derived(f"its STS sessions: {DENY_SESSIONS} (STS credentials cannot be "
                                                   "revoked, only denied)")},
    model.VaultPlan: {EVERY_FIELD: handled("its objects below; policies issue nothing themselves")},
    model.AppRolePlan: {EVERY_FIELD: handled(DESTROY_SECRET_IDS)},
    model.TokenRolePlan: {EVERY_FIELD: handled(f"{REVOKE_TOKENS}: every working token, by lease prefix")},
    model.CertRolePlan: {EVERY_FIELD: handled(f"{DISABLE_ENTITY}: Vault refuses the tokens of a disabled entity, "
                                              "the certificate login's too")},
    model.EntityPlan: {EVERY_FIELD: handled(DISABLE_ENTITY)},
    model.DatabaseRolePlan: {EVERY_FIELD: handled(f"{REVOKE_LEASES}: <mount>/creds/<role>/")},
    model.RateLimitPlan: {EVERY_FIELD: not_needed("a quota: issues no credential")},
    model.KvSharePlan: {EVERY_FIELD: not_needed("what other agents may be granted; their own tokens are theirs")},
    model.EgressPlan: {EVERY_FIELD: not_needed("issues no credential: the network team's allow-list")},
    # Legacy credentials are not the agent's identity: the kill switch cuts what agentiam issued; the shared keys,
    # users, roles and tokens a migrating agent still runs on are cut by `agentiam migrate revoke-legacy --force`.
    model.MigrationPlan: {EVERY_FIELD: not_needed("issues no credential; the legacy ones are named by "
                                                  "legacy_credentials_warning and cut by migrate revoke-legacy")},
    model.LegacyCredentialPlan: {EVERY_FIELD: not_needed("not issued by agentiam: migrate revoke-legacy")},
})


def kill_switch_policy(cutoff: str) -> dict[str, Any]:
    """The plan's deny-all, limited to sessions issued before `cutoff` (what "revoke active sessions" does)."""
    statement = dict(KILL_SWITCH_POLICY["Statement"][0])
    statement["Condition"] = {"DateLessThan": {"aws:TokenIssueTime": cutoff}}
    return {"Version": KILL_SWITCH_POLICY["Version"], "Statement": [statement]}


@dataclass(frozen=True)
class Scope:
    """What a revocation needs of the environment besides the agent's plan entry: names, never reviewed files."""

    environment: str
    region: str
    database_connections: tuple[tuple[str, str], ...]  # (mount, connection name) of every configured database

    @classmethod
    def of(cls, environment: EnvironmentConfig) -> Scope:
        return cls(environment.name, environment.region,
                   tuple((environment.vault.database_mount, name) for name in sorted(environment.databases)))


def agent_entry(agent: str, stack: str, specs_dir: Path, stacks_dir: Path) -> tuple[AgentPlan, Scope]:
    """The plan entry of `agent` in `stack`, built from its own spec only, and the environment's scope.

    A kill switch never waits on unrelated inputs. Another agent's broken spec is not read, or its findings do not
    stop this one (unlike `compile_plan`); the stack config is read without the files it references, so a broken
    or missing agent CA does not either (the entry needs names, mounts and the account). The stack's shard
    selection is ignored (the agent may live in any shard). Specs are named after their agent (docs/spec.md: writing a
    spec), so that file is read first: the time to the first cut does not grow with the fleet; only if it is
    missing or names another agent is every spec read.
    """
    environment = load_environment_names(stacks_dir, stack)
    root = project_root(stacks_dir)
    named, _, _ = load_specs(_named_after(agent, specs_dir), root)
    mine = [s for s in named if s.spec.name == agent]
    findings: list[Finding] = []
    if len(mine) != 1:
        specs, findings, _ = load_specs([specs_dir], root)
        mine = [s for s in specs if s.spec.name == agent]
    if not mine:
        broken = [f for f in findings if f.severity is Severity.ERROR]
        hint = f"; {len(broken)} spec file(s) could not be read, fix them first" if broken else ""
        raise UserError(f"no agent named {agent!r} under {specs_dir}{hint}")
    if len(mine) > 1:
        raise UserError(f"agent {agent!r} is defined twice: {', '.join(s.file for s in mine)}")
    if environment.name not in mine[0].spec.environments:
        raise UserError(f"agent {agent!r} is not deployed to environment {environment.name!r} "
                        f"(its spec lists {', '.join(mine[0].spec.environments)})")
    return agent_plan(mine[0], environment), Scope.of(environment)


def _named_after(agent: str, specs_dir: Path) -> list[Path]:
    """`<agent>.yaml` / `<agent>.yml` anywhere under `specs_dir` (links not followed: the reader judges them)."""
    names_wanted = {f"{agent}{suffix}" for suffix in SPEC_SUFFIXES}
    return sorted(Path(folder) / name for folder, _dirs, files in os.walk(specs_dir)
                  for name in files if name in names_wanted)


def legacy_credentials_warning(entry: AgentPlan) -> str | None:
    """What the kill switch leaves alone: the shared credentials a migrating agent declares (spec `migration`) are
    not agentiam's to revoke here; an agent in its parallel run may still hold them. None when it declares none."""
    migration = entry.migration
    if migration is None or not migration.legacy:
        return None
    listed = "; ".join(credential.subject for credential in migration.legacy)
    return (f"{entry.agent} in {entry.environment} declares {len(migration.legacy)} legacy credential(s) this "
            f"command does not touch ({listed}); if the agent may still hold them, cut them too: agentiam migrate "
            f"revoke-legacy {entry.agent} --env {entry.environment} --force --reason '...'")


def database_roles(entry: AgentPlan, scope: Scope) -> list[tuple[str, str]]:
    """(mount, role) of every database role the agent has or could have had in this environment.

    A suspended or revoked agent's plan lists no roles, yet leases issued while it was active may still live:
    so every role name `names.database_role_name` gives for the environment's connections is covered too.
    """
    found = {(role.mount, role.name) for role in entry.vault.database_roles}
    for mount, connection in scope.database_connections:
        for access in DatabaseAccess:
            found.add((mount, names.database_role_name(entry.agent, entry.environment, connection, access.value)))
    return sorted(found)


@dataclass
class _Job:
    system: str
    action: str
    target: str
    call: Callable[[], StepResult]
    future: Future[tuple[StepResult, float]] = field(default_factory=Future)


def _start(job: _Job, started: float) -> None:
    """Run `job.call` in a daemon thread: one that never answers cannot keep the command from reporting and exiting."""

    def run() -> None:
        try:
            result = job.call()
        except ServerError as exc:
            # Report and go on: every other step still cuts access; the exit code says not everything succeeded.
            result = StepResult(Outcome.FAILED, str(exc))
        except BaseException as exc:  # noqa: BLE001 - a bug in one step must not lose the others' report
            job.future.set_exception(exc)
            return
        job.future.set_result((result, time.monotonic() - started))

    threading.Thread(target=run, name=f"revoke {job.action}", daemon=True).start()


def _step(job: _Job, result: StepResult, seconds: float) -> Step:
    return Step(job.system, job.action, job.target, result.outcome, result.detail, seconds, result.remaining)


def _after(job: _Job, limit: float, call: Callable[[], StepResult]) -> StepResult:
    """`call()` once `job` has answered, failed, or `limit` (a monotonic instant) has passed.

    The token step revokes what exists under the token role's lease prefix. Run before the entity is disabled, it
    could miss a working token the agent creates a moment later; after, Vault refuses to create one (the mint
    token's entity is disabled), so nothing new can appear behind the revocation.
    """
    with contextlib.suppress(BaseException):  # the awaited step's own report says what happened to it
        job.future.result(timeout=max(0.0, limit - time.monotonic()))
    return call()


def revoke(entry: AgentPlan, scope: Scope, vault: VaultSide | None, aws: AwsSide | None,
           now: dt.datetime | None = None, timeout: float = DEFAULT_TIMEOUT,
           progress: Callable[[Step], None] | None = None) -> Revocation:
    """Run every step against the servers at once; a step not done within `timeout` seconds is reported FAILED.

    `progress(step)` is called as each step ends, in the order they end (the report keeps the plan's order).
    """
    cutoff = (now or dt.datetime.now(dt.timezone.utc)).astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    started = time.monotonic()
    deadline = started + timeout
    v = entry.vault
    jobs: list[_Job] = []
    aws_job = None
    if aws is not None:
        policy = kill_switch_policy(cutoff)
        aws_job = _Job("aws", DENY_SESSIONS, f"iam role {entry.aws.role_name} / {entry.aws.kill_switch_policy_name}",
                       lambda: aws.attach_kill_switch(entry.aws.role_name, entry.aws.kill_switch_policy_name,
                                                      policy, KILL_SWITCH_POLICY))
    if vault is not None:
        entity = _Job("vault", DISABLE_ENTITY, f"identity/entity/name/{v.entity.name}",
                      lambda: vault.disable_entity(v.entity.name))
        jobs.append(entity)
        jobs.append(_Job("vault", DESTROY_SECRET_IDS, f"auth/{v.approle.mount}/role/{v.approle.role_name}/secret-id",
                         lambda: vault.destroy_secret_ids(v.approle.mount, v.approle.role_name)))
        for mount, role in database_roles(entry, scope):
            jobs.append(_Job("vault", REVOKE_LEASES, f"{mount}/creds/{role}/",
                             functools.partial(vault.revoke_leases, mount, role)))
        jobs.append(_Job("vault", REVOKE_TOKENS, names.token_lease_prefix(v.token_role.name),
                         lambda: _after(entity, deadline, lambda: vault.revoke_role_tokens(v.token_role.name))))
    if aws_job is not None:
        jobs.append(aws_job)
    # The AWS deny first: on a loaded machine the first thread started is the first to run.
    for job in sorted(jobs, key=lambda j: j.system != "aws"):
        _start(job, started)
    done: dict[int, Step] = {}
    by_future = {id(job.future): index for index, job in enumerate(jobs)}
    try:
        for future in as_completed([job.future for job in jobs], timeout=max(0.0, deadline - time.monotonic())):
            index = by_future[id(future)]
            done[index] = _step(jobs[index], *future.result())
            if progress is not None:
                progress(done[index])
    except TimeoutError:
        late = StepResult(Outcome.FAILED, f"no answer within {timeout:g} s (server hung or slow); the request may "
                                          "still complete: run again to see")
        for index, job in enumerate(jobs):
            if index not in done:
                done[index] = _step(job, late, timeout)
                if progress is not None:
                    progress(done[index])
    steps = [done[index] for index in range(len(jobs))]
    return Revocation(agent=entry.agent, environment=entry.environment, identity_name=entry.identity_name,
                      source_file=entry.source_file, status_in_spec=entry.status, cutoff=cutoff, steps=steps,
                      vault_addr=vault.address if vault is not None else "")
