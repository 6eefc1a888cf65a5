"""`check --suggest`: the narrowed spec is the smallest textual edit (formatting and comments kept), validated
before it is written, and only for what is unused in every environment of the spec."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from agentiam.check import suggest
from agentiam.check.suggest import SuggestError, apply_edits, plan_edits
from agentiam.cli.main import cli
from tests.audit import cloudtrail_records as ct
from tests.check.history_repo import copy_examples
from tests.check.test_check_cloudtrail import COMMITTED, SINCE, UNTIL

BLOCK = """\
permissions:
  aws:
    # reports the agent writes
    - sid: write-reports   # keep an eye on this one
      actions:
        - s3:PutObject     # the reports
        - s3:GetObject
      resources: [arn:aws:s3:::reports/*]

    # metrics, read only
    - sid: read-metrics
      actions: [cloudwatch:GetMetricData, cloudwatch:ListMetrics]
      resources: ["*"]
  kv:
    - path: team/{agent}/token
      capabilities: [read, list]
name: x
"""


def _edit(text: str, *paths: tuple) -> str:
    return apply_edits(text, plan_edits(text, paths))


def test_an_action_leaves_its_block_list_line_and_every_comment_stays() -> None:
    out = _edit(BLOCK, ("permissions", "aws", 0, "actions", 0))
    assert out == BLOCK.replace("        - s3:PutObject     # the reports\n", "")


def test_an_action_leaves_a_flow_list_first_middle_or_last() -> None:
    assert "[cloudwatch:ListMetrics]" in _edit(BLOCK, ("permissions", "aws", 1, "actions", 0))
    assert "[cloudwatch:GetMetricData]" in _edit(BLOCK, ("permissions", "aws", 1, "actions", 1))
    assert "capabilities: [list]" in _edit(BLOCK, ("permissions", "kv", 0, "capabilities", 0))


def test_a_statement_whose_every_action_goes_is_removed_with_its_lines_only() -> None:
    out = _edit(BLOCK, ("permissions", "aws", 1, "actions", 0), ("permissions", "aws", 1, "actions", 1))
    assert "read-metrics" not in out and "cloudwatch" not in out
    assert "    # metrics, read only\n" in out and "# keep an eye on this one" in out  # comments around stay
    assert out.splitlines()[-4:] == ["  kv:", "    - path: team/{agent}/token", "      capabilities: [read, list]",
                                     "name: x"]


def test_a_list_left_empty_becomes_an_empty_flow_list() -> None:
    out = _edit(BLOCK, ("permissions", "aws", 0), ("permissions", "aws", 1))
    assert out.startswith("permissions:\n  aws: []\n  kv:\n")
    out = _edit(BLOCK, ("permissions", "kv", 0, "capabilities", 0), ("permissions", "kv", 0, "capabilities", 1))
    assert out.endswith("  kv: []\nname: x\n")


def test_a_path_the_document_does_not_have_is_refused() -> None:
    with pytest.raises(SuggestError):
        plan_edits(BLOCK, [("permissions", "databases", 0)])


def _all_environment_records(root: Path) -> list[dict]:
    """invoice-reader uses s3:GetObject in every environment, never s3:ListBucket; a human covers the window."""
    records = []
    for env, account in (("dev", "111111111111"), ("staging", "222222222222"), ("prod", "333333333333")):
        role = f"arn:aws:iam::{account}:role/agentiam/{env}/agent-{env}-invoice-reader"
        records += [ct.human_call(account, SINCE + dt.timedelta(minutes=1)),
                    ct.agent_call(role, "s3:GetObject", SINCE + dt.timedelta(days=2),
                                  resource=f"arn:aws:s3:::billing-{env}-invoices/2026/01.pdf"),
                    ct.human_call(account, UNTIL - dt.timedelta(minutes=1))]
    return records


def test_suggest_writes_the_narrowed_spec_only_for_what_is_unused_everywhere(tmp_path: Path) -> None:
    root = copy_examples(tmp_path / "repo", COMMITTED)
    log = tmp_path / "trail.jsonl"
    log.write_bytes(ct.json_lines(_all_environment_records(root)))
    spec = root / "agent_specs/billing/invoice-reader.yaml"
    before = spec.read_text()
    result = CliRunner().invoke(cli, ["check", str(log), "--specs", str(root / "agent_specs"), "--stacks",
                                      str(root / "stacks"), "--since", ct.stamp(SINCE), "--until", ct.stamp(UNTIL),
                                      "--env", "dev", "--env", "staging", "--env", "prod", "--format", "json",
                                      "--suggest"], catch_exceptions=False)
    report = json.loads(result.stdout)
    removable = {(f["agent"], f["field"]) for f in report["findings"] if f["removable"]}
    assert ("invoice-reader", "permissions.aws[read-invoices].actions[s3:ListBucket]") in removable
    assert ("invoice-reader", "permissions.aws[read-invoices].actions[s3:GetObject]") not in removable
    after = spec.read_text()
    assert after == before.replace("actions: [s3:GetObject, s3:ListBucket]", "actions: [s3:GetObject]")
    assert "suggest: narrowed" in result.stderr and "s3:ListBucket" in result.stderr
    # the narrowed specs pass validation as written
    done = CliRunner().invoke(cli, ["validate", str(root / "agent_specs"), "--stacks", str(root / "stacks")])
    assert done.exit_code == 0 and " 0 error(s)" in done.stdout, done.stdout


def test_suggest_writes_nothing_when_the_narrowed_spec_would_not_validate(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    root = copy_examples(tmp_path / "repo", COMMITTED)
    log = tmp_path / "trail.jsonl"
    log.write_bytes(ct.json_lines(_all_environment_records(root)))
    spec = root / "agent_specs/billing/invoice-reader.yaml"
    shutil.copy(spec, tmp_path / "original.yaml")
    real = suggest.apply_edits
    # an edit gone wrong (here: a field the model refuses) must be caught by the validation before writing
    monkeypatch.setattr(suggest, "apply_edits", lambda text, edits: real(text, edits) + "surprise: true\n")
    result = CliRunner().invoke(cli, ["check", str(log), "--specs", str(root / "agent_specs"), "--stacks",
                                      str(root / "stacks"), "--since", ct.stamp(SINCE), "--until",
                                      ct.stamp(UNTIL), "--env", "dev", "--env", "staging", "--env", "prod",
                                      "--suggest"], catch_exceptions=False)
    assert spec.read_text() == (tmp_path / "original.yaml").read_text()
    assert "left as it is: the narrowed spec would not validate" in result.stderr and "SPEC001" in result.stderr
