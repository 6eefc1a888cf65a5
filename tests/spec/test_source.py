"""The safe loader's refusals point at what the reviewer must change (YAML003 on the alias, not the anchor)."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentiam.spec.source import MAX_DEPTH, parse_spec_bytes

REPO = Path(__file__).resolve().parents[2]

RULE = "anchors and aliases are not allowed: a reviewer must see every value where it applies"


@pytest.mark.parametrize("text,where,alias,anchor_line", [
    ("owner: &o {team: t}\nx: 1\ncredentials: *o\n", (3, 14), "o", 1),   # a mapping reused
    ("a: &s 1\nb: [2, *s]\nc: *s\n", (2, 8), "s", 1),                   # the first of two aliases
    ("a: &x [1, *x]\n", (1, 11), "x", 1),                               # an alias inside its own anchor
    ("a: &k foo\n*k : 1\n", (2, 1), "k", 1),                            # an alias used as a key
    ("&k a: 1\nb: *k\n", (2, 4), "k", 1),                               # an anchored key reused as a value
])
def test_reuse_is_reported_on_the_alias(text, where, alias, anchor_line):
    document, findings = parse_spec_bytes("f.yaml", text.encode())
    assert document is None
    assert [(f.rule_id, f.line, f.column, f.message) for f in findings] == [
        ("YAML003", *where, f"alias *{alias} reuses the value anchored on line {anchor_line}; {RULE}")]


def test_an_anchor_nobody_reuses_is_harmless():
    document, findings = parse_spec_bytes("f.yaml", b"a: &x 1\nb: 1\n")
    assert findings == [] and document is not None and document.data == {"a": 1, "b": 1}


@pytest.mark.parametrize("text,column", [
    ("a: " + "[" * 50_000 + "]" * 50_000, 1003),       # crashed the process (SIGSEGV in PyYAML's C composer)
    ("a: " + "{b: " * 20_000 + "1" + "}" * 20_000, 4000),
    ("- " * 30_000 + "x", 2001),
])
def test_deep_nesting_is_a_finding_not_a_crash(text, column):
    document, findings = parse_spec_bytes("f.yaml", text.encode())
    assert document is None
    assert [(f.rule_id, f.line, f.message) for f in findings] == [("YAML007", 1, "document is nested too deeply")]
    # The level past the limit: our event scan marks its indicator; PyYAML >= 6.0.4's own depth limit, which fires
    # first there, marks the token before it (`- - x`: one column earlier per level's "- ").
    assert column - 2 <= findings[0].column <= column


def test_a_real_spec_is_never_scanned_twice_for_depth():
    # The event scan runs only when the indicator characters could add up to MAX_DEPTH levels.
    spec = (REPO / "agent_specs" / "data-science" / "churn-forecaster.yaml").read_text()
    assert sum(map(spec.count, "[{-:?")) < MAX_DEPTH
