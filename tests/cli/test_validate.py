"""`agentiam validate`: formats and exit codes (0 ok, 1 guardrail errors, 2 unreadable or malformed input)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from click.testing import CliRunner

from agentiam.cli.main import cli

REPO = Path(__file__).resolve().parents[2]
RULES = REPO / "tests" / "fixtures" / "specs" / "rules"
BROKEN = REPO / "tests" / "fixtures" / "specs" / "broken"


TODAY = "2026-12-01"  # expiry is judged as of a fixed day, so the suite means the same on every day it runs


def _run(*args: str, today: str = TODAY):
    return CliRunner().invoke(cli, ["validate", "--today", today, *args], catch_exceptions=False)


def test_examples_are_valid(project_dir):
    result = _run()
    assert result.exit_code == 0, result.output
    assert result.output.endswith("spec(s) checked: 0 error(s), 0 warning(s) - ok\n")
    count = len(list(Path("agent_specs").rglob("*.yaml")))
    assert result.output == f"{count} spec(s) checked: 0 error(s), 0 warning(s) - ok\n"


def test_guardrail_errors_exit_1_with_located_lines(project_dir):
    shutil.copy(RULES / "AGT025" / "fail-prod-name.yaml", "agent_specs/fail-prod-name.yaml")
    result = _run()
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[0] == (
        "agent_specs/fail-prod-name.yaml:16:19  error  AGT025  permissions.aws[read-invoices].resources"
        "[arn:aws:s3:::billing-prod-invoices/*]: names environment 'prod' ('billing-prod-invoices/*') in dev; an agent "
        "may only name resources of its own environment (a dev agent never names another environment's ARN)")
    assert lines[-1].endswith("1 error(s), 0 warning(s) - FAILED")


def test_warnings_alone_exit_0(project_dir):
    shutil.copy(RULES / "AGT006" / "fail-mismatch.yaml", "agent_specs/fail-mismatch.yaml")
    result = _run()
    assert result.exit_code == 0
    assert "AGT006" in result.output and "0 error(s), 1 warning(s) - ok" in result.output


def test_malformed_input_exits_2_even_with_guardrail_errors(project_dir):
    shutil.copy(BROKEN / "malformed.yaml", "agent_specs/malformed.yaml")
    shutil.copy(RULES / "AGT010" / "fail-25h.yaml", "agent_specs/fail-25h.yaml")
    result = _run("agent_specs/malformed.yaml", "agent_specs/fail-25h.yaml")
    assert result.exit_code == 2
    assert "agent_specs/malformed.yaml:4:8  error  YAML001" in result.output
    assert "agent_specs/fail-25h.yaml:14:18  error  AGT010" in result.output


def test_json_format(project_dir):
    shutil.copy(RULES / "AGT012" / "fail-short.yaml", "agent_specs/fail-short.yaml")
    result = _run("--format", "json", "agent_specs/fail-short.yaml")
    assert result.exit_code == 1
    assert json.loads(result.output) == {
        "files_checked": 1, "errors": 1, "warnings": 0,
        "findings": [{"file": "agent_specs/fail-short.yaml", "line": 13, "column": 20, "rule_id": "AGT012",
                      "severity": "error", "path": "credentials.aws_session_ttl",
                      "message": "aws_session_ttl 10m is below the STS minimum of 15m"}]}


def test_sarif_format(project_dir):
    shutil.copy(RULES / "AGT020" / "fail-typo.yaml", "agent_specs/fail-typo.yaml")
    shutil.copy(RULES / "AGT005" / "fail-30-days.yaml", "agent_specs/fail-30-days.yaml")
    result = _run("--format", "sarif", "agent_specs/fail-typo.yaml", "agent_specs/fail-30-days.yaml")
    assert result.exit_code == 1
    log = json.loads(result.output)
    assert log["version"] == "2.1.0" and log["$schema"].endswith("sarif-2.1.0.json")
    run = log["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    warning, *typos = run["results"]
    assert (warning["ruleId"], warning["level"]) == ("AGT005", "warning")
    assert rules[warning["ruleIndex"]]["defaultConfiguration"] == {"level": "warning"}
    first = typos[0]
    assert rules[first["ruleIndex"]]["id"] == first["ruleId"] == "AGT020"
    assert rules[first["ruleIndex"]]["help"]["text"].startswith("A misspelt action is silently useless")
    assert first["level"] == "error"
    assert first["locations"][0]["physicalLocation"] == {
        "artifactLocation": {"uri": "agent_specs/fail-typo.yaml", "uriBaseId": "%SRCROOT%"},
        "region": {"startLine": 15, "startColumn": 17}}
    assert [r["locations"][0]["physicalLocation"]["region"]["startColumn"] for r in typos] == [17, 31, 45]


def test_missing_stacks_folder_is_one_config_error(project_dir):
    # A wrong --stacks is bad input (exit 2), not an AGT003 violation in every spec for every environment.
    result = _run("--stacks", "nowhere")
    assert result.exit_code == 2
    assert result.output == ("error: nowhere: no such folder of stack configs (Pulumi.<stack>.yaml); run from the "
                             "project root or pass --stacks\n")


def test_empty_stacks_folder_makes_every_environment_unknown(project_dir):
    Path("no-stacks").mkdir()
    result = _run("agent_specs/billing/invoice-reader.yaml", "--stacks", "no-stacks")
    assert result.exit_code == 1
    assert [line.split("  ")[2] for line in result.output.splitlines()[:-1]] == ["AGT003"] * 3
    assert "no Pulumi.<stack>.yaml declares `name: dev`); known environments: none" in result.output


def test_today_option_moves_the_expiry_check(project_dir):
    result = _run("agent_specs/billing/invoice-reader.yaml", today="2027-10-01")
    assert result.exit_code == 1
    assert result.output.splitlines()[0] == (
        "agent_specs/billing/invoice-reader.yaml:12:10  error  AGT004  expires: identity expired on 2027-09-30; the sponsor "
        "must re-approve it with a new date (or set status: revoked)")
