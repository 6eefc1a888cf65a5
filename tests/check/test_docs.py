"""docs/check.md and docs/compliance.md: the rule and control tables come from the registries, and the example
outputs are what the tool prints on tests/check/docs_scenario.py (every finding type once). After an intended
change: AGENTIAM_REGEN_GOLDEN=1 python -m pytest tests/check/test_docs.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from agentiam.check.render import rules_markdown
from agentiam.check.rules import CHECK_RULES
from agentiam.cli.main import cli
from agentiam.compliance.controls import CONTROLS
from tests.audit.cloudtrail_records import stamp
from tests.check import docs_scenario as scenario
from tests.docs import check_section

DOCS = Path(__file__).resolve().parents[2] / "docs"


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("docs-scenario")
    scenario.build(root)
    return root


def _section(path: Path, name: str, body: str) -> None:
    check_section(f"docs/{path.name}", name, body)


def _run(project: Path, monkeypatch: pytest.MonkeyPatch, *args: str) -> str:
    monkeypatch.chdir(project)
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code in (0, 1), result.output
    return result.stdout


def _check(project: Path, monkeypatch: pytest.MonkeyPatch, fmt: str) -> str:
    return _run(project, monkeypatch, "check", "logs/vault-audit.log", "logs/cloudtrail-2026-03.json.gz",
                "--audit-ids", "logs/audit-ids.json", "--since", stamp(scenario.SINCE), "--until",
                stamp(scenario.UNTIL), "--format", fmt)


def test_the_rules_table_is_the_registry() -> None:
    _section(DOCS / "check.md", "check-rules", rules_markdown())


def test_the_example_shows_every_finding_type(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    report = json.loads(_check(project, monkeypatch, "json"))
    assert {f["rule_id"] for f in report["findings"]} == {rule.id for rule in CHECK_RULES}
    text = _check(project, monkeypatch, "text")
    _section(DOCS / "check.md", "check-example", "```console\n$ agentiam check logs/vault-audit.log "
             "logs/cloudtrail-2026-03.json.gz --audit-ids logs/audit-ids.json --since 2026-03-01 --until "
             "2026-03-31\n" + text + "```\n")
    _section(DOCS / "check.md", "check-example-markdown", _check(project, monkeypatch, "markdown"))


def test_the_compliance_example_is_what_the_command_prints(project: Path, monkeypatch: pytest.MonkeyPatch,
                                                           tmp_path: Path) -> None:
    check = tmp_path / "check.json"
    check.write_text(_check(project, monkeypatch, "json"))
    text = _run(project, monkeypatch, "compliance", "--today", "2026-04-01", "--check-report", str(check))
    assert text.count("\n## ") == len(CONTROLS)
    _section(DOCS / "compliance.md", "compliance-example", text.replace(str(check), "check.json"))
