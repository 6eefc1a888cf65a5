"""`agentiam check` on CloudTrail records built in the documented format: every planted condition is found, the
clean records give no finding, whichever of the three delivery shapes the records come in."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from agentiam.check.grants import agent_grants
from agentiam.check.project import load_project
from agentiam.cli.main import cli
from agentiam import project as core
from tests.audit import cloudtrail_records as ct
from tests.check.history_repo import copy_examples

COMMITTED = dt.datetime(2026, 1, 5, tzinfo=dt.timezone.utc)
SINCE = dt.datetime(2026, 3, 1, tzinfo=dt.timezone.utc)
UNTIL = dt.datetime(2026, 3, 31, tzinfo=dt.timezone.utc)
PRINCIPAL = "arn:aws:iam::111111111111:role/vault-aws-secrets-engine"


@pytest.fixture(scope="module")
def examples(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_examples(tmp_path_factory.mktemp("examples"), COMMITTED)


def _dev_grants(root: Path) -> dict[str, Any]:
    loaded = load_project(root / "agent_specs", root / "stacks", ("dev",))
    configs = core.load_environments(root / "stacks")
    return {e.agent: (e, agent_grants(e, loaded.specs[e.source_file], configs["dev"])) for e in loaded.plans[0].agents}


def _concrete(pattern: str) -> str:
    return pattern.replace("*", "x").replace("?", "x")


def _clean(root: Path) -> list[dict[str, Any]]:
    """Every AWS grant of every dev agent used once, mid-window, and a human's calls at both ends (coverage)."""
    records = [ct.human_call("111111111111", SINCE + dt.timedelta(minutes=1))]
    moment = SINCE + dt.timedelta(days=3)
    for entry, grants in _dev_grants(root).values():
        records.append(ct.assume_role(entry.aws.role_arn, PRINCIPAL, moment))
        for grant in grants.grants:
            if grant.system == "aws":
                records.append(ct.agent_call(entry.aws.role_arn, grant.action, moment,
                                             resource=_concrete(grant.resources[0])))
                moment += dt.timedelta(minutes=7)
    records.append(ct.human_call("111111111111", UNTIL - dt.timedelta(minutes=1)))
    return records


def _run(root: Path, *logs: Path, extra: tuple[str, ...] = ()) -> tuple[int, dict[str, Any]]:
    result = CliRunner().invoke(cli, ["check", *map(str, logs), "--specs", str(root / "agent_specs"),
                                      "--stacks", str(root / "stacks"), "--since", ct.stamp(SINCE),
                                      "--until", ct.stamp(UNTIL), "--format", "json", *extra])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, json.loads(result.stdout)


def _found(report: dict[str, Any]) -> set[tuple[str, str | None, str]]:
    return {(f["rule_id"], f["agent"], f["subject"]) for f in report["findings"]}


@pytest.mark.parametrize("shape", ["delivery", "lines", "subscription"])
def test_clean_records_give_no_finding_in_any_delivery_shape(examples: Path, tmp_path: Path, shape: str) -> None:
    records = _clean(examples)
    log = tmp_path / "trail.log"
    writers = {"delivery": ct.delivery_file, "lines": ct.json_lines, "subscription": ct.subscription}
    log.write_bytes(writers[shape](records))
    code, report = _run(examples, log, extra=("--env", "dev"))
    aws_only = [f for f in report["findings"] if f["rule_id"] not in ("CHK002", "CHK003")]
    assert aws_only == [] and code == 0
    assert report["input"]["aws"]["records"] == len(records)
    dev = {a["agent"]: a for a in report["agents"] if a["environment"] == "dev"}
    assert dev["invoice-reader"]["events"] == 3  # AssumeRole + GetObject + ListBucket


def test_planted_conditions_are_found(examples: Path, tmp_path: Path) -> None:
    grants = _dev_grants(examples)
    reader, _ = grants["invoice-reader"]
    clean = [r for r in _clean(examples)
             if not (r.get("userIdentity", {}).get("sessionContext", {}).get("sessionIssuer", {}).get("arn")
                     == reader.aws.role_arn and r["eventName"] == "ListBucket")]  # s3:ListBucket left unused
    mid = SINCE + dt.timedelta(days=10)
    planted = [
        ct.agent_call(reader.aws.role_arn, "s3:PutObject", mid, resource="arn:aws:s3:::billing-dev-invoices/x.pdf",
                      error="AccessDenied"),
        ct.agent_call(reader.aws.role_arn, "ec2:DescribeInstances", mid, error="Client.UnauthorizedOperation"),
        # a role of the same name in another account is not the agent
        ct.agent_call(reader.aws.role_arn.replace("111111111111", "999999999999"), "s3:DeleteBucket", mid,
                      error="AccessDenied"),
        # allowed although no statement grants it: a policy attached outside agentiam
        ct.agent_call(reader.aws.role_arn, "kms:Decrypt", mid, resource="arn:aws:kms:eu-west-1:111111111111:key/1"),
    ]
    log = tmp_path / "trail.json.gz"
    log.write_bytes(ct.delivery_file(clean + planted))
    code, report = _run(examples, log, extra=("--env", "dev"))
    found = {(rule, agent, subject) for rule, agent, subject in _found(report) if rule not in ("CHK002", "CHK003")}
    assert found == {
        ("CHK001", "invoice-reader", "s3:ListBucket on arn:aws:s3:::billing-dev-invoices, "
                                     "arn:aws:s3:::billing-dev-invoices/*"),
        ("CHK010", "invoice-reader", "s3:PutObject arn:aws:s3:::billing-dev-invoices/x.pdf"),
        ("CHK010", "invoice-reader", "ec2:DescribeInstances *"),
        ("CHK012", "invoice-reader", "kms:Decrypt arn:aws:kms:eu-west-1:111111111111:key/1"),
    }
    assert code == 1  # high findings, --fail-on medium
    unused = next(f for f in report["findings"] if f["rule_id"] == "CHK001")
    assert unused["file"].endswith("agent_specs/billing/invoice-reader.yaml")
    assert unused["field"] == "permissions.aws[read-invoices].actions[s3:ListBucket]"
    assert unused["suggestion"].startswith("keep it in the spec: not judged in prod, staging")
    denied = next(f for f in report["findings"] if f["subject"].startswith("s3:PutObject"))
    assert denied["severity"] == "high" and denied["count"] == 1
    assert denied["evidence"][0]["lines"] == [f"{log}#Records[{len(clean)}]"]
    assert denied["evidence"][0]["time"] == ct.stamp(mid)


def test_an_identity_younger_than_the_window_is_not_judged(tmp_path: Path) -> None:
    young = copy_examples(tmp_path / "young", SINCE + dt.timedelta(days=5))  # committed inside the window
    log = tmp_path / "trail.jsonl"
    log.write_bytes(ct.json_lines(_clean(young)[:3] + [ct.human_call("111111111111", UNTIL)]))
    code, report = _run(young, log, extra=("--env", "dev"))
    assert [f for f in report["findings"] if f["rule_id"].startswith("CHK00")] == []
    reasons = {a["agent"]: a["not_judged_because"] for a in report["agents"]}
    assert reasons["invoice-reader"].startswith("granted since 2026-03-06")


def test_input_that_does_not_cover_the_window_judges_no_unused_permission(examples: Path, tmp_path: Path) -> None:
    log = tmp_path / "trail.jsonl"
    log.write_bytes(ct.json_lines(_clean(examples)[1:-1]))  # starts 3 days in, ends early
    _, report = _run(examples, log, extra=("--env", "dev"))
    assert [f for f in report["findings"] if f["rule_id"] == "CHK001"] == []
    assert {a["not_judged_because"] for a in report["agents"]} >= {"the CloudTrail input does not cover the window"}
