"""AGT002 against an environment name long enough to overflow the IAM role name (no such stack is committed)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from agentiam import project
from agentiam.rules import identity
from agentiam.rules.base import SpecContext
from agentiam.rules.fleet import summarise
from agentiam.spec.validate import load_spec_bytes

STACKS = Path(__file__).resolve().parents[2] / "stacks"
NAME = "a" * 48  # the longest agent name the schema accepts


def _spec(environments: str) -> bytes:
    return f"""spec_version: 1
name: {NAME}
description: An agent with the longest name the schema allows.
owner: {{team: platform, sponsor: jane.doe@example.com, contact: "#platform"}}
function: monitoring
environments: [{environments}]
expires: 2027-06-30
authentication:
  certificate_common_name: x.{{env}}.agents.example.com
""".encode()


def test_role_name_over_64_chars_in_a_long_named_environment_is_refused():
    dev = project.load_environments(STACKS)["dev"]
    environments = {"sandbox123": dev.model_copy(update={"name": "sandbox123"}), "dev": dev}
    loaded, problems = load_spec_bytes("specs/long.yaml", _spec("dev, sandbox123"))
    assert problems == [] and loaded is not None
    findings = list(identity.DERIVED_NAMES.check(identity.DERIVED_NAMES,
                                                 SpecContext(loaded, environments, dt.date(2026, 12, 1))))
    assert [(f.rule_id, f.line, f.column, f.path) for f in findings] == [("AGT002", 2, 7, "name")]
    role = f"agent-sandbox123-{NAME}"
    assert len(role) == 65
    assert f"sandbox123 ('{role}', 65)" in findings[0].message
    assert "dev (" not in findings[0].message  # agent-dev-<48 chars> is 58 chars: fine


def test_fleet_rule_names_every_other_file():
    body = _spec("dev").replace(b"aaaa", b"bbbb", 1)
    specs = [load_spec_bytes(f"specs/{team}/x.yaml", body)[0] for team in ("a", "b", "c")]
    members = [summarise(loaded, {}) for loaded in specs]  # fleet rules judge per-spec summaries
    findings = list(identity.UNIQUE_NAMES.check(identity.UNIQUE_NAMES, members, {}))
    assert len(findings) == 3
    first = next(f for f in findings if f.file == "specs/a/x.yaml")
    assert "specs/b/x.yaml, specs/c/x.yaml" in first.message
