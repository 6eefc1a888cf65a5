"""The migration section in the permission diff, on real git repositories: every legacy credential added is labelled
(another team's, listed here, would be cut), a parallel run that starts, starts earlier or gets shorter is a
widening of what revoke-legacy may do, with its date, and every change points at its spec line."""

from __future__ import annotations

import datetime as dt
from typing import Any

from agentiam.diff.compute import compute_diff
from agentiam.diff.describe import Context, describe
from agentiam.plan.locate import Locator
from agentiam.diff.gitsource import GitRepo
from agentiam.diff.model import Direction, EntryChange, Verdict
from agentiam.plan.build import agent_plan
from agentiam.plan.model import LegacyCredentialPlan
from agentiam.project import load_environments
from agentiam.render.diff_markdown import render_markdown
from agentiam.render.diff_text import render_text
from agentiam.spec.validate import load_spec_bytes
from tests.diff.conftest import FIXTURES, INVOICE, PROJECT, SpecRepo, entry, labels

TODAY = dt.date(2026, 12, 1)
SECTION = """\
migration:
  wave: 1
  environments:
    prod:
      parallel_run_started: {start}
      note: the shared billing account; the finance exports use it too
      legacy:
        iam_access_keys:
          - id: AKIAIOSFODNN7EXAMPLE
            user: billing-shared
        vault_tokens:
          - accessor: 0BbQ1kuQ3o4ZbGqxPHnFTC7U
"""


def _diff(repo: SpecRepo) -> dict[str, object]:
    report = compute_diff(GitRepo(repo.root), "base", "HEAD", today=TODAY)
    return {c.subject: c for c in entry(report, "invoice-reader", "prod").changes}


def _with_section(repo: SpecRepo, start: str = "2026-12-03T09:00:00Z") -> None:
    repo.write(INVOICE, repo.read(INVOICE) + SECTION.format(start=start))
    repo.commit("migration", tag="migrating")


def test_legacy_credentials_added_are_labelled_with_when_revoke_legacy_may_act(spec_repo: SpecRepo) -> None:
    _with_section(spec_repo)
    report = compute_diff(GitRepo(spec_repo.root), "base", "HEAD", today=TODAY)
    prod = entry(report, "invoice-reader", "prod")
    changes = {c.subject: c for c in prod.changes}
    key = changes["legacy IAM access key AKIAIOSFODNN7EXAMPLE (user billing-shared)"]
    assert (key.system, key.op, key.direction) == ("migration", "added", Direction.WIDER)
    assert key.after == "revoke-legacy may act from 2026-12-05T09:00:00Z"
    assert [(r.id, r.severity) for r in key.risks] == [("legacy-revocation", "medium")]
    assert key.line == spec_repo.line_of(INVOICE, "- id: AKIAIOSFODNN7EXAMPLE")
    assert key.field == "migration.environments.prod.legacy.iam_access_keys[AKIAIOSFODNN7EXAMPLE]"
    token = changes["legacy Vault token with accessor 0BbQ1kuQ3o4ZbGqxPHnFTC7U"]
    assert token.line == spec_repo.line_of(INVOICE, "- accessor:") and labels(token) == {"legacy-revocation"}
    start = changes["parallel run start"]
    assert (start.op, start.after, start.direction) == ("added", "2026-12-03T09:00:00Z", Direction.WIDER)
    assert labels(start) == {"parallel-run-shortened"}
    assert start.line == spec_repo.line_of(INVOICE, "parallel_run_started:")
    assert changes["wave"].direction is Direction.NEUTRAL and changes["wave"].after == "1"
    assert changes["note"].line == spec_repo.line_of(INVOICE, "note:")
    # Only prod has legacy credentials; the other environments see nothing (but the spec's digest).
    assert not any(c.system == "migration" for c in entry(report, "invoice-reader", "dev").changes)
    assert prod.verdict is Verdict.WIDENED
    text = render_text(report)
    assert all(len(line) <= 120 for line in text.splitlines())
    # Folded at a space past 120 columns: read the words back in order.
    assert (" + migration legacy IAM access key AKIAIOSFODNN7EXAMPLE (user billing-shared) added: revoke-legacy may "
            f"act from 2026-12-05T09:00:00Z [{INVOICE}:{key.line}]") in " ".join(text.split())
    assert ("| + | migration | `legacy IAM access key AKIAIOSFODNN7EXAMPLE (user billing-shared)` added: "
            "`revoke-legacy may act from 2026-12-05T09:00:00Z` | legacy-revocation (medium): "
            "`IAM access key AKIAIOSFODNN7EXAMPLE (user "
            "billing-shared) in prod: revoke-legacy may act from 2026-12-05T09:00:00Z, given evidence that this agent "
            f"used it` | L{key.line} |") in render_markdown(report)


def test_a_start_already_48_hours_past_is_high_risk_revoke_legacy_may_act_at_once(spec_repo: SpecRepo) -> None:
    _with_section(spec_repo, start="2026-11-20T09:00:00Z")
    changes = _diff(spec_repo)
    assert [(r.id, r.severity) for r in changes["parallel run start"].risks] == [("parallel-run-shortened", "high")]
    key = changes["legacy IAM access key AKIAIOSFODNN7EXAMPLE (user billing-shared)"]
    assert [(r.id, r.severity) for r in key.risks] == [("legacy-revocation", "high")]


def test_an_earlier_start_or_a_shorter_run_widens_a_later_start_or_a_longer_run_narrows(spec_repo: SpecRepo) -> None:
    spec_repo.write(INVOICE, spec_repo.read(INVOICE) + SECTION.format(start="2026-12-03T09:00:00Z").replace(
        "  wave: 1\n", "  wave: 1\n  parallel_run: 96h\n"))
    spec_repo.commit("migration", tag="base2")
    spec_repo.edit(INVOICE, "2026-12-03T09:00:00Z", "2026-12-02T09:00:00Z")
    spec_repo.edit(INVOICE, "parallel_run: 96h", "parallel_run: 72h")
    spec_repo.commit("sooner")
    report = compute_diff(GitRepo(spec_repo.root), "base2", "HEAD", today=TODAY)
    changes = {c.subject: c for c in entry(report, "invoice-reader", "prod").changes}
    start, run = changes["parallel run start"], changes["parallel run"]
    assert (start.op, start.before, start.after, start.direction) == (
        "changed", "2026-12-03T09:00:00Z", "2026-12-02T09:00:00Z", Direction.WIDER)
    assert (run.op, run.before, run.after, run.direction) == ("shortened", "96h", "72h", Direction.WIDER)
    assert labels(run) == {"parallel-run-shortened"} and "revoke-legacy may act from 2026-12-05T09:00:00Z" in \
        run.risks[0].reason
    assert run.line == spec_repo.line_of(INVOICE, "parallel_run: 72h")
    back = compute_diff(GitRepo(spec_repo.root), "HEAD", "base2", today=TODAY)
    changes = {c.subject: c for c in entry(back, "invoice-reader", "prod").changes}
    assert changes["parallel run start"].direction is Direction.NARROWER and not changes["parallel run start"].risks
    assert (changes["parallel run"].op, changes["parallel run"].direction) == ("lengthened", Direction.NARROWER)


def test_removing_a_credential_or_the_start_never_widens(spec_repo: SpecRepo) -> None:
    _with_section(spec_repo)
    spec_repo.edit(INVOICE, "      parallel_run_started: 2026-12-03T09:00:00Z\n", "")
    spec_repo.edit(INVOICE, "        vault_tokens:\n          - accessor: 0BbQ1kuQ3o4ZbGqxPHnFTC7U\n", "")
    spec_repo.commit("not yet")
    report = compute_diff(GitRepo(spec_repo.root), "migrating", "HEAD", today=TODAY)
    prod = entry(report, "invoice-reader", "prod")
    changes = {c.subject: c for c in prod.changes}
    token = changes["legacy Vault token with accessor 0BbQ1kuQ3o4ZbGqxPHnFTC7U"]
    assert (token.op, token.direction, token.risks) == ("removed", Direction.NEUTRAL, ())
    assert changes["parallel run start"].direction is Direction.NARROWER
    assert all(c.direction is not Direction.WIDER for c in prod.changes)


def test_a_credential_moved_to_another_user_is_a_new_credential_to_revoke(spec_repo: SpecRepo) -> None:
    # The natural key includes the user: the same key id under another user is another deactivation request.
    _with_section(spec_repo)
    spec_repo.edit(INVOICE, "user: billing-shared", "user: payments-prod")
    spec_repo.commit("other user")
    report = compute_diff(GitRepo(spec_repo.root), "migrating", "HEAD", today=TODAY)
    changes = {(c.subject, c.op) for c in entry(report, "invoice-reader", "prod").changes}
    assert ("legacy IAM access key AKIAIOSFODNN7EXAMPLE (user payments-prod)", "added") in changes
    assert ("legacy IAM access key AKIAIOSFODNN7EXAMPLE (user billing-shared)", "removed") in changes


def test_every_field_of_the_migration_plan_shows_when_it_changes() -> None:
    """Fails when a field is added to the plan's migration that the diff does not describe (it is excluded from the
    generic `other` changes, so nothing else would show it)."""
    loaded = load_spec_bytes(INVOICE, (FIXTURES / "specs" / "billing" / "invoice-reader.yaml").read_bytes()
                             + SECTION.format(start="2026-12-03T09:00:00Z").encode())[0]
    assert loaded is not None
    before = agent_plan(loaded, load_environments(PROJECT / "stacks")["prod"])
    ctx = Context(Locator(None, None), Locator(None, None), "prod", {})
    migration = before.migration
    assert migration is not None
    unseen = set()
    for name, value in migration.model_dump().items():
        other: Any = (value + 3600 if isinstance(value, int) else value + "-x" if isinstance(value, str)
                      else [{**value[0], "name": value[0]["name"][:-1] + "Z"}] if isinstance(value, list) else 1)
        after = before.model_copy(update={"migration": migration.model_copy(update={name: other if name != "legacy"
                                  else [LegacyCredentialPlan(**item) for item in other]})})
        if not [c for c in describe(EntryChange("prod", before.agent, before, after), ctx) if c.system == "migration"]:
            unseen.add(name)
    assert unseen == set()
    for field in LegacyCredentialPlan.model_fields:
        changed = migration.legacy[0].model_copy(update={field: "vault-token" if field == "kind" else "other"})
        after = before.model_copy(update={"migration": migration.model_copy(update={"legacy": [changed]})})
        subjects = {c.subject for c in describe(EntryChange("prod", before.agent, before, after), ctx)}
        assert f"legacy {changed.subject}" in subjects, field
