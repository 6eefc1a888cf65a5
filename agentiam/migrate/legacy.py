"""Where an agent's migration stands (`status`) and retiring its legacy credentials (`revoke_legacy`).

Everything is decided over the plan entry's `migration` (never the spec again) and what the servers say now:

1. **The parallel run** counts from the declared start, but never from before the new identity existed: its
   identity entity's creation time on Vault and its IAM role's on AWS (a start written years back cannot skip the
   wait). It must have lasted the spec's `parallel_run` (at least 48 hours), or `--parallel-run` if longer;
   only `force` (with a reason, recorded before anything is touched) acts sooner.
2. **A shared credential** (declared by another agent too, in any environment) is kept while one of those agents
   has not finished its own parallel run and is not revoked: revoking it would cut that agent off. The report
   names it.
3. **Still in use**: a credential used since the parallel run started (IAM's last use, or the logs) is kept:
   something still depends on it.
4. **Ownership**: the logs must show the credential used from a network address the agent's own identity has used
   since the cutover (the agent moved from one to the other), and from no address that neither this agent nor
   another agent declaring it has used (someone else would depend on it). A credential the logs do not show is
   kept: a spec alone cannot make revoke-legacy cut another team's credential.
5. **Retiring**, read back every time: IAM access keys are deactivated (never deleted), Vault tokens revoked by
   accessor, AppRole roles deleted after their settings are recorded and the tokens they issued revoked. What is
   already retired, or gone from a server that does know the agent, counts as done; nothing is claimed that was
   not read back.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Protocol

from agentiam.environment.model import EnvironmentConfig
from agentiam.errors import ServerError, UserError
from agentiam.migrate.evidence import AgentActivity, LogEvidence, Usage
from agentiam.migrate.state import MigrationRecord, MigrationStore, operator
from agentiam.plan.model import AgentPlan, LegacyCredentialPlan, MigrationPlan
from agentiam.rules.migration import agentiam_own
from agentiam.spec.model import MIN_PARALLEL_RUN
from agentiam.spec.types import format_duration, format_timestamp, parse_timestamp

DEFAULT_TIMEOUT = 300.0  # seconds a whole revoke-legacy or status run may take


def utcnow() -> dt.datetime:
    """The run's clock (UTC, to the second). The one place it is read: tests move it, the CLI never takes a time
    (a `--now` in the future would skip the parallel run)."""
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
FORCE_REASON_MIN = 10  # characters: "why" in a sentence, not "x"


class Outcome(str, Enum):
    """What one step of revoke-legacy achieved."""

    CHECKED = "checked"  # a precondition read from a server and found as required
    DEACTIVATED = "deactivated"  # an IAM access key set Inactive by this run, read back
    REVOKED = "revoked"  # a Vault token or role revoked by this run, read back
    ALREADY = "already retired"  # found inactive or revoked: an earlier run (or someone) did it
    GONE = "gone"  # not on a server that knows the agent: expired, deleted; nothing can use it
    KEPT = "kept"  # deliberately not touched: shared, still in use, or no evidence it is this agent's
    FAILED = "FAILED"  # refused, unreachable, no answer in time, or not as expected when read back


DONE = frozenset({Outcome.CHECKED, Outcome.DEACTIVATED, Outcome.REVOKED, Outcome.ALREADY, Outcome.GONE})


@dataclass(frozen=True)
class Step:
    """One line of the revoke-legacy report."""

    system: str  # "aws" | "vault" | "logs"
    action: str
    target: str
    outcome: Outcome
    detail: str
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {"system": self.system, "action": self.action, "target": self.target, "outcome": self.outcome.value,
                "detail": self.detail, "seconds": round(self.seconds, 3)}


# --- the servers -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AccessKey:
    id: str
    status: str  # Active | Inactive
    created: dt.datetime | None


@dataclass(frozen=True)
class LastUse:
    when: dt.datetime | None  # None: never used
    service: str
    region: str


class LegacyAws(Protocol):
    """IAM calls (implemented by `aws_adapter.AwsLegacy`); each raises ServerError naming the call on failure."""

    endpoint: str

    def role_created(self, role_name: str) -> dt.datetime | None: ...

    def access_keys(self, user: str) -> list[AccessKey] | None: ...

    def last_used(self, key_id: str) -> LastUse: ...

    def deactivate(self, user: str, key_id: str) -> None: ...


class LegacyVault(Protocol):
    """Vault calls (implemented by `vault_adapter.VaultLegacy`); each raises ServerError naming the path."""

    address: str

    def entity_created(self, name: str) -> dt.datetime | None: ...

    def token(self, accessor: str) -> dict[str, Any] | None: ...

    def revoke_token(self, accessor: str) -> None: ...

    def auth_type(self, mount: str) -> str | None: ...

    def role(self, mount: str, role: str) -> dict[str, Any] | None: ...

    def role_tokens(self, mount: str, role: str) -> list[str]: ...

    def delete_role(self, mount: str, role: str) -> None: ...

    def audit_hash(self, device: str, value: str) -> str: ...


# --- who else declares a credential ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sharer:
    """Another agent x environment whose spec declares the same legacy credential."""

    agent: str
    environment: str
    status: str
    started: str | None
    parallel_run: int

    def waiting(self, now: dt.datetime) -> str | None:
        """Why this agent still needs the credential, or None when it does not (migrated, or revoked)."""
        if self.status == "revoked":
            return None
        if self.started is None:
            return f"{self.agent} ({self.environment}) has not started its parallel run"
        ready = parse_timestamp(self.started) + dt.timedelta(seconds=self.parallel_run)
        if ready > now:
            return (f"{self.agent} ({self.environment}) is in its parallel run until {format_timestamp(ready)}")
        return None


@dataclass(frozen=True)
class Target:
    """One agent in one environment, with what deciding about its legacy credentials needs besides the servers."""

    entry: AgentPlan
    environment: EnvironmentConfig
    audit_device: str
    sharers: Mapping[str, tuple[Sharer, ...]]  # credential subject -> the other agents declaring it

    @property
    def migration(self) -> MigrationPlan:
        if self.entry.migration is None:
            raise UserError(f"{self.entry.agent} declares no migration in {self.entry.environment}: add a "
                            "`migration` section to its spec (docs/migrate.md)")
        return self.entry.migration


def sharers_of(entries: Iterable[AgentPlan]) -> dict[tuple[str, str], dict[str, tuple[Sharer, ...]]]:
    """(agent, environment) -> credential subject -> every *other* agent x environment declaring it. A credential
    is compared across environments too: two environments may share an account or a Vault."""
    declared: dict[str, list[Sharer]] = {}
    keys: dict[tuple[str, str], list[str]] = {}
    for entry in entries:
        if entry.migration is None:
            continue
        sharer = Sharer(entry.agent, entry.environment, entry.status, entry.migration.parallel_run_started,
                        entry.migration.parallel_run)
        for credential in entry.migration.legacy:
            declared.setdefault(credential.subject, []).append(sharer)
            keys.setdefault((entry.agent, entry.environment), []).append(credential.subject)
    out: dict[tuple[str, str], dict[str, tuple[Sharer, ...]]] = {}
    for (agent, environment), subjects in keys.items():
        out[(agent, environment)] = {s: tuple(o for o in declared[s] if o.agent != agent) for s in subjects}
    return out


# --- the parallel run --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ParallelRun:
    """The parallel run as the servers allow it: declared start, the new identity's creation, the effective start."""

    declared: dt.datetime | None
    identity_created: dt.datetime | None  # the latest of the entity's and the role's creation (None: not read)
    required: int  # seconds

    @property
    def start(self) -> dt.datetime | None:
        if self.declared is None:
            return None
        return max(self.declared, self.identity_created) if self.identity_created else self.declared

    @property
    def ready_at(self) -> dt.datetime | None:
        start = self.start
        return start + dt.timedelta(seconds=self.required) if start else None

    def lasted(self, now: dt.datetime) -> float | None:
        return (now - self.start).total_seconds() if self.start else None


def required_run(migration: MigrationPlan, minimum: int | None) -> int:
    """The parallel run revoke-legacy waits for: the spec's, or longer if asked; never under 48 hours."""
    if minimum is not None and minimum < MIN_PARALLEL_RUN:
        raise UserError(f"--parallel-run {format_duration(minimum)} is shorter than the 48h minimum; to act before "
                        "the parallel run has lasted, use --force with --reason (recorded)")
    return max(migration.parallel_run, minimum or 0)


# --- reading one credential --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Observed:
    """A legacy credential as the server shows it now."""

    state: str  # active | inactive | gone | failed
    detail: str
    last_used: dt.datetime | None = None
    keys: tuple[AccessKey, ...] = ()  # an IAM user's, or the one key


def _aware(moment: dt.datetime | None) -> dt.datetime | None:
    if moment is None:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)


def observe(credential: LegacyCredentialPlan, aws: LegacyAws | None, vault: LegacyVault | None) -> Observed:
    """Read one credential's state (and an IAM key's last use); ServerError when a server fails."""
    if credential.kind in ("iam-access-key", "iam-user"):
        if aws is None:
            return Observed("failed", "AWS not asked (--no-aws)")
        user = credential.scope if credential.kind == "iam-access-key" else credential.name
        keys = aws.access_keys(user)
        if keys is None:
            return Observed("gone", f"this account has no IAM user {user}")
        if credential.kind == "iam-access-key":
            keys = [k for k in keys if k.id == credential.name]
            if not keys:
                return Observed("gone", f"IAM user {user} has no access key {credential.name}")
        uses = [_aware(aws.last_used(k.id).when) for k in keys]
        last = max((u for u in uses if u is not None), default=None)
        active = [k for k in keys if k.status == "Active"]
        if not keys:
            return Observed("inactive", f"IAM user {user} has no access key", last, ())
        state = "active" if active else "inactive"
        return Observed(state, f"{len(active)} of {len(keys)} key(s) active", last, tuple(keys))
    if vault is None:
        return Observed("failed", "Vault not asked (--no-vault)")
    if credential.kind == "vault-token":
        token = vault.token(credential.name)
        if token is None:
            return Observed("gone", "no token with this accessor (expired or revoked)")
        expires = str(token.get("expire_time") or "never")
        # Vault writes nanoseconds (2027-01-04T13:14:50.909537556Z); the reports read to the second.
        return Observed("active", f"token alive, expires {re.sub(r'[.][0-9]+Z$', 'Z', expires)}")
    kind = vault.auth_type(credential.scope)
    if kind is None:
        return Observed("gone", f"no auth mount {credential.scope} on this Vault")
    if kind != "approle":
        return Observed("failed", f"auth/{credential.scope} is a {kind} mount; legacy roles are AppRole roles")
    role = vault.role(credential.scope, credential.name)
    if role is None:
        return Observed("gone", f"no role {credential.name} on auth/{credential.scope}")
    return Observed("active", "role exists")


# --- ownership and use since the cutover -------------------------------------------------------------------------


def in_use_since(credential: LegacyCredentialPlan, seen: Observed, usage: Usage | None,
                 start: dt.datetime) -> str | None:
    """Why the credential is still in use since the parallel run started, or None."""
    if seen.last_used is not None and seen.last_used >= start:
        return (f"used {format_timestamp(seen.last_used)} (IAM last use), after the parallel run started "
                f"{format_timestamp(start)}: something still depends on it")
    if usage is not None:
        since = usage.allowed_since(start.timestamp())
        if since:
            address, when = since[-1]
            return (f"used {_stamp(when)} from {address or 'an unknown address'} (logs), after the parallel run "
                    f"started {format_timestamp(start)}: something still depends on it")
    return None


def ownership(credential: LegacyCredentialPlan, usage: Usage | None, agent: str, own: set[str],
              others: set[str]) -> tuple[bool, str]:
    """Whether the logs tie the credential to this agent: used from an address the agent's identity has used since
    the cutover (`own`), and from none that neither it nor another agent declaring it has used (`others`)."""
    used = {a for a, s in (usage.addresses.items() if usage else ()) if a and s.last_allowed is not None}
    if not used:
        return False, ("no use of it in the logs given: revoke-legacy acts only on a credential the logs show this "
                       "agent used (give the Vault audit log or CloudTrail covering its use with --logs)")
    shared = sorted(used & own)
    if not shared:
        return False, (f"used from {_some(used)}, but {agent}'s own identity has not been used from any of them "
                       "since the cutover: no evidence it is this agent's")
    strangers = sorted(used - own - others)
    if strangers:
        return False, (f"also used from {_some(strangers)}, where neither {agent}'s identity nor another agent "
                       "declaring it has been used since: someone else may depend on it")
    return True, f"used from {_some(shared)}, where {agent}'s own identity has been used since the cutover"


def _some(addresses: Iterable[str], limit: int = 3) -> str:
    items = sorted(addresses)
    return ", ".join(items[:limit]) + (f" and {len(items) - limit} more" if len(items) > limit else "")


def _stamp(seconds: float) -> str:
    return format_timestamp(dt.datetime.fromtimestamp(seconds, dt.timezone.utc))


# --- status ------------------------------------------------------------------------------------------------------


class Stage(str, Enum):
    """Where an agent's migration stands in one environment (the procedure's steps, in order)."""

    IDENTITY_MISSING = "new identity missing"
    NOT_STARTED = "parallel run not started"
    PARALLEL_RUN = "in parallel run"
    READY = "ready to revoke legacy"
    BLOCKED = "waiting"  # the time has come, but a credential must be kept (shared, in use, no evidence)
    REVOKED = "legacy revoked"


@dataclass(frozen=True)
class CredentialStatus:
    subject: str
    state: str  # active | inactive | gone | failed | not read
    detail: str
    kept: str | None = None  # why revoke-legacy would keep it now (None: it would act, or it is retired)
    refused_since: int | None = None  # uses refused since the cutover, per the logs (something still tries it)
    last_used: str | None = None  # its latest use: IAM's last use of the key(s), or the latest allowed one in the logs
    last_used_from: str | None = None  # where that was read: "IAM" or "logs"

    def to_json(self) -> dict[str, Any]:
        return {"credential": self.subject, "state": self.state, "detail": self.detail, "kept": self.kept,
                "refused_since_cutover": self.refused_since, "last_used": self.last_used,
                "last_used_from": self.last_used_from}


@dataclass(frozen=True)
class AgentStatus:
    """One agent's migration in one environment."""

    agent: str
    environment: str
    team: str
    wave: int | None
    stage: Stage
    declared_start: str | None
    start: str | None  # effective: not before the new identity existed (when read)
    ready_at: str | None
    credentials: tuple[CredentialStatus, ...]
    auth_failures: int | None  # failed logins of the agent's identity since the cutover (None: no logs)
    live: bool  # read from the servers (else: the specs and the record alone)
    notes: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"agent": self.agent, "environment": self.environment, "team": self.team, "wave": self.wave,
                "stage": self.stage.value, "declared_start": self.declared_start, "start": self.start,
                "ready_at": self.ready_at, "auth_failures_since_cutover": self.auth_failures, "live": self.live,
                "credentials": [c.to_json() for c in self.credentials], "notes": list(self.notes)}


@dataclass
class Sides:
    """The servers a run asks (None: not asked), the logs it read, and the run's clock."""

    aws: LegacyAws | None
    vault: LegacyVault | None
    logs: LogEvidence | None
    now: dt.datetime
    deadline: float = field(default_factory=lambda: time.monotonic() + DEFAULT_TIMEOUT)


def _identity_created(target: Target, sides: Sides, notes: list[str]) -> tuple[dt.datetime | None, bool]:
    """The new identity's creation (latest of entity and role), and whether it exists wherever it was asked."""
    entry = target.entry
    created: list[dt.datetime] = []
    exists = True
    if sides.vault is not None:
        moment = sides.vault.entity_created(entry.vault.entity.name)
        if moment is None:
            exists = False
            notes.append(f"no identity entity {entry.vault.entity.name} on {sides.vault.address}")
        else:
            created.append(moment)
    if sides.aws is not None:
        moment = sides.aws.role_created(entry.aws.role_name)
        if moment is None:
            exists = False
            notes.append(f"no IAM role {entry.aws.role_name} in this account")
        else:
            created.append(_aware(moment))  # type: ignore[arg-type]
    return (max(created) if created else None), exists


def status(target: Target, sides: Sides, record: MigrationRecord, minimum: int | None = None) -> AgentStatus:
    """The agent's stage in its environment, read from the servers given (offline: from the spec and the record)."""
    entry, migration = target.entry, target.migration
    notes: list[str] = []
    live = sides.aws is not None or sides.vault is not None
    created, exists = None, True
    try:
        created, exists = _identity_created(target, sides, notes) if live else (None, True)
    except ServerError as exc:
        notes.append(f"could not read the new identity: {exc}")
        live = False
    declared = parse_timestamp(migration.parallel_run_started) if migration.parallel_run_started else None
    run = ParallelRun(declared, created, required_run(migration, minimum))
    start = run.start
    activity = sides.logs.agents.get((entry.agent, entry.environment), AgentActivity()) if sides.logs else None
    own = activity.addresses_since(start.timestamp()) if activity and start else set()
    credentials = []
    for credential in migration.legacy:
        credentials.append(_credential_status(target, credential, sides, record, start, own))
    failures = activity.failures_since(start.timestamp()) if activity is not None and start else (
        0 if activity is not None else None)
    if live and not exists:
        stage = Stage.IDENTITY_MISSING
    elif all(c.state in ("inactive", "gone") or (not live and c.subject in record.retired) for c in credentials):
        stage = Stage.REVOKED
    elif start is None:
        stage = Stage.NOT_STARTED
    elif run.ready_at is not None and run.ready_at > sides.now:
        stage = Stage.PARALLEL_RUN
    elif any(c.kept for c in credentials):
        stage = Stage.BLOCKED
    else:
        stage = Stage.READY
    return AgentStatus(entry.agent, entry.environment, entry.owner_team, migration.wave, stage,
                       migration.parallel_run_started, format_timestamp(start) if start else None,
                       format_timestamp(run.ready_at) if run.ready_at else None, tuple(credentials), failures, live,
                       tuple(notes))


def _credential_status(target: Target, credential: LegacyCredentialPlan, sides: Sides, record: MigrationRecord,
                       start: dt.datetime | None, own: set[str]) -> CredentialStatus:
    subject = credential.subject
    usage = sides.logs.legacy.get(subject) if sides.logs else None
    refused = usage.refused_since(start.timestamp()) if usage is not None and start else None
    retired = record.retired.get(subject)
    if sides.aws is None and sides.vault is None:
        state, detail = "not read", (f"retired {retired.get('at')} (recorded, not read back)" if retired
                                     else "no server asked")
        return CredentialStatus(subject, state, detail, None, refused)
    try:
        seen = observe(credential, sides.aws, sides.vault)
    except ServerError as exc:
        return CredentialStatus(subject, "failed", str(exc), None, refused, *_last_use(None, usage))
    last = _last_use(seen, usage)
    if seen.state != "active" or start is None:
        return CredentialStatus(subject, seen.state, seen.detail, None, refused, *last)
    kept = _kept(target, credential, seen, usage, start, own, sides)
    return CredentialStatus(subject, seen.state, seen.detail, kept, refused, *last)


def _last_use(seen: Observed | None, usage: Usage | None) -> tuple[str | None, str | None]:
    """The latest use known: IAM's last use of the key(s) (GetAccessKeyLastUsed) or the latest allowed use in the
    logs, whichever is later; (None, None) when neither shows one."""
    uses = []
    if seen is not None and seen.last_used is not None:
        uses.append((seen.last_used, "IAM"))
    if usage is not None and usage.last_allowed is not None:
        uses.append((dt.datetime.fromtimestamp(usage.last_allowed, dt.timezone.utc).replace(microsecond=0), "logs"))
    if not uses:
        return None, None
    when, source = max(uses)
    return format_timestamp(when), source


def _kept(target: Target, credential: LegacyCredentialPlan, seen: Observed, usage: Usage | None,
          start: dt.datetime, own: set[str], sides: Sides) -> str | None:
    """Why revoke-legacy must leave an active credential alone now, or None when it may retire it."""
    if credential.kind == "vault-role":
        why = agentiam_own(credential.scope, credential.name, target.environment)
        if why is not None:
            return f"refused: {why}"
    waiting = [w for s in target.sharers.get(credential.subject, ()) if (w := s.waiting(sides.now)) is not None]
    if waiting:
        return f"shared: {'; '.join(waiting)}, and still needs it"
    busy = in_use_since(credential, seen, usage, start)
    if busy is not None:
        return busy
    if sides.logs is None:
        return "no logs given (--logs): revoke-legacy needs the logs that show this agent used it"
    others = {a for s in target.sharers.get(credential.subject, ())
              for a in sides.logs.agents.get((s.agent, s.environment), AgentActivity()).addresses_since(
                  start.timestamp())}
    owned, why = ownership(credential, usage, target.entry.agent, own, others)
    return None if owned else why


# --- revoke-legacy -----------------------------------------------------------------------------------------------


@dataclass
class LegacyRevocation:
    """The report of one revoke-legacy run."""

    agent: str
    environment: str
    identity_name: str
    declared_start: str | None
    start: str | None
    required: int
    lasted: float | None
    forced: bool
    reason: str | None
    operator: str
    steps: list[Step] = field(default_factory=list)
    refused: str | None = None  # why nothing was attempted (the parallel run too short, not started...)
    record: str | None = None  # the state file the run is recorded in

    @property
    def failed(self) -> bool:
        return any(s.outcome is Outcome.FAILED for s in self.steps)

    @property
    def kept(self) -> bool:
        return any(s.outcome is Outcome.KEPT for s in self.steps)

    @property
    def complete(self) -> bool:
        return self.refused is None and not self.failed and not self.kept

    def to_json(self) -> dict[str, Any]:
        return {"agent": self.agent, "environment": self.environment, "identity_name": self.identity_name,
                "declared_start": self.declared_start, "start": self.start, "required": self.required,
                "lasted": None if self.lasted is None else round(self.lasted), "forced": self.forced,
                "reason": self.reason, "operator": self.operator, "refused": self.refused,
                "result": "refused" if self.refused else "failed" if self.failed else "kept" if self.kept
                else "retired", "record": self.record, "steps": [s.to_json() for s in self.steps]}


class _Run:
    """Collects steps, times them from the run's start and reports each as it ends."""

    def __init__(self, report: LegacyRevocation, progress: Callable[[Step], None] | None):
        self.report, self.progress, self.started = report, progress, time.monotonic()

    def add(self, system: str, action: str, target: str, outcome: Outcome, detail: str) -> Step:
        step = Step(system, action, target, outcome, detail, time.monotonic() - self.started)
        self.report.steps.append(step)
        if self.progress is not None:
            self.progress(step)
        return step


def revoke_legacy(target: Target, sides: Sides, store: MigrationStore, *, minimum: int | None = None,
                  force_reason: str | None = None, progress: Callable[[Step], None] | None = None
                  ) -> LegacyRevocation:
    """Retire the agent's legacy credentials in its environment, each step read back and reported.

    Raises UserError before asking any server when the spec declares nothing to retire, the parallel run has not
    started, or a forced run has no reason (or cannot be recorded)."""
    entry, migration = target.entry, target.migration
    if migration.parallel_run_started is None:
        raise UserError(f"{entry.agent} has not started its parallel run in {entry.environment}: set "
                        f"migration.environments.{entry.environment}.parallel_run_started in its spec once the agent "
                        "runs on its own identity (docs/migrate.md)")
    forced = force_reason is not None
    if forced and len(" ".join((force_reason or "").split())) < FORCE_REASON_MIN:
        raise UserError(f"--force needs --reason: why the parallel run may be cut short, in a sentence (at least "
                        f"{FORCE_REASON_MIN} characters); it is printed and recorded")
    required = required_run(migration, minimum)
    needs_aws = any(c.kind.startswith("iam-") for c in migration.legacy)
    needs_vault = any(c.kind.startswith("vault-") for c in migration.legacy)
    if needs_aws and sides.aws is None:
        raise UserError("the legacy credentials include IAM ones: AWS must be asked (drop --no-aws)")
    if needs_vault and sides.vault is None:
        raise UserError("the legacy credentials include Vault ones: set VAULT_ADDR and VAULT_TOKEN (drop --no-vault)")
    report = LegacyRevocation(entry.agent, entry.environment, entry.identity_name, migration.parallel_run_started,
                              None, required, None, forced, " ".join(force_reason.split()) if force_reason else None,
                              operator())
    record = store.load(entry.environment, entry.agent)
    run_entry: dict[str, Any] = {"started": format_timestamp(sides.now), "operator": report.operator,
                                 "forced": forced, "reason": report.reason, "declared_start":
                                 migration.parallel_run_started, "required": required, "result": "started",
                                 "vault_addr": sides.vault.address if sides.vault else None,
                                 "aws_endpoint": sides.aws.endpoint if sides.aws else None}
    # Recorded before anything is touched: a run (a forced one above all) that cannot leave a trace does not run,
    # and one cut short (killed, a crash) still shows as "started" with who ran it and why.
    record.runs.append(run_entry)
    report.record = str(store.save(record))
    run = _Run(report, progress)
    _retire(target, sides, record, run, report)
    run_entry.update(start=report.start, lasted=report.lasted, refused=report.refused,
                     result=report.to_json()["result"], steps=[s.to_json() for s in report.steps])
    report.record = str(store.save(record))
    return report


def _retire(target: Target, sides: Sides, record: MigrationRecord, run: _Run, report: LegacyRevocation) -> None:
    entry, migration = target.entry, target.migration
    notes: list[str] = []
    try:
        created, exists = _identity_created(target, sides, notes)
    except ServerError as exc:
        run.add("check", "the new identity exists", entry.identity_name, Outcome.FAILED, str(exc))
        report.refused = "the new identity could not be read: nothing was touched"
        return
    if not exists:
        run.add("check", "the new identity exists", entry.identity_name, Outcome.FAILED, "; ".join(notes) +
                ": the agent has no identity of its own here to run in parallel with (wrong server, or never applied)")
        report.refused = "the new identity does not exist: nothing was touched"
        return
    declared = parse_timestamp(migration.parallel_run_started)  # checked by the caller
    parallel = ParallelRun(declared, created, report.required)
    start = parallel.start
    assert start is not None
    report.start, report.lasted = format_timestamp(start), parallel.lasted(sides.now)
    moved = f" (the identity was created {format_timestamp(created)}, after the declared start)" \
        if created and created > declared else ""
    run.add("check", "the new identity exists", entry.identity_name, Outcome.CHECKED,
            f"created {format_timestamp(created) if created else '?'}; parallel run from {format_timestamp(start)}"
            + moved)
    lasted = report.lasted or 0.0
    if lasted < report.required and not report.forced:
        report.refused = (f"the parallel run has lasted {format_duration(max(0, int(lasted)))} of "
                          f"{format_duration(report.required)}: revoke-legacy may act from "
                          f"{format_timestamp(parallel.ready_at)}; nothing was touched")  # type: ignore[arg-type]
        run.add("check", "the parallel run has lasted", entry.identity_name, Outcome.KEPT, report.refused)
        return
    if lasted < report.required:
        run.add("check", "the parallel run has lasted", entry.identity_name, Outcome.CHECKED,
                f"FORCED after {format_duration(max(0, int(lasted)))} of {format_duration(report.required)} by "
                f"{report.operator}: {report.reason}")
    else:
        run.add("check", "the parallel run has lasted", entry.identity_name, Outcome.CHECKED,
                f"{format_duration(int(lasted))} of {format_duration(report.required)}")
    own = sides.logs.agents.get((entry.agent, entry.environment), AgentActivity()).addresses_since(
        start.timestamp()) if sides.logs else set()
    for credential in migration.legacy:
        if time.monotonic() >= sides.deadline:
            run.add(_system(credential), "retire", credential.subject, Outcome.FAILED,
                    "the run's deadline passed before this credential (--timeout): run again")
            continue
        _one(target, credential, sides, record, run, start, own)


def _system(credential: LegacyCredentialPlan) -> str:
    return "aws" if credential.kind.startswith("iam-") else "vault"


def _one(target: Target, credential: LegacyCredentialPlan, sides: Sides, record: MigrationRecord, run: _Run,
         start: dt.datetime, own: set[str]) -> None:
    """Decide about one credential, then retire it and read it back."""
    system, subject = _system(credential), credential.subject
    usage = sides.logs.legacy.get(subject) if sides.logs else None
    try:
        seen = observe(credential, sides.aws, sides.vault)
    except ServerError as exc:
        run.add(system, "read", subject, Outcome.FAILED, str(exc))
        return
    if seen.state == "failed":
        run.add(system, "read", subject, Outcome.FAILED, seen.detail)
        return
    if seen.state in ("inactive", "gone"):
        earlier = record.retired.get(subject)
        if seen.state == "inactive" or earlier:
            when = f" by revoke-legacy {earlier['at']}" if earlier else ""
            run.add(system, "read", subject, Outcome.ALREADY, f"{seen.detail}{when}")
        else:
            run.add(system, "read", subject, Outcome.GONE, f"{seen.detail}: nothing can use it (check the spec "
                                                           "names it right)")
        return
    kept = _kept(target, credential, seen, usage, start, own, sides)
    if kept is not None:
        run.add(system, "keep", subject, Outcome.KEPT, kept)
        return
    try:
        if credential.kind in ("iam-access-key", "iam-user"):
            _deactivate(credential, seen, sides, record, run)
        elif credential.kind == "vault-token":
            _revoke_token(credential, sides, record, run)
        else:
            _revoke_role(credential, sides, record, run)
    except ServerError as exc:
        run.add(system, "retire", subject, Outcome.FAILED, f"{exc}; fix the cause and run again (each step is read "
                                                           "back, so a re-run finishes what is left)")


def _deactivate(credential: LegacyCredentialPlan, seen: Observed, sides: Sides, record: MigrationRecord,
                run: _Run) -> None:
    """iam:UpdateAccessKey Status=Inactive per active key, then iam:ListAccessKeys: Inactive, or FAILED."""
    aws = sides.aws
    assert aws is not None
    user = credential.scope if credential.kind == "iam-access-key" else credential.name
    for key in seen.keys:
        target = f"{key.id} (user {user})"
        if key.status != "Active":
            run.add("aws", "deactivate access key", target, Outcome.ALREADY, "Inactive")
            continue
        aws.deactivate(user, key.id)
        after = {k.id: k.status for k in aws.access_keys(user) or []}
        if after.get(key.id) != "Inactive":
            run.add("aws", "deactivate access key", target, Outcome.FAILED, f"IAM accepted the update but the key "
                                                                            f"reads {after.get(key.id, 'absent')}")
            continue
        record.retired[f"IAM access key {key.id} (user {user})"] = {"at": format_timestamp(sides.now),
                                                                    "how": "deactivated"}
        run.add("aws", "deactivate access key", target, Outcome.DEACTIVATED,
                "Inactive (read back); reactivate with aws iam update-access-key --status Active if something breaks")
    record.retired[credential.subject] = {"at": format_timestamp(sides.now), "how": "deactivated"}


def _revoke_token(credential: LegacyCredentialPlan, sides: Sides, record: MigrationRecord, run: _Run) -> None:
    """POST auth/token/revoke-accessor, then auth/token/lookup-accessor: gone, or FAILED."""
    vault = sides.vault
    assert vault is not None
    vault.revoke_token(credential.name)
    if vault.token(credential.name) is not None:
        run.add("vault", "revoke token", credential.subject, Outcome.FAILED, "Vault accepted the revocation but the "
                                                                             "token still answers its lookup")
        return
    record.retired[credential.subject] = {"at": format_timestamp(sides.now), "how": "revoked"}
    run.add("vault", "revoke token", credential.subject, Outcome.REVOKED, "its lookup now fails (read back)")


def _revoke_role(credential: LegacyCredentialPlan, sides: Sides, record: MigrationRecord, run: _Run) -> None:
    """Record the role's settings, revoke every token its logins issued, delete it, then read both back."""
    vault = sides.vault
    assert vault is not None
    mount, role = credential.scope, credential.name
    settings = vault.role(mount, role) or {}
    record.retired[credential.subject] = {"at": None, "how": "deleting", "settings": settings}
    tokens = vault.role_tokens(mount, role)
    for accessor in tokens:
        vault.revoke_token(accessor)
    left = vault.role_tokens(mount, role)
    if left:
        run.add("vault", "revoke the role's tokens", credential.subject, Outcome.FAILED,
                f"{len(left)} of {len(tokens)} token(s) its logins issued still answer after revocation")
        return
    # Its own step: if deleting the role fails next, the report still says these tokens are gone.
    run.add("vault", "revoke the role's tokens", credential.subject,
            Outcome.REVOKED if tokens else Outcome.CHECKED,
            f"{len(tokens)} token(s) its logins issued revoked, none left (read back)")
    vault.delete_role(mount, role)
    if vault.role(mount, role) is not None:
        run.add("vault", "revoke role", credential.subject, Outcome.FAILED, "still there after deletion")
        return
    record.retired[credential.subject] = {"at": format_timestamp(sides.now), "how": "deleted",
                                          "settings": settings, "tokens_revoked": len(tokens)}
    run.add("vault", "revoke role", credential.subject, Outcome.REVOKED,
            "role deleted (read back): no new login; its settings are in the record")
