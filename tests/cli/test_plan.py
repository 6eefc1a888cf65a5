"""`agentiam plan`: text and JSON; the JSON is byte-identical across runs and whatever order specs are read in."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import random
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from agentiam import project
from agentiam.cli.main import cli
from agentiam.plan.build import build_plan, plan_json

REPO = Path(__file__).resolve().parents[2]
BROKEN = REPO / "tests" / "fixtures" / "specs" / "broken"
RULES = REPO / "tests" / "fixtures" / "specs" / "rules"


# Every example spec is valid on this date (the earliest expires 2027-03-31), whatever day the suite runs.
TODAY = "2026-12-01"
TODAY_DATE = dt.date(2026, 12, 1)


@pytest.fixture
def far_expiry(project_dir) -> Path:
    """The committed examples, planned with `--today` (see `_plan`) so their expiry dates need no rewriting."""
    return project_dir


def _plan(*args: str, today: str = TODAY):
    return CliRunner().invoke(cli, ["plan", "--today", today, *args], catch_exceptions=False)


def test_text_plan_lists_every_agent_of_the_environment(far_expiry):
    result = _plan("--env", "staging")
    assert result.exit_code == 0, result.output
    assert "agentiam plan: staging (account 222222222222, eu-west-1): 8 agent(s)" in result.output
    for agent in ("churn-forecaster", "kb-answer-retriever", "ticket-triage"):
        assert agent in result.output
    assert "access-review-reporter" not in result.output  # deployed to prod only


def test_json_plan_is_byte_identical_across_runs(far_expiry):
    first, second = _plan("--env", "prod", "--format", "json"), _plan("--env", "prod", "--format", "json")
    assert first.exit_code == second.exit_code == 0
    assert first.output == second.output
    plan = json.loads(first.output)
    statuses = {a["agent"]: a["status"] for a in plan["agents"]}
    assert statuses["ticket-triage"] == "suspended" and statuses["invoice-reader"] == "active"
    assert [a["agent"] for a in plan["agents"]] == sorted(statuses)


def test_json_plan_does_not_depend_on_the_order_files_are_created_in(far_expiry, tmp_path, monkeypatch):
    reference = _plan("--env", "dev", "--format", "json").output
    files = sorted(Path("agent_specs").rglob("*.yaml"), reverse=True)
    other = tmp_path / "reversed"
    for spec in files:  # created in the opposite order: directory listing order differs
        target = other / "agent_specs" / spec.relative_to("agent_specs")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(spec, target)
    shutil.copytree("stacks", other / "stacks")
    monkeypatch.chdir(other)
    assert _plan("--env", "dev", "--format", "json").output == reference


def test_plan_does_not_depend_on_the_order_specs_are_given_in(far_expiry):
    result = project.validate([Path("agent_specs")], Path("stacks"), TODAY_DATE)
    environment = project.load_environments(Path("stacks"))["dev"]
    reference = plan_json(build_plan(result.specs, environment))
    orders = list(itertools.islice(itertools.permutations(result.specs), 5))
    rng = random.Random(7)
    for _ in range(5):
        shuffled = list(result.specs)
        rng.shuffle(shuffled)
        orders.append(tuple(shuffled))
    for order in orders:
        assert plan_json(build_plan(list(order), environment)) == reference


def test_invalid_spec_plans_nothing_exit_1(far_expiry):
    shutil.copy(RULES / "AGT021" / "fail-service-wildcard.yaml", "agent_specs/fail-service-wildcard.yaml")
    result = CliRunner().invoke(cli, ["plan", "--today", TODAY, "--env", "dev", "--format", "json"])
    assert result.exit_code == 1
    assert result.stdout == ""
    assert "agent_specs/fail-service-wildcard.yaml:15:17  error  AGT021" in result.stderr
    assert result.stderr.endswith("1 error(s); nothing was planned.\n")


def test_malformed_spec_exit_2(far_expiry):
    shutil.copy(BROKEN / "duplicate-key.yaml", "agent_specs/duplicate-key.yaml")
    result = CliRunner().invoke(cli, ["plan", "--today", TODAY, "--env", "dev"])
    assert result.exit_code == 2
    assert "agent_specs/duplicate-key.yaml:8:1  error  YAML002" in result.stderr


def test_unknown_environment_exit_2(far_expiry):
    result = CliRunner().invoke(cli, ["plan", "--env", "qa"])
    assert result.exit_code == 2
    assert "no such stack config; known stacks: dev, prod, staging" in result.stderr


def test_today_option_judges_expiry_as_of_that_date(far_expiry):
    # invoice-reader expires 2027-09-30: planned the day before, refused the day after (AGT004).
    assert _plan("--env", "dev", "--format", "json", today="2027-03-30").exit_code == 0
    result = CliRunner().invoke(cli, ["plan", "--today", "2027-10-01", "--env", "dev", "--format", "json"])
    assert result.exit_code == 1
    assert result.stdout == ""
    assert "agent_specs/billing/invoice-reader.yaml:12:10  error  AGT004  expires: identity expired on 2027-09-30" \
        in result.stderr


def test_today_option_is_a_date(far_expiry):
    result = CliRunner().invoke(cli, ["plan", "--today", "2027-02-30", "--env", "dev"])
    assert result.exit_code == 2
    assert "Invalid value for '--today'" in result.stderr


def test_warnings_go_to_stderr_and_the_json_plan_stays_clean(far_expiry):
    # ticket-triage expires 2027-03-31: planned on 2027-03-15 it is still planned, with an AGT005 warning.
    result = CliRunner().invoke(cli, ["plan", "--today", "2027-03-15", "--env", "dev", "--format", "json"])
    assert result.exit_code == 0, result.stderr
    assert "ticket-triage" in {a["agent"] for a in json.loads(result.stdout)["agents"]}
    assert "agent_specs/support/ticket-triage.yaml" in result.stderr and "AGT005" in result.stderr
