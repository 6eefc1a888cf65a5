"""For any string, in any free-text field or any other value of a diff, every writer keeps its document's shape.

The diff is computed once from a real git repository whose pull request touches every kind of section the
writers have (environment-wide changes, agents, a wildcard's folded actions, guardrail violations, notes, an
inactive environment) and puts a marker in every free-text field that reaches them: an endpoint's purpose, the
owner's contact, the audit file path, the agent CA file and a database connection's user of a stack config.
Each example then replaces one marker (every occurrence, as the engine would carry the text) or any one value of
the report (file names, agent names, subjects, resources, reasons, findings, notes) by a generated string, and
compares every writer's output with the same replacement by a harmless word:

- the PR comment and the job summary, rendered by GitHub's parser: the same tags in the same order (tables, rows,
  cells, `<details>` blocks, headings), the marker as the only HTML comment, no link, no image, and the same
  text outside code, where GitHub would find mentions and references;
- the annotations: as many workflow commands, each one line with the same properties;
- the terminal text: as many lines, no control or invisible character;
- SARIF: valid JSON, as many results, no embedded link in a message, URIs that are URIs.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from collections.abc import Callable, Iterator
from enum import Enum
from pathlib import Path
from typing import Any
from unittest import mock
from urllib.parse import unquote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agentiam.characters import first_invisible
from agentiam.diff.model import DiffReport
from agentiam.findings import Finding
from agentiam.render import diff_github, diff_markdown, diff_text
from agentiam.render.diff_common import VOCABULARY
from agentiam.render.sarif import render_sarif
from tests.diff.conftest import INVOICE, PAYMENT, SpecRepo, new_spec_repo
from tests.render.github_markdown import Rendered, render

MARKERS = {"purpose": "PURPOSEMARK", "contact": "CONTACTMARK", "audit file path": "FILEPATHMARK",
           "agent CA file": "CAFILEMARK", "database user": "USERNAMEMARK"}
HARMLESS = "plainword"
# Fields left alone: the engine's structure (the system picks the table wording, the environment groups rows and
# values naming it are rewritten to `{env}`, the access level is split into the catalogue's words), and what no
# writer shows (a change's field path, the catalogue version).
STRUCTURE = {"system", "environment", "access_level", "accounts", "catalogue_version", "field"}
FRAGMENTS = ["<!--", "-->", "</details>", "<details>", "</table>", "<h2>x</h2>", "|", "\\|", "`", "```", "\n",
             "\r\n\r\n", "@acme/team", "@octocat", "#1", "GH-12", "acme/repo#3", "![i](https://e.example/i.png)",
             "[l](https://e.example)", "[r]: https://e.example", "www.example.com", "https://e.example/x",
             "user@example.com", "*", "_", "**", "~~", "\\", "&amp;", "&#60;", "<b>", "<img src=x>", "\u202e", "\u2066",
             "\u200b", "\x1b[31m", ":tada:", "$x$", "[^1]", "> ", "# ", "- ", "1. ", "---", "|---|", "deadbee1",
             "{env}", "{}", "{0}", "%0A", "::error::x", "%", ",", ":", "\x00", "\ud800", "\U000e0041"]
ACCOUNTS = ("111111111111", "222222222222", "333333333333")


def _hostile_pull_request(repo: SpecRepo) -> None:
    refund = "agent_specs/billing/refund-bot.yaml"
    repo.write(refund, "name: [unclosed\n")  # does not load at base: a note
    repo.commit("broken refund bot", tag="base2")
    repo.write(refund, repo.read(INVOICE).replace("name: invoice-reader", "name: refund-bot")
               .replace("environments: [dev, staging, prod]", "environments: [dev]").split("overrides:")[0])
    repo.edit(INVOICE, "actions: [s3:GetObject, s3:ListBucket]",
              "actions: [s3:GetObjectVersion*, s3:ListBucket, iam:PassRole]")
    repo.edit(PAYMENT, "      purpose: create and confirm payouts\n",
              f"      purpose: {MARKERS['purpose']} again\n    - host: hooks.slack.com\n"
              f"      purpose: {MARKERS['purpose']}\n")
    repo.edit(PAYMENT, '  contact: "#billing-platform-oncall"\n', f"  contact: {MARKERS['contact']}\n")
    repo.edit(PAYMENT, "  token_max_ttl: 8h\n", "  token_max_ttl: 12h\n")
    repo.write(PAYMENT, repo.read(PAYMENT) + "overrides:\n  prod:\n    status: suspended\n")
    stack = "stacks/Pulumi.dev.yaml"
    repo.edit(stack, "file_path: /var/log/vault/agentiam-dev-audit.log",
              f"file_path: /var/log/{MARKERS['audit file path']}.log")
    repo.edit(stack, "agent_ca_pem_file: stacks/ca/dev-agents-ca.pem",
              f"agent_ca_pem_file: stacks/ca/{MARKERS['agent CA file']}.pem")
    repo.write(f"stacks/ca/{MARKERS['agent CA file']}.pem", repo.read("stacks/ca/dev-agents-ca.pem"))
    repo.write(stack, repo.read(stack).replace("username: vault_admin", f"username: {MARKERS['database user']}", 1))
    repo.commit("hostile", tag="head")


@dataclasses.dataclass
class Diff:
    """The diff of the hostile pull request, its fields, and the writers' outputs for the harmless word by place."""

    report: DiffReport
    fields: dict[str, list[tuple]]  # markers, and generic paths (`agents.[].changes.[].subject`) with their places
    harmless: dict[str | tuple, Outputs] = dataclasses.field(default_factory=dict)

    def __repr__(self) -> str:  # Hypothesis prints the arguments of a failing example
        return "Diff(...)"


@dataclasses.dataclass(frozen=True)
class Outputs:
    """What each writer's output must keep, whatever the values."""

    comment: Rendered
    commands: tuple[tuple[str, str | None, str | None], ...]  # level, line, column of each annotation
    terminal_lines: int
    sarif_results: int | None


@pytest.fixture(scope="module")
def diff(tmp_path_factory: pytest.TempPathFactory) -> Diff:
    repo = new_spec_repo(tmp_path_factory.mktemp("property") / "repo")
    _hostile_pull_request(repo)
    report = repo.diff("base2", "head")
    fields: dict[str, list[tuple]] = {marker: [] for marker in MARKERS.values()}
    for path in _positions(report):
        fields.setdefault(".".join("[]" if isinstance(p, int) else p for p in path), []).append(path)
    return Diff(report, fields)


def test_the_diff_reaches_every_section_and_every_marker(diff: Diff) -> None:
    report = diff.report
    markdown = diff_markdown.render_markdown(report)
    assert report.environments and report.findings and report.notes and any(a.notes for a in report.agents)
    assert any(c.expands_to for a in report.agents for c in a.changes)
    assert all(marker in markdown for marker in MARKERS.values()), markdown
    assert diff_github.annotations(report)


def _positions(value: Any, path: tuple = ()) -> Iterator[tuple]:
    """Paths to every text value of the report (not the engine's structure, not enum members)."""
    if isinstance(value, Enum):
        return
    if isinstance(value, str):
        yield path
    elif dataclasses.is_dataclass(value):
        for f in dataclasses.fields(value):
            if f.name not in STRUCTURE:
                yield from _positions(getattr(value, f.name), (*path, f.name))
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            yield from _positions(item, (*path, i))


def _replace(value: Any, path: tuple, change: Callable[[str], str]) -> Any:
    """`value` with the text at `path` (every text when `path` is None) changed."""
    if path == ():
        return change(value)
    if isinstance(value, Enum):
        return value
    if isinstance(value, str):
        return change(value) if path is None else value
    if dataclasses.is_dataclass(value):
        names = [f.name for f in dataclasses.fields(value) if f.name not in STRUCTURE]
        if path is not None:
            names = [path[0]]
        return dataclasses.replace(value, **{n: _replace(getattr(value, n), path and path[1:], change)
                                             for n in names})
    if isinstance(value, list | tuple):
        items = list(value)
        for i in ([path[0]] if path is not None else range(len(items))):
            items[i] = _replace(items[i], path and path[1:], change)
        return type(value)(items)
    return value


def _with(report: DiffReport, where: str | tuple, text: str) -> DiffReport:
    if isinstance(where, str):
        return _replace(report, None, lambda value: value.replace(where, text))
    return _replace(report, where, lambda _value: text)


def _summary(markdown: str, tmp: Path) -> str:
    """What the job summary page receives (`agentiam diff` appends the comment's Markdown under GitHub Actions)."""
    summary = tmp / "summary.md"
    summary.write_text("", encoding="utf-8")
    with mock.patch.dict(os.environ, {"GITHUB_STEP_SUMMARY": str(summary)}):
        diff_github.append_step_summary(markdown)
    return summary.read_text(encoding="utf-8")


_COMMAND = re.compile(r"::(error|warning) file=([^,:\r\n]*)(?:,line=(\d+),col=(\d+))?,title=([^,:\r\n]*)::([^\r\n]*)")


def _commands(lines: list[str]) -> list[tuple]:
    parsed = []
    for line in lines:
        match = _COMMAND.fullmatch(line)
        assert match, line
        assert first_invisible(line) is None, line
        level, file, row, column, title, message = match.groups()
        assert "\n" not in unquote(message) and "\r" not in unquote(message)
        parsed.append((level, row, column))
    return parsed


def _unescaped_bracket(text: str) -> bool:
    escaped = False
    for char in text:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char in "[]":
            return True
    return False


def _sarif(findings: list[Finding], root: Path) -> dict:
    log = json.loads(render_sarif(findings, root))
    for result in log["runs"][0]["results"]:
        text = result["message"]["text"]
        assert first_invisible(text) is None and not _unescaped_bracket(text), text
        uri = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        assert re.fullmatch(r"[A-Za-z0-9\-._~%!$&'()*+,;=:@/]*", uri), uri
    return log


def _findings(report: DiffReport) -> list[Finding]:
    return list(report.findings) + [f for a in report.agents for f in a.findings]


# Mostly strings made of what breaks Markdown, HTML, workflow commands and terminals; sometimes any text.
_fragments = st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=4)), min_size=1, max_size=6).map("".join)
text = st.one_of(_fragments, _fragments, _fragments, st.text(max_size=30)).filter(
    # Not empty (an empty field path or note is left out by design), no word of the engine's vocabulary (shown as
    # a word), no environment name or account id (rewritten to `{env}` / `{account}`, which regroups rows).
    lambda s: s not in ("", HARMLESS, "WORKTREE") and s not in VOCABULARY
    and not any(n in s for n in ("dev", "staging", "prod", *ACCOUNTS)))


def _outputs(report: DiffReport, tmp: Path, sarif: bool) -> Outputs:
    """Every writer's output for `report`, each checked on its own (one line per command, nothing invisible...)."""
    terminal = diff_text.render_text(report, width=10**9)  # unfolded: one line per change, whatever its length
    assert first_invisible(terminal.replace("\n", "")) is None
    results = len(_sarif(_findings(report), tmp)["runs"][0]["results"]) if sarif else None
    comment = diff_markdown.render_markdown(report)
    return Outputs(render(_summary(comment, tmp)), tuple(_commands(diff_github.annotations(report))),
                   terminal.count("\n"), results)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), value=text)
def test_no_value_changes_the_shape_of_any_output(diff: Diff, tmp_path: Path, data: st.DataObject, value: str) -> None:
    # A field first (`agents.[].changes.[].subject`, a marker), then one of its places: every field is drawn as
    # often, however many values it has.
    field = data.draw(st.sampled_from(sorted(diff.fields)), "field")
    where = data.draw(st.sampled_from(diff.fields[field]), "where") if diff.fields[field] else field
    sarif = "findings" in where  # SARIF shows findings only
    got = _outputs(_with(diff.report, where, value), tmp_path, sarif and "\x00" not in value)  # no file has a NUL
    if where not in diff.harmless:
        diff.harmless[where] = _outputs(_with(diff.report, where, HARMLESS), tmp_path, sarif)
    want = diff.harmless[where]
    assert got.comment.tags == want.comment.tags  # the same tables, rows, cells, details, headings, in order
    assert got.comment.comments == want.comment.comments == (" agentiam-diff ",)
    assert got.comment.links == want.comment.links == ()
    assert got.comment.prose == want.comment.prose  # no mention, reference or autolink added
    assert got.commands == want.commands
    assert got.terminal_lines == want.terminal_lines
    assert got.sarif_results in (want.sarif_results, None)
