"""Golden files pinning what users read for broken specs: every problem of every file, located, in one run."""

from __future__ import annotations

import datetime as dt
import os
import shutil
from pathlib import Path

import pytest

from agentiam import project
from agentiam.cli.common import EXIT_INPUT, exit_code
from agentiam.render.findings import render_text
from agentiam.spec.source import MAX_SPEC_BYTES

REPO = Path(__file__).resolve().parents[2]
BROKEN = REPO / "tests" / "fixtures" / "specs" / "broken"
GOLDEN = REPO / "tests" / "fixtures" / "specs" / "broken.golden.txt"
TODAY = dt.date(2026, 12, 1)


@pytest.fixture
def broken_dir(tmp_path, monkeypatch):
    """The committed broken specs plus one oversized file (generated: 256 KiB of fixture is not worth a commit)."""
    target = tmp_path / "broken"
    shutil.copytree(BROKEN, target)
    filler = "# padding\n" * (MAX_SPEC_BYTES // 10 + 1)
    (target / "oversized.yaml").write_text("spec_version: 1\nname: oversized\n" + filler, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    return Path("broken")


def test_every_broken_file_reported_in_one_run(broken_dir):
    result = project.validate([broken_dir], REPO / "stacks", TODAY)
    text = render_text(result.findings, result.files_checked)
    if os.environ.get("AGENTIAM_REGEN_GOLDEN") == "1":
        GOLDEN.write_text(text, encoding="utf-8")
    assert text == GOLDEN.read_text(encoding="utf-8")
    assert exit_code(result.findings) == EXIT_INPUT
    reported = {Path(f.file).name for f in result.findings}
    assert reported == {p.name for p in BROKEN.iterdir()} | {"oversized.yaml"}
    assert result.specs == []  # nothing half-valid is handed to the plan
