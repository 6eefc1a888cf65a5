"""`agentiam new`: a commented skeleton per function class whose only findings are its placeholders (AGT009), with
lifetimes well below the caps; never overwrites."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from agentiam import project
from agentiam.cli.main import cli
from agentiam.rules.credential_lifetimes import DAY, STS_MAX
from agentiam.spec.model import FunctionClass


def _filled_in(text: str, name: str) -> str:
    """The skeleton as its author completes it: every placeholder replaced with a real value."""
    return (text.replace(f"Replace with what {name} does and why it needs the access below.",
                         "Sends refund notifications to customers once the payment provider confirms them.")
            .replace("Replace with why the agent calls this endpoint.", "send refund notifications")
            .replace("api.example.com", "api.postmarkapp.com").replace("change-me@example.com", "sam.lee@corp.io")
            .replace("change-me", "data-platform"))


def _new(*args: str):
    return CliRunner().invoke(cli, ["new", *args], catch_exceptions=False)


@pytest.mark.parametrize("function", [f.value for f in FunctionClass])
def test_each_class_skeleton_fails_only_on_its_placeholders_until_filled_in(project_dir, function):
    name = f"new-{function}"
    result = _new(name, "--function", function, "--team", "data-platform", "--sponsor", "sam.lee@example.com",
                  "--env", "dev", "--env", "staging", "--env", "prod")
    assert result.exit_code == 0, result.output
    path = Path("agent_specs") / f"{name}.yaml"
    assert result.output == f"wrote {path}; next: replace its placeholders (`agentiam validate {path}` lists them)\n"
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# yaml-language-server: $schema=agent-spec.schema.json\n")
    assert f"function: {function}\n" in text and "environments: [dev, staging, prod]" in text
    validation = project.validate([path], Path("stacks"))
    placeholders = {(f.path, f.message.split(";")[0]) for f in validation.findings}
    expected = {("description", "placeholder text (starts 'Replace with')")}
    expected |= {(p, "'change-me' marks a placeholder") for p in {
        "data-retrieval": ("permissions.aws[read-source-data].resources[arn:aws:s3:::change-me-{env}-source]",
                           "permissions.aws[read-source-data].resources[arn:aws:s3:::change-me-{env}-source/*]"),
        "integration": ("permissions.aws[consume-outbound-events].resources"
                        "[arn:aws:sqs:{region}:{account}:change-me-{env}-outbound]",),
        "analysis": ("permissions.aws[read-inputs].resources[arn:aws:s3:::change-me-{env}-inputs]",
                     "permissions.aws[read-inputs].resources[arn:aws:s3:::change-me-{env}-inputs/*]",
                     "permissions.aws[write-scratch].resources[arn:aws:s3:::change-me-scratch-{account}-{env}/{agent}/*]"),
        "reporting": ("permissions.aws[read-report-inputs].resources[arn:aws:s3:::change-me-{env}-inputs]",
                      "permissions.aws[read-report-inputs].resources[arn:aws:s3:::change-me-{env}-inputs/*]"),
        "monitoring": ("permissions.aws[read-alarms].resources[arn:aws:cloudwatch:{region}:{account}:alarm:change-me-*]",),
    }[function]}
    if function == "integration":
        expected |= {("network.egress[api.example.com].host", "api.example.com is in example.com, a domain reserved "
                                                              "for examples (RFC 2606, RFC 6761) where no real endpoint "
                                                              "lives"),
                     ("network.egress[api.example.com].purpose", "placeholder text (starts 'Replace with')")}
    assert {f.rule_id for f in validation.findings} == {"AGT009"} and placeholders == expected
    # once the author has replaced them, nothing is left
    path.write_text(_filled_in(text, name), encoding="utf-8")
    validation = project.validate([path], Path("stacks"))
    assert validation.findings == []
    assert validation.specs[0].spec.function.value == function
    # the comments explain the class's guardrails by rule id
    assert {"data-retrieval": "AGT030", "integration": "AGT031", "analysis": "AGT032", "reporting": "AGT033",
            "monitoring": "AGT033"}[function] in text


@pytest.mark.parametrize("function", [f.value for f in FunctionClass])
def test_lifetimes_start_well_below_the_caps(project_dir, function):
    assert _new("short-lived", "--function", function).exit_code == 0
    path = Path("agent_specs/short-lived.yaml")
    path.write_text(_filled_in(path.read_text(encoding="utf-8"), "short-lived"), encoding="utf-8")
    (loaded,) = project.validate([path], Path("stacks")).specs
    credentials = loaded.spec.credentials
    assert credentials.token_max_ttl <= DAY // 3 and credentials.database_max_ttl <= DAY // 3
    assert credentials.aws_session_ttl <= STS_MAX // 12 and credentials.token_ttl <= credentials.token_max_ttl // 8


def test_defaults_name_no_owner_until_filled_in(project_dir):
    assert _new("bare-minimum", "--function", "monitoring").exit_code == 0
    findings = project.validate([Path("agent_specs/bare-minimum.yaml")], Path("stacks")).findings
    assert {f.path for f in findings} >= {"owner.team", "owner.sponsor", "owner.contact", "description"}
    assert {f.rule_id for f in findings} == {"AGT009"}


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


def test_the_readme_example_is_what_new_and_validate_print(project_dir):
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    block = readme[readme.index("### `agentiam new NAME --function CLASS`"):]
    block = block[block.index("```console\n") + len("```console\n"):]
    block = block[:block.index("\n```")]
    new_command, new_output, validate_command, *validate_output = block.replace("\\\n    ", "").splitlines()
    assert new_command.startswith("$ agentiam new ") and validate_command.startswith("$ agentiam validate ")
    created = CliRunner().invoke(cli, new_command.split()[2:])
    assert created.output.splitlines() == [new_output]
    checked = CliRunner().invoke(cli, validate_command.split()[2:])
    assert checked.output.splitlines() == validate_output and checked.exit_code == 1
