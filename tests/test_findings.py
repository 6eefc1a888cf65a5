"""Findings render as one line each, whatever a spec's keys and values contain."""

from __future__ import annotations

from agentiam.findings import Finding, Severity
from agentiam.spec.validate import load_spec_bytes


def test_control_characters_from_a_spec_cannot_start_a_line_of_their_own():
    finding = Finding("a.yaml", 3, 1, "SPEC001", Severity.ERROR, 'owner["k\\n::error::x"]',
                      "unknown field 'k\n::error::forged'\x1b[31m")
    rendered = finding.render()
    assert "\n" not in rendered and "\x1b" not in rendered
    assert rendered.endswith("unknown field 'k\\n::error::forged'\\x1b[31m")


def test_a_newline_in_a_real_spec_key_stays_on_the_finding_line():
    raw = b'spec_version: 1\n"colour\\n::error file=x::forged": red\n'
    _, findings = load_spec_bytes("agent_specs/x.yaml", raw)
    lines = [f.render() for f in findings]
    assert lines and all("\n" not in line for line in lines)
    assert not any(line.startswith("::") for text in lines for line in text.splitlines())
