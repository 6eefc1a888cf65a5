"""`agentiam schema`, the committed schema file editors use, and the modeline of every example spec."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from agentiam.cli.main import cli
from agentiam.spec.json_schema import SCHEMA_FILE_NAME, spec_json_schema_text
from agentiam.spec.source import parse_spec_bytes

REPO = Path(__file__).resolve().parents[2]
SPECS = REPO / "agent_specs"
COMMITTED = SPECS / SCHEMA_FILE_NAME
EXAMPLES = sorted(SPECS.rglob("*.yaml"))
BROKEN = REPO / "tests" / "fixtures" / "specs" / "broken"


def test_schema_command_prints_the_committed_schema():
    result = CliRunner().invoke(cli, ["schema"])
    assert result.exit_code == 0
    assert result.output == COMMITTED.read_text(encoding="utf-8"), \
        "agent_specs/agent-spec.schema.json is stale: run `agentiam schema > agent_specs/agent-spec.schema.json`"
    schema = json.loads(result.output)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] and schema["title"] == "agentiam agent spec"
    assert schema["properties"]["credentials"]["$ref"] == "#/$defs/Credentials"
    assert schema["$defs"]["Credentials"]["properties"]["token_ttl"]["default"] == "1h"
    jsonschema.Draft202012Validator.check_schema(schema)


@pytest.mark.parametrize("spec", EXAMPLES, ids=lambda p: str(p.relative_to(SPECS)))
def test_examples_point_editors_at_the_schema(spec):
    first = spec.read_text(encoding="utf-8").splitlines()[0]
    prefix = "# yaml-language-server: $schema="
    assert first.startswith(prefix)
    assert (spec.parent / first[len(prefix):]).resolve() == COMMITTED.resolve()


@pytest.mark.parametrize("spec", EXAMPLES, ids=lambda p: str(p.relative_to(SPECS)))
def test_editor_schema_accepts_every_example(spec):
    document, findings = parse_spec_bytes(str(spec), spec.read_bytes())
    assert findings == []
    data = json.loads(json.dumps(document.data, default=str))
    jsonschema.Draft202012Validator(json.loads(spec_json_schema_text())).validate(data)


@pytest.mark.parametrize("name", ["unknown-field.yaml", "wrong-types.yaml", "yaml11-bool.yaml"])
def test_editor_schema_flags_what_validate_flags(name):
    document, _ = parse_spec_bytes(name, (BROKEN / name).read_bytes())
    validator = jsonschema.Draft202012Validator(json.loads(spec_json_schema_text()))
    assert list(validator.iter_errors(json.loads(json.dumps(document.data, default=str))))
