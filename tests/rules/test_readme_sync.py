"""The README's guardrail table is generated from the registry, and its annotated example spec is valid."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from agentiam import project
from agentiam.render.findings import render_rules_markdown
from agentiam.rules.registry import run_rules
from agentiam.spec.validate import load_spec_bytes

REPO = Path(__file__).resolve().parents[2]


def _spec_section() -> str:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    return readme[readme.index("<!-- section:spec -->"):readme.index("<!-- /section:spec -->")]


def test_rules_table_matches_the_registry():
    section = _spec_section()
    table = section[section.index("<!-- rules-table -->\n") + len("<!-- rules-table -->\n"):
                    section.index("<!-- /rules-table -->")]
    assert table == render_rules_markdown(), "README rules table is stale: paste render_rules_markdown() output"


def test_annotated_example_is_a_valid_spec():
    example = re.search(r"```yaml\n(.*?)```", _spec_section(), re.S).group(1)
    loaded, problems = load_spec_bytes("agent_specs/support/ticket-triage.yaml", example.encode())
    assert problems == []
    environments = project.load_environments(REPO / "stacks")
    assert run_rules([loaded], environments, dt.date(2026, 12, 1)) == []
    assert loaded.spec.overrides["prod"].status.value == "suspended"
