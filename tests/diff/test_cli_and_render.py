"""`agentiam diff` end to end: exit codes, formats, GitHub annotations, and the PR comment pinned by a golden file.

Regenerate the golden file after an intended change: AGENTIAM_REGEN_GOLDEN=1 python -m pytest tests/diff
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from agentiam.cli.main import cli
from agentiam.render.diff_markdown import MARKER
from tests.diff.conftest import FIXTURES, INVOICE, PAYMENT, SpecRepo

GOLDEN = FIXTURES / "pull-request.md"
GOLDEN_TEXT = FIXTURES / "pull-request.txt"


def run(repo: SpecRepo, monkeypatch: pytest.MonkeyPatch, *args: str, env: dict[str, str] | None = None):
    monkeypatch.chdir(repo.root)
    for key in ("GITHUB_ACTIONS", "GITHUB_STEP_SUMMARY"):
        monkeypatch.delenv(key, raising=False)
    for key, value in (env or {}).items():
        monkeypatch.setenv(key, value)
    return CliRunner().invoke(cli, ["diff", *args])


def pull_request(repo: SpecRepo) -> None:
    """A realistic PR on the bundled billing agents: one risky, one ordinary widening, one tightening."""
    repo.edit(INVOICE, "actions: [s3:GetObject, s3:ListBucket]", "actions: [s3:GetObject, s3:ListBucket, iam:PassRole]")
    repo.edit(PAYMENT, "      purpose: create and confirm payouts\n",
              "      purpose: create and confirm payouts\n    - host: hooks.slack.com\n"
              "      purpose: post payout summaries to the billing channel\n")
    repo.edit(PAYMENT, "      capabilities: [read]\n", "      capabilities: [read]\n"
              "    - path: billing/{agent}/webhooks/*\n      capabilities: [read, list]\n")
    repo.edit(PAYMENT, "  token_max_ttl: 8h\n", "  token_max_ttl: 12h\n")
    repo.edit(PAYMENT, "  aws_session_ttl: 30m\n", "  aws_session_ttl: 15m\n")
    repo.commit("pull request", tag="pr")


def widen_only(repo: SpecRepo) -> None:
    repo.edit(PAYMENT, "  token_max_ttl: 8h\n", "  token_max_ttl: 12h\n")
    repo.commit("longer token", tag="pr")


def test_markdown_comment_matches_golden(spec_repo: SpecRepo, monkeypatch: pytest.MonkeyPatch) -> None:
    pull_request(spec_repo)
    result = run(spec_repo, monkeypatch, "--base", "base", "--head", "pr", "--format", "markdown",
                 "--fail-on", "never")
    assert result.exit_code == 0, result.output
    if os.environ.get("AGENTIAM_REGEN_GOLDEN"):
        GOLDEN.write_text(result.output)
    assert result.output == GOLDEN.read_text()
    assert result.output.startswith(MARKER)


def test_text_matches_golden_folds_identical_environments_and_stays_within_120_columns(
        spec_repo: SpecRepo, monkeypatch: pytest.MonkeyPatch) -> None:
    pull_request(spec_repo)
    result = run(spec_repo, monkeypatch, "--base", "base", "--head", "pr", "--fail-on", "never")
    assert result.exit_code == 0, result.output
    if os.environ.get("AGENTIAM_REGEN_GOLDEN"):
        GOLDEN_TEXT.write_text(result.output)
    assert result.output == GOLDEN_TEXT.read_text()
    lines = result.output.splitlines()
    # one block per agent: its three environments changed alike, shown once with {env}
    assert [line.split()[:4] for line in lines if line.startswith(("invoice-reader ", "payment-gateway-sync "))] == [
        ["invoice-reader", "dev,", "staging,", "prod"], ["payment-gateway-sync", "dev,", "staging,", "prod"]]
    assert "arn:aws:s3:::billing-{env}-invoices/*" in result.output
    assert "billing-dev-invoices" not in result.output and "billing-prod-invoices" not in result.output
    for line in lines:  # a longer line holds one value wider than any line could
        assert len(line) <= 120 or len(line.split()) == 1, line


def test_text_folds_only_the_environments_that_read_the_same(spec_repo: SpecRepo,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    # prod overrides token_max_ttl (12h): lowering the spec-wide 24h changes dev and staging alike, not prod
    spec_repo.edit(INVOICE, "  token_max_ttl: 24h\n", "  token_max_ttl: 20h\n")
    spec_repo.edit(PAYMENT, "      purpose: create and confirm payouts\n",
                   "      purpose: create and confirm payouts\n    - host: hooks.slack.com\n"
                   "      purpose: post payout summaries\n")
    spec_repo.commit("shorter token, one more host", tag="pr")
    result = run(spec_repo, monkeypatch, "--base", "base", "--head", "pr", "--fail-on", "never")
    headings = [re.match(r"(\S+) +(\S+(?:, \S+)*)  ", line).groups() for line in result.output.splitlines()
                if line.startswith(("invoice-reader ", "payment-gateway-sync "))]
    assert headings == [("invoice-reader", "dev, staging"), ("invoice-reader", "prod"),
                        ("payment-gateway-sync", "dev, staging, prod")]
    assert result.output.count("token_max_ttl narrowed: 24h -> 20h") == 1


def test_bad_revision_is_a_clear_error(spec_repo: SpecRepo, monkeypatch: pytest.MonkeyPatch) -> None:
    result = run(spec_repo, monkeypatch, "--base", "no-such-branch")
    assert result.exit_code == 2
    assert "unknown revision 'no-such-branch'" in result.output
    # (was `A and B or C`: always true once the command exits through sys.exit)
    assert "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit)  # the handled exit, not an escaped error


def test_outside_a_git_repository_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["diff", "--base", "main"])
    assert result.exit_code == 2 and "error: git rev-parse" in result.output


def test_invalid_head_spec_exits_2_with_the_location(spec_repo: SpecRepo, monkeypatch: pytest.MonkeyPatch) -> None:
    spec_repo.edit(INVOICE, "function: data-retrieval\n", "function: data-retrieval\nfunction: analysis\n")
    result = run(spec_repo, monkeypatch, "--base", "base")
    assert result.exit_code == 2
    line = spec_repo.line_of(INVOICE, "function: analysis")
    assert f"{INVOICE}:{line}:1  error  YAML002" in result.output


@pytest.mark.parametrize(("fail_on", "risky_code", "widen_code"), [
    ("violation", 1, 0), ("high", 1, 0), ("widened", 1, 1), ("never", 0, 0)])
def test_fail_on(spec_repo: SpecRepo, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, fail_on: str,
                 risky_code: int, widen_code: int) -> None:
    widen_only(spec_repo)
    assert run(spec_repo, monkeypatch, "--base", "base", "--head", "pr", "--fail-on", fail_on).exit_code == widen_code
    spec_repo.edit(INVOICE, "actions: [s3:GetObject, s3:ListBucket]", "actions: [s3:GetObject, iam:PassRole]")
    spec_repo.commit("risky", tag="risky")
    assert run(spec_repo, monkeypatch, "--base", "pr", "--head", "risky", "--fail-on",
               fail_on).exit_code == risky_code


def test_json_format(spec_repo: SpecRepo, monkeypatch: pytest.MonkeyPatch) -> None:
    pull_request(spec_repo)
    result = run(spec_repo, monkeypatch, "--base", "base", "--head", "pr", "--format", "json", "--fail-on", "never")
    data = json.loads(result.output)
    assert data["format"] == 2 and data["changed_spec_files"] == [INVOICE, PAYMENT]
    verdicts = {(a["agent"], a["environment"]): a["verdict"] for a in data["agents"]}
    assert verdicts[("invoice-reader", "prod")] == "widened: high risk"
    assert verdicts[("payment-gateway-sync", "dev")] == "widened"
    pass_role = next(c for a in data["agents"] if a["agent"] == "invoice-reader" for c in a["changes"]
                     if c["subject"] == "iam:PassRole")
    assert pass_role["high_risk"] and pass_role["line"] == spec_repo.line_of(INVOICE, "iam:PassRole")


def test_text_format_is_the_default(spec_repo: SpecRepo, monkeypatch: pytest.MonkeyPatch) -> None:
    widen_only(spec_repo)
    result = run(spec_repo, monkeypatch, "--base", "base", "--head", "pr")
    assert result.output.splitlines()[1].split() == ["payment-gateway-sync", "dev,", "staging,", "prod", "widened",
                                                     "(+1", "-0)"]
    assert "token_max_ttl widened: 8h -> 12h" in result.output


def test_github_actions_annotations_and_step_summary(spec_repo: SpecRepo, monkeypatch: pytest.MonkeyPatch,
                                                     tmp_path: Path) -> None:
    pull_request(spec_repo)
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    report = tmp_path / "comment.md"
    result = run(spec_repo, monkeypatch, "--base", "base", "--head", "pr", "--format", "markdown",
                 "--output", str(report), env={"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary)})
    assert result.exit_code == 1  # AGT023: iam:PassRole is a guardrail violation
    assert report.read_text() == GOLDEN.read_text()
    assert summary.read_text() == "earlier step\n" + GOLDEN.read_text()
    lines = result.output.splitlines()
    line = spec_repo.line_of(INVOICE, "iam:PassRole")
    column = spec_repo.read(INVOICE).splitlines()[line - 1].index("iam:PassRole") + 1
    errors = [x for x in lines if x.startswith("::error ")]
    assert errors == [x for x in errors if x.startswith(f"::error file={INVOICE},line={line},col={column},")]
    assert len(errors) == 1 and "(dev%2C staging%2C prod)" in errors[0] and "iam:PassRole" in errors[0]
    warnings = [x for x in lines if x.startswith("::warning ")]
    egress_line = spec_repo.line_of(PAYMENT, "hooks.slack.com")
    assert any(f"file={PAYMENT},line={egress_line}," in x and "new-egress" in x for x in warnings)
    assert all(x.startswith("::") for x in lines)  # the report went to --output, stdout carries commands only


def test_an_unwritable_output_file_is_a_clear_error(spec_repo: SpecRepo, monkeypatch: pytest.MonkeyPatch,
                                                    tmp_path: Path) -> None:
    target = tmp_path / "no-such-folder" / "diff.md"
    result = run(spec_repo, monkeypatch, "--base", "base", "--output", str(target))
    assert result.exit_code == 2, result.output
    assert f"error: --output {target}: cannot write: No such file or directory" in result.output
    assert isinstance(result.exception, SystemExit)
