"""`agentiam inventory` offline: formats, filters, output file, exit codes, what --live needs, and the imports it
does not make."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from click.testing import CliRunner

from agentiam.cli.main import cli
from tests.cli.test_import_isolation import _run

TODAY = ("--today", "2026-12-01")


def test_json_of_every_environment(project_dir: Path) -> None:
    result = CliRunner().invoke(cli, ["inventory", "--format", "json", *TODAY])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [e["name"] for e in data["environments"]] == ["dev", "prod", "staging"]
    assert len(data["entries"]) == 24 and data["tiers"]["high"] == 5


def test_filters_and_an_output_file(project_dir: Path) -> None:
    out = project_dir / "prod-high.csv"
    result = CliRunner().invoke(cli, ["inventory", "--env", "prod", "--min-tier", "high", "--format", "csv",
                                      "--output", str(out), *TODAY])
    assert result.exit_code == 0 and result.stdout == ""
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert [(r["agent"], r["environment"], r["tier"]) for r in rows] == [("payment-gateway-sync", "prod", "high")]
    team = CliRunner().invoke(cli, ["inventory", "--team", "sre", "--function", "monitoring", "--format", "json",
                                    *TODAY])
    assert {e["agent"] for e in json.loads(team.stdout)["entries"]} == {"incident-log-summariser"}


def test_text_and_markdown(project_dir: Path) -> None:
    text = CliRunner().invoke(cli, ["inventory", "--env", "dev", "--agent", "invoice-reader", *TODAY])
    assert text.exit_code == 0
    assert "invoice-reader in dev: blast radius medium" in text.stdout
    page = CliRunner().invoke(cli, ["inventory", "--format", "markdown", "--tier", "none", *TODAY])
    assert page.stdout.startswith("# agentiam inventory\n")
    assert "## `ticket-triage` in `prod`: ⚪ none" in page.stdout


def test_warnings_go_to_stderr_and_the_document_stays_clean(project_dir: Path) -> None:
    result = CliRunner().invoke(cli, ["inventory", "--format", "json", "--today", "2027-03-10"])
    assert result.exit_code == 0
    assert "AGT005" in result.stderr and json.loads(result.stdout)["today"] == "2027-03-10"


def test_an_invalid_spec_exits_1_with_its_findings(project_dir: Path) -> None:
    path = project_dir / "agent_specs" / "billing" / "invoice-reader.yaml"
    path.write_text(path.read_text().replace("token_max_ttl: 24h", "token_max_ttl: 48h"))
    result = CliRunner().invoke(cli, ["inventory", *TODAY])
    assert result.exit_code == 1 and result.stdout == ""
    assert "AGT010  credentials.token_max_ttl: token_max_ttl 48h exceeds the 24h cap" in result.stderr


def test_bad_input_exits_2(project_dir: Path) -> None:
    unknown = CliRunner().invoke(cli, ["inventory", "--env", "qa", *TODAY])
    assert unknown.exit_code == 2 and "no stack config for environment(s) qa" in unknown.stderr
    offline = CliRunner().invoke(cli, ["inventory", "--no-aws", "--request-timeout", "3", *TODAY])
    assert offline.exit_code == 2 and "--no-aws, --request-timeout only apply with --live" in offline.stderr
    two = CliRunner().invoke(cli, ["inventory", "--live", "--env", "dev", "--env", "prod", *TODAY])
    assert two.exit_code == 2 and "give exactly one --env" in two.stderr
    no_vault = CliRunner().invoke(cli, ["inventory", "--live", "--env", "dev", "--no-aws", *TODAY],
                                  env={"VAULT_ADDR": None, "VAULT_TOKEN": None})
    assert no_vault.exit_code == 2 and "set VAULT_ADDR (or --vault-addr) and VAULT_TOKEN" in no_vault.stderr
    bad_output = CliRunner().invoke(cli, ["inventory", "--output", str(project_dir / "missing" / "x.md"), *TODAY])
    assert bad_output.exit_code == 2 and "cannot write" in bad_output.stderr


def test_the_offline_inventory_imports_no_pulumi_cloud_sdk_or_vault_client() -> None:
    for fmt in ("text", "json", "csv", "markdown"):
        lines = _run("inventory", "--format", fmt, "--today", "2026-12-01")
        assert lines[-2] == "EXIT 0" and lines[-1] == "LOADED ", (fmt, lines[-2:])
