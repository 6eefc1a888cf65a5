"""The diff of an agent's migration (spec `migration`, plan `AgentPlan.migration`): what `agentiam migrate
revoke-legacy` may act on, and from when.

Read as an attacker would use it. Adding a legacy credential hands revoke-legacy something to cut: another team's
key or role named here would be cut too, so every addition is labelled for the reviewer (`legacy-revocation`). A
parallel run that starts, starts earlier or gets shorter lets revoke-legacy act sooner (`parallel-run-shortened`),
at once when the declared start is already far enough in the past: both are `wider`, as a widening of power is.
Removing a credential or delaying the run only means revoke-legacy does less, later.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from agentiam.diff import risk
from agentiam.diff.model import Change, Direction, Op, System
from agentiam.plan.model import AgentPlan, LegacyCredentialPlan, MigrationPlan
from agentiam.spec.types import format_duration, format_timestamp, parse_timestamp

if TYPE_CHECKING:
    from agentiam.diff.describe import Context
    from agentiam.plan.locate import Locator

_LISTS = {"iam-access-key": "iam_access_keys", "iam-user": "iam_users", "vault-role": "vault_roles",
          "vault-token": "vault_tokens"}


def _where(locator: Locator, environment: str, credential: LegacyCredentialPlan | None = None,
           field: str | None = None) -> dict[str, Any]:
    """The spec line of a credential (by natural key, never by position in the plan), or of a migration field."""
    spec = locator.spec
    migration = spec.migration if spec is not None else None
    if migration is None or environment not in migration.environments:
        return locator.at(("migration",)) if spec is not None and migration is not None else {}
    base = ("migration", "environments", environment)
    if field is not None:
        return locator.at(base + (field,))
    if credential is None:
        return locator.at(base)
    legacy = migration.environments[environment].legacy
    keys: list[str] = {
        "iam-access-key": [f"{k.user}/{k.id}" for k in legacy.iam_access_keys],
        "iam-user": list(legacy.iam_users),
        "vault-role": [f"{r.mount}/{r.role}" for r in legacy.vault_roles],
        "vault-token": [t.accessor for t in legacy.vault_tokens]}[credential.kind]
    wanted = f"{credential.scope}/{credential.name}" if credential.scope else credential.name
    if wanted in keys:
        return locator.at(base + ("legacy", _LISTS[credential.kind], keys.index(wanted)))
    return locator.at(base + ("legacy",))


def earliest_revocation(migration: MigrationPlan) -> dt.datetime | None:
    """When revoke-legacy may first act by the spec's own word (the server may say later: docs/migrate.md)."""
    if migration.parallel_run_started is None:
        return None
    return parse_timestamp(migration.parallel_run_started) + dt.timedelta(seconds=migration.parallel_run)


def _when(migration: MigrationPlan | None) -> str:
    moment = earliest_revocation(migration) if migration is not None else None
    if moment is None:
        return "revoke-legacy may act once the parallel run has started and lasted"
    return f"revoke-legacy may act from {format_timestamp(moment)}"


def _severity(migration: MigrationPlan, now: dt.datetime) -> str:
    moment = earliest_revocation(migration)
    return "high" if moment is not None and moment <= now else "medium"


def migration_changes(before: AgentPlan | None, after: AgentPlan | None, ctx: Context) -> list[Change]:
    """Legacy credentials added and removed (by natural key), the parallel run's start and length, wave and note."""
    if after is None:
        return []  # a removed agent: its removal says it all
    was, now = (before.migration if before else None), after.migration
    if was is None and now is None:
        return []
    moment = ctx.now or dt.datetime.now(dt.timezone.utc)
    env = ctx.environment
    old = {c.subject: c for c in (was.legacy if was else [])}
    new = {c.subject: c for c in (now.legacy if now else [])}
    changes: list[Change] = []
    for subject in sorted(set(new) - set(old)):
        assert now is not None
        label = risk.LEGACY_REVOCATION.label(_severity(now, moment), f"{subject} in {env}: {_when(now)}, given "
                                             "evidence that this agent used it")
        changes.append(Change(System.MIGRATION, Op.ADDED, f"legacy {subject}", Direction.WIDER, after=_when(now),
                              risks=(label,), **_where(ctx.head, env, new[subject])))
    for subject in sorted(set(old) - set(new)):
        changes.append(Change(System.MIGRATION, Op.REMOVED, f"legacy {subject}", Direction.NEUTRAL,
                              before="retired by revoke-legacy", after="left as it is",
                              **_where(ctx.base, env, old[subject])))
    changes += _parallel_run(was, now, ctx, moment)
    wave_was = was.wave if was else None
    if now is not None and wave_was != now.wave:
        changes.append(Change(System.MIGRATION, Op.CHANGED, "wave", Direction.NEUTRAL,
                              before=None if wave_was is None else str(wave_was),
                              after=None if now.wave is None else str(now.wave), **ctx.head.at(("migration", "wave"))))
    if now is not None and (was.note if was else None) != now.note:
        changes.append(Change(System.MIGRATION, Op.CHANGED, "note", Direction.NEUTRAL,
                              before=was.note if was else None, after=now.note, **_where(ctx.head, env, field="note")))
    return changes


def _parallel_run(was: MigrationPlan | None, now: MigrationPlan | None, ctx: Context,
                  moment: dt.datetime) -> list[Change]:
    """The parallel run's start and length, judged by when revoke-legacy may first act."""
    if now is None:
        return []
    env = ctx.environment
    changes: list[Change] = []
    start_was = was.parallel_run_started if was else None
    if start_was != now.parallel_run_started:
        where = _where(ctx.head, env, field="parallel_run_started")
        if now.parallel_run_started is None:
            changes.append(Change(System.MIGRATION, Op.REMOVED, "parallel run start", Direction.NARROWER,
                                  before=start_was, after="not started: revoke-legacy refuses", **where))
        elif start_was is not None and now.parallel_run_started > start_was:
            changes.append(Change(System.MIGRATION, Op.CHANGED, "parallel run start", Direction.NARROWER,
                                  before=start_was, after=now.parallel_run_started, **where))
        else:
            label = risk.PARALLEL_RUN_SHORTENED.label(_severity(now, moment), f"{_when(now)} in {env}; the start "
                                                      "counts from no earlier than the new identity's creation")
            changes.append(Change(System.MIGRATION, Op.ADDED if start_was is None else Op.CHANGED, "parallel run start",
                                  Direction.WIDER, before=start_was, after=now.parallel_run_started,
                                  risks=(label,), **where))
    if was is not None and was.parallel_run != now.parallel_run:
        where = ctx.head.at(("migration", "parallel_run")) if ctx.head.spec is not None else {}
        shorter = now.parallel_run < was.parallel_run
        labels = (risk.PARALLEL_RUN_SHORTENED.label(_severity(now, moment), f"{format_duration(was.parallel_run)} "
                                                    f"-> {format_duration(now.parallel_run)}: {_when(now)}"),) \
            if shorter else ()
        changes.append(Change(System.MIGRATION, Op.SHORTENED if shorter else Op.LENGTHENED, "parallel run",
                              Direction.WIDER if shorter else Direction.NARROWER,
                              before=format_duration(was.parallel_run), after=format_duration(now.parallel_run),
                              risks=labels, **where))
    return changes
