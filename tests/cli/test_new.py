"""`agentiam new`: a commented skeleton per function class that validates as written; never overwrites."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from agentiam import project
from agentiam.cli.main import cli
from agentiam.spec.model import FunctionClass


def _new(*args: str):
    return CliRunner().invoke(cli, ["new", *args], catch_exceptions=False)


@pytest.mark.parametrize("function", [f.value for f in FunctionClass])
def test_each_class_skeleton_validates_with_zero_findings(project_dir, function):
    name = f"new-{function}"
    result = _new(name, "--function", function, "--team", "data-platform", "--sponsor", "sam.lee@example.com",
                  "--env", "dev", "--env", "staging", "--env", "prod")
    assert result.exit_code == 0, result.output
    path = Path("agent_specs") / f"{name}.yaml"
    assert result.output == f"wrote {path}; next: edit it, then `agentiam validate {path}`\n"
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# yaml-language-server: $schema=agent-spec.schema.json\n")
    assert f"function: {function}\n" in text and "environments: [dev, staging, prod]" in text
    validation = project.validate([path], Path("stacks"))
    assert validation.findings == []
    assert validation.specs[0].spec.function.value == function
    # the comments explain the class's guardrails by rule id
    assert {"data-retrieval": "AGT030", "integration": "AGT031", "analysis": "AGT032", "reporting": "AGT033",
            "monitoring": "AGT033"}[function] in text


def test_defaults_validate_too(project_dir):
    assert _new("bare-minimum", "--function", "monitoring").exit_code == 0
    assert project.validate([Path("agent_specs/bare-minimum.yaml")], Path("stacks")).findings == []


def test_refuses_to_overwrite(project_dir):
    target = Path("agent_specs/billing/invoice-reader.yaml")
    before = target.read_bytes()
    result = CliRunner().invoke(cli, ["new", "invoice-reader", "--function", "reporting", "--output", str(target)])
    assert result.exit_code == 2
    assert "already exists; not overwriting it" in result.stderr
    assert target.read_bytes() == before


def test_an_unwritable_output_is_a_clear_error_not_a_traceback(project_dir):
    Path("not-a-folder").write_text("")
    result = CliRunner().invoke(cli, ["new", "x-agent", "--function", "reporting", "--output", "not-a-folder/x.yaml"])
    assert result.exit_code == 2
    assert result.stderr == "error: not-a-folder/x.yaml cannot write it: File exists (not-a-folder)\n"


def test_schema_path_is_relative_to_the_output(project_dir):
    assert _new("deep-agent", "--function", "analysis", "--output", "agent_specs/a/b/deep-agent.yaml").exit_code == 0
    first = Path("agent_specs/a/b/deep-agent.yaml").read_text().splitlines()[0]
    assert first == "# yaml-language-server: $schema=../../agent-spec.schema.json"


def test_dash_prints_instead_of_writing(project_dir):
    result = _new("printed-agent", "--function", "integration", "--output", "-")
    assert result.exit_code == 0
    assert "rate_limit:" in result.output and "name: printed-agent" in result.output
    assert not Path("agent_specs/printed-agent.yaml").exists()


@pytest.mark.parametrize(("args", "hint"), [
    (["Bad_Name", "--function", "analysis"], "NAME"),
    (["good-name", "--function", "analysis", "--team", "Billing Team"], "--team"),
    (["good-name", "--function", "analysis", "--sponsor", "nobody"], "--sponsor"),
    (["good-name", "--function", "analysis", "--env", "Prod"], "--env"),
])
def test_values_the_spec_would_refuse_are_refused_up_front(project_dir, args, hint):
    result = CliRunner().invoke(cli, ["new", *args])
    assert result.exit_code == 2
    assert f"Invalid value for {hint}" in result.output
    assert not Path("agent_specs/good-name.yaml").exists()
