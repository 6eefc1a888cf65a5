"""Reading and checking the documentation: the README and the pages under docs/.

A page holds generated or tool-produced text between `<!-- name -->` and `<!-- /name -->` markers; `check_section`
compares it with what the code produces, and rewrites it when AGENTIAM_REGEN_GOLDEN=1 (after an intended change:
`AGENTIAM_REGEN_GOLDEN=1 python -m pytest tests/test_docs.py`, or the test file that owns the section).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
REGEN = os.environ.get("AGENTIAM_REGEN_GOLDEN") == "1"
MARKER = re.compile(r"^<!-- ([a-z][a-z0-9-]*) -->$", re.M)


def page(relative: str) -> str:
    """The text of a documentation file, `relative` to the repository root (`docs/inventory.md`, `README.md`)."""
    return (REPO / relative).read_text(encoding="utf-8")


def _match(path: Path, name: str) -> tuple[str, re.Match[str]]:
    text = path.read_text(encoding="utf-8")
    match = re.search(f"(<!-- {name} -->\n)(.*?)(<!-- /{name} -->)", text, re.S)
    assert match, f"{path.relative_to(REPO)} has no <!-- {name} --> section"
    return text, match


def section(relative: str, name: str) -> str:
    """The text between `<!-- name -->` and `<!-- /name -->` in a documentation file."""
    return _match(REPO / relative, name)[1].group(2)


def fenced(relative: str, name: str) -> str:
    """The body of the first fenced code block inside a section."""
    found = re.search(r"```[a-z]*\n(.*?)```", section(relative, name), re.S)
    assert found, f"{relative} section {name} holds no code block"
    return found.group(1)


def check_section(relative: str, name: str, body: str) -> None:
    """The section `name` of a documentation file is `body` (rewritten under AGENTIAM_REGEN_GOLDEN=1)."""
    path = REPO / relative
    text, match = _match(path, name)
    if REGEN:
        path.write_text(text[:match.start(2)] + body + text[match.end(2):], encoding="utf-8")
    else:
        assert match.group(2) == body, (
            f"{relative} section {name} is stale: AGENTIAM_REGEN_GOLDEN=1 python -m pytest on the test that owns it")


def check_page(relative: str, text: str) -> None:
    """A generated page is `text` (rewritten under AGENTIAM_REGEN_GOLDEN=1)."""
    path = REPO / relative
    if REGEN:
        path.write_text(text, encoding="utf-8")
    assert path.read_text(encoding="utf-8") == text, (
        f"{relative} is stale: AGENTIAM_REGEN_GOLDEN=1 python -m pytest tests/test_docs.py")


def sections(relative: str) -> list[str]:
    """The names of every marked section of a documentation file (opening markers that have a closing one)."""
    text = page(relative)
    return [name for name in MARKER.findall(text) if f"<!-- /{name} -->" in text]
