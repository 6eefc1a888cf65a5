"""The annotated example spec of docs/spec.md is a valid spec (the guardrail table is checked in tests/test_docs.py)."""

from __future__ import annotations

import datetime as dt
import re

from agentiam import project
from agentiam.rules.registry import run_rules
from agentiam.spec.validate import load_spec_bytes
from tests.docs import REPO, page


def test_annotated_example_is_a_valid_spec():
    example = re.search(r"```yaml\n(.*?)```", page("docs/spec.md"), re.S).group(1)
    loaded, problems = load_spec_bytes("agent_specs/support/ticket-triage.yaml", example.encode())
    assert problems == []
    environments = project.load_environments(REPO / "stacks")
    assert run_rules([loaded], environments, dt.date(2026, 12, 1)) == []
    assert loaded.spec.overrides["prod"].status.value == "suspended"
