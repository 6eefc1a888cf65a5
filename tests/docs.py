"""Reading and checking the documentation: the README and the pages under docs/.

A page holds generated or tool-produced text between `<!-- name -->` and `<!-- /name -->` markers; `check_section`
compares it with what the code produces, and rewrites it when AGENTIAM_REGEN_GOLDEN=1 (after an intended change:
`AGENTIAM_REGEN_GOLDEN=1 python -m pytest tests/test_docs.py`, or the test file that owns the section).
"""

from __future__ import annotations

import os
import re
from collections import Counter
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


# What differs from run to run of a test against real servers: masked before a documented run is compared.
_VARYING = (
    (re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)"), "<time>"),
    (re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b"), "<uuid>"),
    (re.compile(r"/tmp/\S+"), "<path>"),
    (re.compile(r"\b127\.0\.0\.1:\d+"), "<address>"),
    (re.compile(r"\bt[0-9a-f]{8}\b"), "<env>"),
    (re.compile(r"\bAKIA[A-Z0-9]{16}\b"), "<key>"),
    (re.compile(r"\b[A-Za-z0-9]{24}\b"), "<id>"),
    (re.compile(r"\b\d+(\.\d+)? ?s\b"), "<seconds>"),
    (re.compile(r"\b\d{10}\b"), "<epoch>"),
    (re.compile(r"\b\d+ day\(s\)"), "<days>"),
    (re.compile(r"\b\d+\b"), "<n>"),  # counts of what other tests left on the shared servers
    (re.compile(r"[ \t]+"), " "),
)


def masked(line: str) -> str:
    """A line of a run with what varies between runs (names, addresses, times, ids, alignment) masked."""
    for pattern, placeholder in _VARYING:
        line = pattern.sub(placeholder, line)
    return line.strip()


def check_transcript(relative: str, name: str, output: str) -> None:
    """A section showing a run against real servers: every line it shows is a line of `output` once what varies
    between runs is masked (a line `...` leaves lines out; lines whose order depends on random ids may come in any
    order). Under AGENTIAM_REGEN_GOLDEN=1 the section is rewritten with this run's whole output."""
    if REGEN:
        check_section(relative, name, f"```\n{output.rstrip()}\n```\n")
        return
    printed = Counter(masked(line) for line in output.splitlines())
    for line in fenced(relative, name).splitlines():
        if line == "...":
            continue
        assert printed[masked(line)] > 0, f"{relative} section {name}: the run prints no line like {line!r}"
        printed[masked(line)] -= 1
