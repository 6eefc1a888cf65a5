"""One source of truth: the diff's change set equals the difference of the full plans `agentiam plan` prints.

Both revisions are checked out as git worktrees and planned in full through the CLI; the diff,
which compiles only the changed specs, must find exactly the same differing agent x environment
entries with exactly the same plan entries on each side, and, for the environment-wide part, exactly
the changes that describing the two full `platform` plans gives (whether the diff compiled that
environment in full or incrementally from the changed specs).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from agentiam.cli.main import cli
from agentiam.diff.collect import collect
from agentiam.diff.compute import compute_diff
from agentiam.diff.gitsource import GitRepo
from agentiam.diff.platform import EnvironmentSide, platform_changes
from agentiam.plan.model import PlatformPlan
from agentiam.project import load_environments
from tests.diff.conftest import INVOICE, PAYMENT, SpecRepo, git

Entries = dict[tuple[str, str], dict[str, Any]]


def full_plans(checkout: Path, monkeypatch: pytest.MonkeyPatch,
               platforms: dict[str, PlatformPlan] | None = None) -> Entries:
    """Every agent entry of every stack, from `agentiam plan --env <stack> --format json` in `checkout`."""
    monkeypatch.chdir(checkout)
    entries: Entries = {}
    for config in sorted((checkout / "stacks").glob("Pulumi.*.yaml")):
        stack = config.name[len("Pulumi."):-len(".yaml")]
        result = CliRunner().invoke(cli, ["plan", "--env", stack, "--format", "json"])
        assert result.exit_code == 0, result.output
        plan = json.loads(result.output)
        if platforms is not None and plan["shared_resources"]:
            platforms[plan["environment"]] = PlatformPlan.model_validate(plan["platform"])
        for agent in plan["agents"]:
            entries[(agent["environment"], agent["agent"])] = agent
    return entries


def plan_difference(before: Entries, after: Entries) -> dict[tuple[str, str], tuple[Any, Any]]:
    return {key: (before.get(key), after.get(key)) for key in sorted(set(before) | set(after))
            if before.get(key) != after.get(key)}


def diff_change_set(repo: SpecRepo, base: str, head: str) -> dict[tuple[str, str], tuple[Any, Any]]:
    got = collect(GitRepo(repo.root), base, head)
    dump = (lambda e: e.model_dump(mode="json") if e is not None else None)
    return {(e.environment, e.agent): (dump(e.before), dump(e.after)) for e in got.entries}


def make_history(repo: SpecRepo) -> None:
    """A realistic pull request: narrowed scope, longer token, new KV path, new agent, stack config change."""
    repo.edit(INVOICE, "        - arn:aws:s3:::billing-{env}-invoices/*\n",
              "        - arn:aws:s3:::billing-{env}-invoices/2026/*\n")
    repo.edit(INVOICE, "  token_ttl: 1h\n", "  token_ttl: 2h\n")
    repo.edit(PAYMENT, "      capabilities: [read]\n", "      capabilities: [read]\n"
              "    - path: billing/{agent}/webhooks/*\n      capabilities: [read, list]\n")
    archiver = repo.read(INVOICE).replace("name: invoice-reader", "name: invoice-archiver")
    repo.write("agent_specs/billing/invoice-archiver.yaml", archiver)
    staging = repo.read("stacks/Pulumi.staging.yaml")
    repo.write("stacks/Pulumi.staging.yaml", staging.replace("kv_mount: secret", "kv_mount: kv-agents"))
    repo.commit("a realistic change", tag="head")


@pytest.mark.parametrize(("base", "head"), [("base", "head"), ("head", "base")])
def test_diff_change_set_equals_difference_of_full_plans(spec_repo: SpecRepo, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch, base: str,
                                                         head: str) -> None:
    make_history(spec_repo)
    trees = {}
    for rev in (base, head):
        trees[rev] = tmp_path / f"tree-{rev}"
        git(spec_repo.root, "worktree", "add", "-q", "--detach", str(trees[rev]), rev)
    expected = plan_difference(full_plans(trees[base], monkeypatch), full_plans(trees[head], monkeypatch))
    actual = diff_change_set(spec_repo, base, head)
    assert set(actual) == set(expected)
    assert actual == expected
    # The example touches every kind of key: changed, added/removed agent, stack-driven change.
    assert ("staging", "invoice-reader") in actual and ("dev", "invoice-archiver") in actual
    assert len(actual) == 9  # 3 envs x (invoice-reader, payment-gateway-sync, invoice-archiver)


def test_only_changed_specs_are_loaded(spec_repo: SpecRepo) -> None:
    for number in range(20):
        text = spec_repo.read(INVOICE).replace("name: invoice-reader", f"name: invoice-reader-{number:02d}")
        spec_repo.write(f"agent_specs/bulk/invoice-reader-{number:02d}.yaml", text)
    spec_repo.commit("twenty more agents", tag="bulk")
    spec_repo.edit(PAYMENT, "  token_max_ttl: 8h\n", "  token_max_ttl: 12h\n")
    spec_repo.commit("one change")
    got = collect(GitRepo(spec_repo.root), "bulk", "HEAD")
    assert sorted(got.base.specs) == [PAYMENT] and sorted(got.head.specs) == [PAYMENT]
    assert {e.agent for e in got.entries} == {"payment-gateway-sync"}


def make_platform_history(repo: SpecRepo) -> None:
    """Changes reaching the environment part: a class ceiling, a new class, database roles, one stack config."""
    repo.edit(INVOICE, "actions: [s3:GetObject, s3:ListBucket]",
              "actions: [s3:GetObject, s3:ListBucket, s3:GetObjectTagging]")
    monitor = repo.read(INVOICE).replace("name: invoice-reader", "name: settlement-monitor")
    repo.write("agent_specs/ops/settlement-monitor.yaml", monitor.replace("function: data-retrieval",
                                                                          "function: monitoring"))
    repo.edit(PAYMENT, "  databases:\n    - database: billing\n      access: write\n", "")
    staging = repo.read("stacks/Pulumi.staging.yaml").replace("retention_days: 90", "retention_days: 30")
    repo.write("stacks/Pulumi.staging.yaml",
               staging.replace("billing-db.staging.internal", "billing-db-2.staging.internal"))
    repo.commit("platform-wide change", tag="head")


@pytest.mark.parametrize("history", [make_history, make_platform_history])
@pytest.mark.parametrize(("base", "head"), [("base", "head"), ("head", "base")])
def test_environment_changes_equal_description_of_full_platform_plans(
        spec_repo: SpecRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, base: str, head: str, history) -> None:
    history(spec_repo)
    platforms: dict[str, dict[str, PlatformPlan]] = {base: {}, head: {}}
    configs = {}
    for rev in (base, head):
        tree = tmp_path / f"tree-{rev}"
        git(spec_repo.root, "worktree", "add", "-q", "--detach", str(tree), rev)
        full_plans(tree, monkeypatch, platforms[rev])
        configs[rev] = load_environments(tree / "stacks")
    expected = {}
    for env in sorted(platforms[base]):
        described = platform_changes(EnvironmentSide(configs[base][env], platforms[base][env]),
                                     EnvironmentSide(configs[head][env], platforms[head][env]))
        if described:
            expected[env] = sorted(described, key=lambda c: c.sort_key())
    report = compute_diff(GitRepo(spec_repo.root), base, head)
    actual = {e.environment: list(e.changes) for e in report.environments}
    assert actual == expected
    if history is make_platform_history:
        # Both ways are exercised: staging compiled in full (its stack changed), dev and prod incrementally.
        assert {e.environment: e.compiled for e in report.environments} == {
            "dev": "incremental", "staging": "full", "prod": "incremental"}
        assert any(c.system == "logging" for c in actual["staging"])
        assert any(c.subject == "monitoring boundary" for c in actual["prod"])
