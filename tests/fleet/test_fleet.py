"""Quota guardrail (AGT048) and `agentiam shard` on a generated fleet of 12,000 agents in one environment."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import shutil
import textwrap
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from agentiam import project
from agentiam.cli.main import cli
from agentiam.deploy import pipeline
from agentiam.deploy.shard import environment_agents, plan_shards, shard_sizes, write_shards
from agentiam.environment.model import EnvironmentConfig, Quotas
from agentiam.errors import UserError
from agentiam.plan.build import build_plan
from agentiam.plan.footprint import account_footprints
from agentiam.rules.registry import run_rules
from agentiam.spec.validate import load_spec_bytes
from tests.fleet.generate import spec_text, write_fleet

REPO = Path(__file__).resolve().parents[2]
TODAY = dt.date(2026, 12, 1)
FLEET = 12_000


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list]:
    """A project whose prod holds 12,000 generated agents (the bundled stacks), and its loaded specs."""
    root = tmp_path_factory.mktemp("fleet")
    shutil.copytree(REPO / "stacks", root / "stacks", ignore=shutil.ignore_patterns("sharded-example"))
    write_fleet(root / "agent_specs", FLEET)
    specs, findings, count = project.load_specs([root / "agent_specs"], root)
    assert (findings, count) == ([], FLEET)
    return root, specs


def _with_quotas(environments: dict[str, EnvironmentConfig], name: str, **quotas: int) -> dict[str, EnvironmentConfig]:
    changed = environments[name].model_copy(update={"quotas": Quotas(**quotas)})
    return {**environments, name: changed}


def _names(fleet: tuple[Path, list]) -> list[str]:
    return sorted(loaded.spec.name for loaded in fleet[1])


def _quota_findings(specs: list, environments: dict[str, EnvironmentConfig]) -> list:
    return [f for f in run_rules(specs, environments, TODAY) if f.rule_id == "AGT048"]


def test_default_quotas_refuse_12000_roles_in_one_account_naming_both_fixes(fleet):
    root, specs = fleet
    (finding,) = _quota_findings(specs, project.load_environments(root / "stacks"))
    assert finding.path == "environments" and finding.severity.value == "error"
    assert "AWS account 333333333333 would hold 12,000 agent IAM roles (prod 12,000)" in finding.message
    assert "above its quota of 1,000 roles" in finding.message
    assert "declare it as `quotas.iam_roles` in the stack config of prod" in finding.message
    assert "move agents to an environment in another account" in finding.message
    # Located on the first agent whose role no longer fits: the 1,001st in file order.
    ordered = sorted(specs, key=lambda s: s.file)
    assert finding.file == ordered[1000].file


def test_the_maximum_quota_names_only_the_account_split(fleet):
    root, specs = fleet
    environments = _with_quotas(project.load_environments(root / "stacks"), "prod", iam_roles=5000)
    (finding,) = _quota_findings(specs, environments)
    assert "quota of 5,000 roles" in finding.message and "Service Quotas" not in finding.message


def test_a_fleet_within_its_declared_quota_passes_and_roles_outside_agentiam_count(fleet):
    root, specs = fleet
    base = project.load_environments(root / "stacks")
    in_prod = specs[:4_990]
    assert _quota_findings(in_prod, _with_quotas(base, "prod", iam_roles=5000)) == []
    (finding,) = _quota_findings(in_prod, _with_quotas(base, "prod", iam_roles=5000, iam_roles_outside_agentiam=11))
    assert "4,990 agent IAM roles (prod 4,990) plus 11 outside agentiam, above its quota of 5,000" in finding.message


def test_environments_sharing_an_account_are_counted_together(fleet):
    root, _ = fleet
    base = project.load_environments(root / "stacks")
    # staging moved into prod's account: 600 agents there plus 600 in prod exceed 1,000 together, not apart.
    staging = base["staging"].model_copy(update={"account_id": base["prod"].account_id})
    environments = {**base, "staging": staging}
    both = []
    for i in range(1200):
        env = "prod" if i % 2 else "staging"
        loaded, problems = load_spec_bytes(f"agent_specs/tools/agent-{i:04d}.yaml",
                                           spec_text(f"agent-{i:04d}", "tools", "analysis", env).encode())
        assert problems == []
        both.append(loaded)
    (finding,) = _quota_findings(both, environments)
    assert "1,200 agent IAM roles (prod 600, staging 600), above its quota of 1,000" in finding.message
    assert _quota_findings(both, base) == []


def test_managed_policy_quota_counts_one_boundary_per_environment_and_class(fleet):
    root, specs = fleet
    environments = _with_quotas(project.load_environments(root / "stacks"), "prod", iam_roles=5000,
                                iam_customer_managed_policies=5, iam_customer_managed_policies_outside_agentiam=2)
    findings = _quota_findings(specs[:4000], environments)
    policies = [f for f in findings if "customer managed policies" in f.message]
    (finding,) = policies
    assert "would hold 4 agentiam permissions boundaries plus 2 customer managed policies outside agentiam, above " \
           "its quota of 5" in finding.message and finding.path == "function"


def test_footprint_counts_what_the_plan_builds_over_every_shard(fleet):
    root, specs = fleet
    environments = project.load_environments(root / "stacks")
    some = specs[::40]  # 15 of each team's 600: every function class
    (prod_account,) = [a for a in account_footprints(some, environments) if a.account_id == "333333333333"]
    sharded = [environments["prod"].model_copy(update={"selection": environments["prod"].selection.model_copy(
        update={"shard_count": 3, "shard_index": i, "shared_resources": i == 0})}) for i in range(3)]
    plans = [build_plan(some, config) for config in sharded]
    assert prod_account.roles == sum(len(p.agents) for p in plans) == 300
    assert prod_account.managed_policies == len(plans[0].platform.boundaries) == 4


def test_quota_values_beyond_aws_maximum_are_refused(tmp_path):
    text = (REPO / "stacks" / "Pulumi.dev.yaml").read_text(encoding="utf-8") + "    quotas:\n      iam_roles: 6000\n"
    shutil.copytree(REPO / "stacks", tmp_path / "stacks", ignore=shutil.ignore_patterns("sharded-example"))
    (tmp_path / "stacks" / "Pulumi.dev.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(UserError) as caught:
        project.load_environments(tmp_path / "stacks")
    (finding,) = caught.value.findings
    assert finding.rule_id == "CFG002" and finding.path == "quotas.iam_roles" and "5000" in finding.message


def test_shard_writes_stacks_of_at_most_800_and_a_second_run_changes_nothing(fleet, tmp_path):
    root, _ = fleet
    shutil.copytree(root / "stacks", tmp_path / "stacks")
    before = (tmp_path / "stacks" / "Pulumi.prod.yaml").read_text(encoding="utf-8")
    runner = CliRunner()
    args = ["shard", "--env", "prod", "--max-agents", "800", "--specs", str(root / "agent_specs"),
            "--stacks", str(tmp_path / "stacks")]
    first = runner.invoke(cli, args)
    assert first.exit_code == 0, first.output
    agents = environment_agents(root / "agent_specs", tmp_path / "stacks", "prod")
    assert agents == _names(fleet)
    files = sorted((tmp_path / "stacks").glob("Pulumi.prod*.yaml"))
    shard_count = len(files)
    assert shard_count >= 15  # 12,000 / 800
    assert max(shard_sizes(agents, shard_count)) <= 800 < max(shard_sizes(agents, shard_count - 1))
    assert f"prod: 12,000 agents in {shard_count} stack(s) of at most" in first.output
    # The owner keeps its file, comments and all: only `selection` was added.
    after = (tmp_path / "stacks" / "Pulumi.prod.yaml").read_text(encoding="utf-8")
    assert after.startswith(before) and after[len(before):] == (
        f"    selection:\n      shard_count: {shard_count}\n      shard_index: 0\n      shared_resources: true\n")
    # Every shard of prod loads, fits together (CFG004) and the plans cover every agent exactly once.
    loaded = project.load_environments(tmp_path / "stacks")
    assert loaded["prod"].selection.shard_count == shard_count
    snapshot = {p.name: p.read_bytes() for p in files}
    second = runner.invoke(cli, args)
    assert second.exit_code == 0 and second.output.count("unchanged") == shard_count
    assert {p.name: p.read_bytes() for p in sorted((tmp_path / "stacks").glob("Pulumi.prod*.yaml"))} == snapshot
    assert runner.invoke(cli, [*args, "--check"]).exit_code == 0
    # The deploy workflow's matrices, from the stack files: the owner first, then every other shard in parallel.
    owners, shards = pipeline.deploy_order(None, tmp_path / "stacks")
    assert {"stack": "prod", "environment": "prod"} in owners
    assert shards == [{"stack": f"prod-{i}", "environment": "prod"} for i in sorted(range(1, shard_count), key=str)]


def test_more_shards_than_one_matrix_runs_are_refused(fleet, tmp_path, monkeypatch):
    root, _ = fleet
    with pytest.raises(UserError, match="need more than 256 shards of at most 10"):
        plan_shards("prod", 10, _names(fleet), root / "stacks", "agentiam shard")
    shutil.copytree(root / "stacks", tmp_path / "stacks")
    write_shards(plan_shards("prod", 4000, _names(fleet), tmp_path / "stacks", "agentiam shard"))
    monkeypatch.setattr(pipeline, "MAX_MATRIX", 2)
    with pytest.raises(UserError, match="3 stacks for the owners job, more than the 2 jobs one GitHub Actions matrix"):
        pipeline.deploy_order(None, tmp_path / "stacks")


def test_shard_keeps_edits_made_to_every_shard_and_never_shrinks(fleet, tmp_path):
    root, _ = fleet
    shutil.copytree(root / "stacks", tmp_path / "stacks")
    agents = _names(fleet)
    write_shards(plan_shards("prod", 800, agents, tmp_path / "stacks", "agentiam shard"))
    files = sorted((tmp_path / "stacks").glob("Pulumi.prod*.yaml"))
    # A reviewer's edit to every shard (a comment and a new log retention) and a secret Pulumi wrote in one of them.
    for path in files:
        text = path.read_text(encoding="utf-8").replace("retention_days: 365", "retention_days: 400  # SEC-12")
        if path.name == "Pulumi.prod-3.yaml":
            text = "encryptionsalt: v1:abc:def\n" + text.replace(
                "config:\n", "config:\n  agentiam:billingDbPassword:\n    secure: v1:xyz\n", 1)
        path.write_text(text, encoding="utf-8")
    edited = {p.name: p.read_text(encoding="utf-8") for p in files}
    # Fewer agents per stack allowed: the count stays (a shrink would orphan a stack's resources).
    layout = plan_shards("prod", 5000, agents, tmp_path / "stacks", "agentiam shard")
    assert layout.shard_count == len(files) and not layout.changed
    # More shards: existing files change in `selection` alone.
    layout = plan_shards("prod", 500, agents, tmp_path / "stacks", "agentiam shard")
    write_shards(layout)
    assert layout.shard_count > len(files) and layout.moved > 0
    for name, text in edited.items():
        now = (tmp_path / "stacks" / name).read_text(encoding="utf-8")
        assert now.split("    selection:\n")[0] == text.split("    selection:\n")[0]
        assert "retention_days: 400  # SEC-12" in now
    assert "secure: v1:xyz" in (tmp_path / "stacks" / "Pulumi.prod-3.yaml").read_text(encoding="utf-8")
    assert project.load_environments(tmp_path / "stacks")["prod"].logging.retention_days == 400


def test_shard_refuses_shards_that_disagree_and_a_foreign_file_in_the_way(fleet, tmp_path):
    root, _ = fleet
    shutil.copytree(root / "stacks", tmp_path / "stacks")
    agents = _names(fleet)
    write_shards(plan_shards("prod", 4000, agents, tmp_path / "stacks", "agentiam shard"))
    one = tmp_path / "stacks" / "Pulumi.prod-1.yaml"
    one.write_text(one.read_text(encoding="utf-8").replace("retention_days: 365", "retention_days: 400"),
                   encoding="utf-8")
    with pytest.raises(UserError) as caught:
        plan_shards("prod", 800, agents, tmp_path / "stacks", "agentiam shard")
    assert any(f.rule_id == "CFG004" for f in caught.value.findings)
    shutil.rmtree(tmp_path / "stacks")
    shutil.copytree(root / "stacks", tmp_path / "stacks")
    staging = (tmp_path / "stacks" / "Pulumi.staging.yaml").read_text(encoding="utf-8")
    # A stack of another environment (qa) whose file name is the one shard 2 of prod would take.
    (tmp_path / "stacks" / "Pulumi.prod-2.yaml").write_text(staging.replace("name: staging", "name: qa"),
                                                             encoding="utf-8")
    with pytest.raises(UserError, match="Pulumi.prod-2.yaml exists and is not shard 2 of environment 'prod'"):
        plan_shards("prod", 800, agents, tmp_path / "stacks", "agentiam shard")


def test_the_fleet_page_shows_the_finding_the_guardrail_gives(fleet):
    root, specs = fleet
    (finding,) = _quota_findings(specs, project.load_environments(root / "stacks"))
    shown = dataclasses.replace(finding, file=Path(finding.file).relative_to(root).as_posix()).render()
    page = (REPO / "docs" / "fleet.md").read_text(encoding="utf-8")
    example = page.split("```text\n", 1)[1].split("```", 1)[0]
    assert " ".join(example.split("\n")).strip() == shown, "\n".join(
        textwrap.wrap(shown, 118, break_long_words=False, break_on_hyphens=False))


def test_a_stack_file_the_line_edit_cannot_rewrite_safely_is_refused_untouched(tmp_path):
    shutil.copytree(REPO / "stacks", tmp_path / "stacks", ignore=shutil.ignore_patterns("sharded-example"))
    owner = tmp_path / "stacks" / "Pulumi.staging.yaml"
    data = yaml.safe_load(owner.read_text(encoding="utf-8"))
    # The whole environment as one flow mapping: no line holds `selection` alone.
    flow = "config:\n  aws:region: eu-west-1\n  agentiam:environment: " + json.dumps(
        data["config"]["agentiam:environment"]) + "\n"
    owner.write_text(flow, encoding="utf-8")
    assert project.load_environments(tmp_path / "stacks")["staging"].name == "staging"
    with pytest.raises(UserError, match="cannot rewrite its `selection` block safely"):
        plan_shards("staging", 1, ["agent-a", "agent-b", "agent-c"], tmp_path / "stacks", "agentiam shard")
    assert owner.read_text(encoding="utf-8") == flow
