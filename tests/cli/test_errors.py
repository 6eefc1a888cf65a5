"""Errors as data to the edge: one mapping of the exception hierarchy to exit codes, located input errors in the
SARIF a command was asked for, and every command picking its output format from its renderers' `FORMATS`."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from agentiam.cli.common import error_exit_code, handle_user_errors
from agentiam.cli.main import COMMANDS, cli
from agentiam.errors import AgentiamError, ConfigError, InternalError, ServerError, SpecError, UserError
from agentiam.findings import Finding, Severity


def _mistype_account_id(project: Path) -> None:
    config = project / "stacks" / "Pulumi.dev.yaml"
    text = config.read_text(encoding="utf-8")
    assert 'account_id: "111111111111"' in text
    config.write_text(text.replace('account_id: "111111111111"', 'acount_id: "111111111111"'), encoding="utf-8")


def _located(log: dict) -> set[tuple[str, str, int, str]]:
    return {(r["ruleId"], r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
             r["locations"][0]["physicalLocation"]["region"]["startLine"], r["message"]["text"])
            for r in log["runs"][0]["results"]}


@pytest.mark.parametrize("command", [["validate"], ["check", "-", "--env", "dev"]])
def test_a_mistyped_stack_field_is_a_located_sarif_result(command: list[str], project_dir: Path) -> None:
    _mistype_account_id(project_dir)
    result = CliRunner().invoke(cli, [*command, "--format", "sarif"], input="")
    assert result.exit_code == 2, result.output
    log = json.loads(result.stdout)
    assert log["version"] == "2.1.0" and log["$schema"].endswith("sarif-2.1.0.json")
    assert ("CFG002", "stacks/Pulumi.dev.yaml", 8, "acount_id: unknown field; did you mean 'account_id'?") \
        in _located(log)
    rules = [rule["id"] for rule in log["runs"][0]["tool"]["driver"]["rules"]]
    assert all(rules[r["ruleIndex"]] == r["ruleId"] for r in log["runs"][0]["results"])


def test_the_sarif_of_an_input_error_goes_where_the_report_was_asked_for(project_dir: Path) -> None:
    _mistype_account_id(project_dir)
    result = CliRunner().invoke(cli, ["check", "-", "--env", "dev", "--format", "sarif", "--output", "check.sarif"],
                                input="")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "stacks/Pulumi.dev.yaml:8:5  error  CFG002  acount_id" in result.stderr
    log = json.loads((project_dir / "check.sarif").read_text(encoding="utf-8"))
    assert {(rule, line) for rule, _, line, _ in _located(log)} >= {("CFG002", 8)}


def test_other_formats_keep_stdout_empty_on_an_input_error(project_dir: Path) -> None:
    """A JSON report that is absent means "refused" to the CI steps reading it (agentiam.diff.affected)."""
    _mistype_account_id(project_dir)
    for args in (["check", "-", "--env", "dev", "--format", "json"], ["plan", "--env", "dev", "--format", "json"]):
        result = CliRunner().invoke(cli, args, input="")
        assert (result.exit_code, result.stdout) == (2, ""), args
        assert "stacks/Pulumi.dev.yaml:8:5  error  CFG002" in result.stderr


def _finding(rule_id: str) -> Finding:
    return Finding("agent_specs/a.yaml", 3, 1, rule_id, Severity.ERROR, "name", "bad")


@pytest.mark.parametrize(("error", "code"), [
    (SpecError([_finding("YAML001")]), 2),  # unreadable input
    (SpecError([_finding("AGT012")]), 1),  # a guardrail
    (ConfigError(findings=[_finding("CFG002")]), 2),
    (ConfigError("no stacks folder"), 2),
    (ServerError("vault: 403 on sys/leases/revoke-prefix"), 2),
    (UserError("--output: cannot write"), 2),
    (InternalError("no tier rule"), 3),
    (AgentiamError("raised on purpose, not the user's"), 3),
])
def test_one_mapping_from_the_exception_hierarchy_to_exit_codes(error: AgentiamError, code: int) -> None:
    assert error_exit_code(error) == code

    @click.command()
    @handle_user_errors
    def failing() -> None:
        raise error

    result = CliRunner().invoke(failing, [])
    assert result.exit_code == code
    assert result.exception is None or isinstance(result.exception, SystemExit)  # never a traceback
    if code == 3:
        assert result.stderr.startswith("internal error (please report): ")


def test_every_command_offers_exactly_its_renderers_formats() -> None:
    """`--format` is `format_option(FORMATS, ...)` everywhere: the choices are the renderer modules' own names."""
    expected = {"validate": "agentiam.render.findings", "plan": "agentiam.render.plan_table",
                "diff": "agentiam.cli.diff:RENDERERS", "check": "agentiam.check.render",
                "compliance": "agentiam.compliance.render", "inventory": "agentiam.cli.inventory",
                "revoke": "agentiam.cli.revoke", "doctor": "agentiam.cli.doctor"}
    offering = {}
    for name in COMMANDS:
        command = cli.get_command(click.Context(cli), name)
        assert command is not None
        option = next((p for p in command.params if p.name == "fmt"), None)
        if option is not None:
            assert isinstance(option.type, click.Choice) and option.opts == ["--format"], name
            offering[name] = list(option.type.choices)
    assert set(offering) == set(expected)
    for name, where in expected.items():
        module, _, attribute = where.partition(":")
        formats = getattr(importlib.import_module(module), attribute or "FORMATS")
        assert offering[name] == list(formats), name
        assert all(callable(render) for render in formats.values()), name
