"""`check --suggest`: the narrowed spec, as the smallest textual edit of the spec file.

Only what `check` found unused in every environment of a spec is removed (`CheckFinding.removal`). The file is
edited where the grant is written, so its formatting and every comment elsewhere stay: an action leaves its flow
list (`[a, b]`) or its block list line (`- a`), a statement, database or KV entry leaves its list with its own
lines, a list left empty becomes `[]`. The result must pass `agentiam validate`'s checks for that spec, or nothing
is written; it is written whole (a temporary file renamed over it), never half.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import yaml

from agentiam import project as core
from agentiam.check.model import CheckReport
from agentiam.check.project import Project
from agentiam.findings import Severity
from agentiam.render.escape import Terminal
from agentiam.rules.registry import run_rules
from agentiam.spec.source import PathPart, field_name
from agentiam.spec.validate import load_spec_bytes

# The list a removed element leaves, and the smallest element that may not be left empty (the model requires
# one action per statement, one capability per KV entry): emptying it removes the element one level up.
_PARENT_OF_REQUIRED = {"actions": 2, "capabilities": 2}


class SuggestError(Exception):
    """The spec could not be edited as asked (a shape this editor does not know)."""


@dataclass(frozen=True)
class Edit:
    start: int
    end: int
    text: str


def _compose(text: str) -> yaml.Node:
    node = yaml.compose(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    if node is None:
        raise SuggestError("empty document")
    return node


def _child(node: yaml.Node, part: PathPart) -> yaml.Node:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if key.value == part:
                return value
    elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
        return node.value[part]
    raise SuggestError(f"no {part!r} in the document")


def _node(root: yaml.Node, path: tuple[PathPart, ...]) -> yaml.Node:
    for part in path:
        root = _child(root, part)
    return root


def _last_index(node: yaml.Node) -> int:
    """Where the node's own text ends: the end of its deepest last scalar (a block collection's end mark lies at
    the next token, past comments that belong to what follows)."""
    if isinstance(node, yaml.MappingNode) and node.value and not node.flow_style:
        return _last_index(node.value[-1][1])
    if isinstance(node, yaml.SequenceNode) and node.value and not node.flow_style:
        return _last_index(node.value[-1])
    return node.end_mark.index


def _line_start(text: str, index: int) -> int:
    return text.rfind("\n", 0, index) + 1


def _line_end(text: str, index: int) -> int:
    """Index just past the newline ending the line holding `index` (comment included)."""
    end = text.find("\n", index)
    return len(text) if end < 0 else end + 1


def _remove_item(text: str, sequence: yaml.SequenceNode, position: int) -> Edit:
    item = sequence.value[position]
    if sequence.flow_style:
        if position + 1 < len(sequence.value):
            return Edit(item.start_mark.index, sequence.value[position + 1].start_mark.index, "")
        return Edit(sequence.value[position - 1].end_mark.index, item.end_mark.index, "")
    start = _line_start(text, item.start_mark.index)
    if not text[start:item.start_mark.index].strip().startswith("-"):
        raise SuggestError("a block list item that does not start its line")
    return Edit(start, _line_end(text, _last_index(item)), "")


def _empty(text: str, parent: yaml.MappingNode, key: str) -> Edit:
    for key_node, value in parent.value:
        if key_node.value == key:
            if value.flow_style:
                return Edit(value.start_mark.index, value.end_mark.index, "[]")
            colon = text.index(":", key_node.end_mark.index)
            end = _line_end(text, _last_index(value))
            return Edit(colon + 1, end, " []\n")
    raise SuggestError(f"no {key!r} to empty")


def plan_edits(text: str, removals: Iterable[tuple[PathPart, ...]]) -> list[Edit]:
    """The edits removing every path of `removals` (paths into the spec: `permissions.aws[i].actions[j]`...)."""
    root = _compose(text)
    gone: set[tuple[PathPart, ...]] = set(removals)
    changed = True
    while changed:  # a list whose every element goes: its required parent goes too
        changed = False
        for path in sorted(gone, key=len, reverse=True):
            parent = path[:-1]
            levels = _PARENT_OF_REQUIRED.get(str(parent[-1])) if parent else None
            if levels is None:
                continue
            siblings = len(_node(root, parent).value)
            if all(parent + (i,) in gone for i in range(siblings)):
                owner = parent[:-1]
                gone -= {p for p in gone if p[:len(parent)] == parent}
                gone.add(owner)
                changed = True
                break
    gone = {p for p in gone if not any(q != p and p[:len(q)] == q for q in gone)}  # an ancestor covers them
    edits: list[Edit] = []
    by_list: dict[tuple[PathPart, ...], list[int]] = {}
    for path in gone:
        by_list.setdefault(path[:-1], []).append(int(path[-1]))
    for list_path, positions in by_list.items():
        sequence = _node(root, list_path)
        if not isinstance(sequence, yaml.SequenceNode):
            raise SuggestError(f"{'.'.join(map(str, list_path))} is not a list")
        if len(positions) == len(sequence.value):
            holder = _node(root, list_path[:-1])
            if not isinstance(holder, yaml.MappingNode):
                raise SuggestError(f"{'.'.join(map(str, list_path[:-1]))} is not a mapping")
            edits.append(_empty(text, holder, str(list_path[-1])))
            continue
        for position in sorted(positions, reverse=True):
            edits.append(_remove_item(text, sequence, position))
    return sorted(edits, key=lambda e: e.start, reverse=True)


def apply_edits(text: str, edits: list[Edit]) -> str:
    for edit in sorted(edits, key=lambda e: e.start, reverse=True):
        text = text[:edit.start] + edit.text + text[edit.end:]
    return text


def write_suggestions(report: CheckReport, loaded: Project, stacks_dir: Path,
                      today: dt.date | None = None) -> list[Terminal]:
    """Write every narrowed spec; one line per file saying what was removed, or why nothing was written."""
    removals: dict[str, set[tuple[PathPart, ...]]] = {}
    for finding in report.findings:
        if finding.removal:
            removals.setdefault(finding.file, set()).add(tuple(finding.removal))
    if not removals:
        return [Terminal("suggest: nothing to remove (no permission unused in every environment of its spec)")]
    environments = core.load_environments(stacks_dir)
    lines = []
    for file, paths in sorted(removals.items()):
        spec = loaded.specs[file]
        names = sorted(field_name(spec.document.data, path) for path in paths)
        try:
            text = Path(file).read_text(encoding="utf-8")
            narrowed = apply_edits(text, plan_edits(text, paths))
        except (OSError, UnicodeDecodeError, yaml.YAMLError, SuggestError) as exc:
            lines.append(Terminal("suggest: {} left as it is: {}").format(file, str(exc)))
            continue
        result, problems = load_spec_bytes(file, narrowed.encode("utf-8"))
        if result is not None:
            problems += run_rules([result], environments, today or dt.date.today())
        errors = [p for p in problems if p.severity is Severity.ERROR]
        if result is None or errors:
            lines.append(Terminal("suggest: {} left as it is: the narrowed spec would not validate: {}").format(
                file, errors[0].render() if errors else "unreadable"))
            continue
        _replace(Path(file), narrowed)
        lines.append(Terminal("suggest: narrowed {}: removed {}").format(file, Terminal(", ").join(names)))
    return lines


def _replace(path: Path, text: str) -> None:
    """Write `text` over `path` at once: a temporary file in the same folder, renamed over it."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.chmod(temporary, path.stat().st_mode & 0o777)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
