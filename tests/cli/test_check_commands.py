"""`check`, `events` and `compliance` read logs and specs only: no Pulumi, no cloud SDK, no Vault client unless
asked to talk to Vault (`--vault-addr`); and `check --format sarif` locates findings on the spec lines."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from click.testing import CliRunner

from agentiam.cli.main import cli
from tests.audit import cloudtrail_records as ct
from tests.check.history_repo import copy_examples
from tests.cli.test_import_isolation import _run

WHEN = dt.datetime(2026, 11, 20, tzinfo=dt.timezone.utc)


def test_check_events_and_compliance_import_no_pulumi_cloud_sdk_or_vault_client(tmp_path: Path) -> None:
    log = tmp_path / "trail.jsonl"
    log.write_bytes(ct.json_lines([ct.human_call("111111111111", WHEN)]))
    for args in (["check", str(log), "--fail-on", "never"], ["events", str(log), "--output", str(tmp_path / "e")],
                 ["compliance", "--format", "json", "--output", str(tmp_path / "c.json")]):
        lines = _run(*args)
        assert lines[-2] == "EXIT 0" and lines[-1] == "LOADED ", (args, lines)


def test_check_sarif_locates_each_finding_on_its_spec_line(tmp_path: Path) -> None:
    root = copy_examples(tmp_path / "repo", dt.datetime(2026, 1, 5, tzinfo=dt.timezone.utc))
    role = "arn:aws:iam::111111111111:role/agentiam/dev/agent-dev-invoice-reader"
    log = tmp_path / "trail.jsonl"
    log.write_bytes(ct.json_lines([ct.agent_call(role, "s3:PutObject", WHEN, error="AccessDenied",
                                                 resource="arn:aws:s3:::billing-dev-invoices/[x](https://e.example)")]))
    result = CliRunner().invoke(cli, ["check", str(log), "--specs", str(root / "agent_specs"), "--stacks",
                                      str(root / "stacks"), "--since", "2026-11-19", "--until", "2026-11-21",
                                      "--format", "sarif"])
    assert result.exit_code == 1, result.output
    run = json.loads(result.stdout)["runs"][0]
    rules = [rule["id"] for rule in run["tool"]["driver"]["rules"]]
    (finding,) = [r for r in run["results"] if r["ruleId"] == "CHK010"]
    assert rules[finding["ruleIndex"]] == "CHK010" and finding["level"] == "error"
    location = finding["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"].endswith("agent_specs/billing/invoice-reader.yaml")
    assert location["region"]["startLine"] >= 1
    assert "\\[x\\](https://e.example)" in finding["message"]["text"]  # no embedded link
