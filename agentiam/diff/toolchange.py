"""Changes caused by agentiam's own code: which changed files can change what deploys, and what they change.

The review runs the base branch's agentiam (a pull request cannot change the tool that judges it), so it compiles
the head's specs with the base's code: a pull request changing the code itself (the Vault policy template, a
component dropping the permissions boundary, a dependency pin, `Pulumi.yaml`) would show nothing. Hence:

1. `classify()`: every path the head changed (`git diff base...head`) is an *input* (specs and stack configs: the
   permission diff's own subject), *inert* (tests, benchmarks, docs, top-level Markdown: no deployment runs or
   reads them), the *gate* (`.github/`: the CI workflow and CODEOWNERS decide how the change itself is judged) or
   *tool*: everything else. Deny by default: a file nobody listed (a new `setup.py`, `sitecustomize.py`, a lock
   file, a requirements file) counts as code.
2. `compare()`: two folders of snapshots (`agentiam snapshot --all`) of the *head's* specs and stack configs, one
   compiled by the base's code, one by the head's own code. Whatever differs is caused by code.
3. `code_diff()`: the report's section. Every difference is high risk (whether a code change widens cannot be
   judged from its effect alone, so it counts as a widening); a tool change whose effect was not compiled is high
   risk; a change to the gate is always high risk; compiled and identical, the code change is neutral and listed.

The head-code snapshot is made by the pull request's own code, so it is evidence, not proof: code written to
behave differently under the snapshot than under `pulumi up` can make it lie. What stops that is the approval of
code owners (`agentiam codeowners`: the security team owns the tool's code and `.github/`) required by branch
protection; docs/diff.md ("Changes to agentiam's own code") says so.
"""

from __future__ import annotations

import difflib
import errno
import fnmatch
import json
import os
import re
import stat
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from agentiam.diff import risk
from agentiam.diff.gitsource import GitRepo
from agentiam.diff.model import Change, CodeDiff, Direction, Op, RiskLabel, StackCodeDiff, System
from agentiam.errors import UserError
from agentiam.program.snapshot import KIND, SNAPSHOT_FORMAT

GATE_PREFIX = ".github/"
# CODEOWNERS syntax (`agentiam codeowners` writes them as unowned): anchored at the repository root; `/dir/` is
# everything below `dir`, any other pattern matches a file path segment by segment (`*` within one segment).
INERT_PATTERNS = ("/tests/", "/bench/", "/docs/", "/*.md", "/LICENSE*", "/.gitignore")
MAX_SNAPSHOT_BYTES = 256 * 1024 * 1024  # 1,000 agents in one stack write ~15 MB; a larger file is not a snapshot
MAX_STACKS = 1000
_STACK_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")
NOT_COMPILED = Op.NOT_COMPILED
NO_EFFECT = Op.NO_EFFECT
_GIT_OPS = {"A": Op.ADDED, "D": Op.DELETED, "M": Op.MODIFIED, "T": Op.TYPE_CHANGED}


class SnapshotUnusable(UserError):
    """A snapshot folder or file that cannot be compared; the message names the file and what is wrong."""


def matches(pattern: str, path: str) -> bool:
    """Whether a repository path matches an anchored CODEOWNERS-style pattern (see INERT_PATTERNS)."""
    body = pattern.lstrip("/")
    if body.endswith("/"):
        return path.startswith(body)
    want, have = body.split("/"), path.split("/")
    return len(want) == len(have) and all(fnmatch.fnmatchcase(h, w) for w, h in zip(want, have, strict=True))


def classify(path: str, input_prefixes: Iterable[str]) -> str:
    """`input`, `gate`, `inert` or `tool` (the default: anything that may change what deploys)."""
    if any(path.startswith(prefix.rstrip("/") + "/") for prefix in input_prefixes):
        return "input"
    if path.startswith(GATE_PREFIX):
        return "gate"
    if any(matches(pattern, path) for pattern in INERT_PATTERNS):
        return "inert"
    return "tool"


def _short(names: list[str], limit: int = 4) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


# --------------------------------------------------------------------------------------------------------
# Reading snapshot folders (untrusted: the head-code folder comes from a job that ran the pull request's code)


def _load_file(path: Path, stack: str) -> dict[str, Any]:
    try:  # no link followed, no FIFO waited on: opened non-blocking, then checked to be a regular file
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError as exc:
        raise SnapshotUnusable(f"{path}: missing (was stack {stack} snapshotted?)") from exc
    except OSError as exc:
        reason = "a link is never followed" if exc.errno == errno.ELOOP else exc.strerror
        raise SnapshotUnusable(f"{path}: not a regular file or unreadable ({reason})") from exc
    with os.fdopen(descriptor, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise SnapshotUnusable(f"{path}: not a regular file (a FIFO or device is never read)")
        if info.st_size > MAX_SNAPSHOT_BYTES:
            raise SnapshotUnusable(f"{path}: {info.st_size} bytes, over the {MAX_SNAPSHOT_BYTES}-byte limit")
        try:
            raw = handle.read(MAX_SNAPSHOT_BYTES + 1)
        except OSError as exc:
            raise SnapshotUnusable(f"{path}: cannot read: {exc.strerror}") from exc
    try:
        data = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError) as exc:  # bad UTF-8 or JSON, a huge integer, nesting too deep
        raise SnapshotUnusable(f"{path}: not JSON: {str(exc)[:200]}") from exc
    problem = _shape_problem(data, stack)
    if problem:
        raise SnapshotUnusable(f"{path}: not an `agentiam snapshot` of stack {stack}: {problem}")
    return data


def _shape_problem(data: Any, stack: str) -> str | None:
    """What makes `data` unusable as a snapshot (None: usable); checks every field the comparison reads."""
    if not isinstance(data, dict):
        return "not an object"
    if data.get("kind") != KIND or data.get("format") != SNAPSHOT_FORMAT:
        return f"kind/format is not {KIND} {SNAPSHOT_FORMAT}"
    if data.get("stack") != stack:
        return f"it is of stack {data.get('stack')!r}"
    if not isinstance(data.get("error"), str | None) or not isinstance(data.get("outputs"), dict):
        return "`error` or `outputs` has the wrong type"
    if not isinstance(data.get("resources"), list):
        return "`resources` is not a list"
    for index, item in enumerate(data["resources"]):
        if not (isinstance(item, dict) and all(isinstance(item.get(k), str) for k in ("key", "type", "name"))
                and isinstance(item.get("parent"), str | None) and isinstance(item.get("options"), dict)
                and isinstance(item.get("dependencies"), list)
                and all(isinstance(d, str) for d in item["dependencies"]) and "inputs" in item):
            return f"resources[{index}] lacks key/type/name/parent/inputs/dependencies/options"
    return None


def _check_folder(folder: Path) -> None:
    try:
        is_folder = stat.S_ISDIR(folder.lstat().st_mode)
    except OSError as exc:
        raise SnapshotUnusable(f"{folder}: no such folder of snapshots (did `agentiam snapshot --all` run?)") from exc
    if not is_folder:
        raise SnapshotUnusable(f"{folder}: not a folder of snapshots")


def snapshot_stacks(folder: Path) -> set[str]:
    """Stacks a snapshot folder holds (`<stack>.json`, a Pulumi stack name); empty when it is not a folder.

    Only names Pulumi allows for stacks: the names end up in the report, and a folder of junk must not fill it.
    """
    try:
        names = [p.name[:-len(".json")] for p in folder.iterdir() if p.name.endswith(".json")] if folder.is_dir() else []
    except OSError:
        return set()
    stacks = {name for name in names if _STACK_NAME.match(name)}
    if len(stacks) > MAX_STACKS:
        raise SnapshotUnusable(f"{folder}: {len(stacks)} snapshots, more than {MAX_STACKS} stacks")
    return stacks


# --------------------------------------------------------------------------------------------------------
# Comparing two snapshots of one stack


def _leaves(value: Any, prefix: str) -> Iterator[tuple[str, Any]]:
    """(dotted path, value): objects by key, lists of objects by index, lists of scalars whole; JSON text expanded.

    Policy documents travel as JSON strings: expanded, a change reads `policy.Statement[2].Action`, not two
    3,000-character strings.
    """
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            parsed = json.loads(value)
        except (ValueError, RecursionError):
            parsed = None
        if isinstance(parsed, dict | list):
            value = parsed
    if isinstance(value, dict) and value:
        for key in sorted(value):
            yield from _leaves(value[key], f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(value, list) and any(isinstance(v, dict | list) for v in value):
        for index, item in enumerate(value):
            yield from _leaves(item, f"{prefix}[{index}]")
    else:
        yield prefix, value


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def _lines_changed(old: str, new: str) -> tuple[str, str]:
    """Multi-line text (a Vault policy): the removed and the added lines of each hunk (` ⏎ ` between lines).

    Each hunk starts with the unchanged line before it in brackets when that line says where it is (a `path`
    line, not a lone brace), so a capability changed inside a block names its block.
    """
    a, b = old.splitlines(), new.splitlines()
    before, after = [], []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if tag == "equal":
            continue
        context = a[i1 - 1].strip() if i1 > 0 else ""
        where = f"[{context}] " if context.strip("{}[]() ;,") else ""
        before.append(where + (" ⏎ ".join(x.strip() for x in a[i1:i2]) or "(no line)"))
        after.append(where + (" ⏎ ".join(x.strip() for x in b[j1:j2]) or "(no line)"))
    return " … ".join(before), " … ".join(after)


def differences(old: Any, new: Any, prefix: str) -> list[tuple[str, str | None, str | None]]:
    """(path, before, after) of every leaf that differs; None = absent on that side."""
    a, b = dict(_leaves(old, prefix)), dict(_leaves(new, prefix))
    out = []
    for path in sorted(set(a) | set(b)):
        if path in a and path in b and a[path] == b[path]:
            continue
        was, now = a.get(path), b.get(path)
        if isinstance(was, str) and isinstance(now, str) and ("\n" in was or "\n" in now):
            out.append((path, *_lines_changed(was, now)))
        else:
            out.append((path, None if path not in a else _text(was), None if path not in b else _text(now)))
    return out


def _by_key(resources: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Resources by key; a key registered twice (the engine would refuse the program) stays apart as `key#2`."""
    out: dict[str, dict[str, Any]] = {}
    for item in resources:
        key, count = item["key"], 1
        while key in out:
            count += 1
            key = f"{item['key']}#{count}"
        out[key] = item
    return out


def _resource(item: dict[str, Any]) -> str:
    return f"{item['type']} {item['name']}"


def compare(base: Mapping[str, Any], head: Mapping[str, Any], label: RiskLabel) -> list[Change]:
    """Every difference between two snapshots of one stack, each labelled `label` and counted as a widening."""

    def change(op: Op, subject: str, field: str = "", before: str | None = None,
               after: str | None = None) -> Change:
        return Change(System.CODE, op, subject, Direction.WIDER, before=before, after=after, risks=(label,),
                      field=field)

    changes = []
    if base["error"] != head["error"]:
        changes.append(change(Op.CHANGED, "the program", "result", base["error"] or "registers the stack",
                              head["error"] or "registers the stack"))
    old, new = _by_key(base["resources"]), _by_key(head["resources"])
    for key in sorted(set(old) | set(new)):
        was, now = old.get(key), new.get(key)
        if was is None or now is None:
            item = now or was
            changes.append(change(Op.ADDED if was is None else Op.REMOVED, _resource(item),  # type: ignore[arg-type]
                                  before=None if was is None else key, after=key if was is None else None))
            continue
        for field in ("custom", "parent"):
            if was.get(field) != now.get(field):
                changes.append(change(Op.CHANGED, _resource(now), field, _text(was.get(field)),
                                      _text(now.get(field))))
        lost = sorted(set(was["dependencies"]) - set(now["dependencies"]))
        gained = sorted(set(now["dependencies"]) - set(was["dependencies"]))
        if lost or gained:
            changes.append(change(Op.CHANGED, _resource(now), "dependencies", ", ".join(lost) or None,
                                  ", ".join(gained) or None))
        for section in ("inputs", "options", "secret_inputs"):
            for path, before, after in differences(was.get(section), now.get(section), section):
                changes.append(change(Op.CHANGED, _resource(now), path, before, after))
    for path, before, after in differences(base["outputs"], head["outputs"], "outputs"):
        changes.append(change(Op.CHANGED, "stack outputs", path, before, after))
    return changes


# --------------------------------------------------------------------------------------------------------
# The report's section


def _gate_change(status: str, path: str) -> Change:
    reason = ("the review gate itself: CI workflows and CODEOWNERS decide how this change is judged; GitHub runs "
              "the pull request's own workflow file")
    return Change(System.CODE, _GIT_OPS.get(status, Op.MODIFIED), path, Direction.WIDER,
                  risks=(risk.GATE_CHANGED.label("high", reason),))


def _unused(reason: str) -> Change:
    """Snapshots that cannot be read when no tool file changed: the base's code is the code, nothing to judge."""
    return Change(System.CODE, NOT_COMPILED, "snapshots", Direction.NEUTRAL, after=reason)


def _not_compiled(files: list[str], reason: str) -> Change:
    return Change(System.CODE, NOT_COMPILED, "agentiam's own code", Direction.WIDER, after=reason,
                  risks=(risk.CODE_CHANGED.label("high", f"its effect was not compiled: {_short(files)}"),))


def code_diff(repo: GitRepo, base_commit: str, head_commit: str | None, input_prefixes: Iterable[str],
              head_stacks: Iterable[str], snapshots: tuple[Path, Path] | None = None) -> CodeDiff | None:
    """The report section on agentiam's own code; None when no such file changed and no snapshots were given.

    `snapshots`: (base-code folder, head-code folder), both of the head's specs and stack configs. The stacks
    compared are the head's plus any either folder holds; one missing on a side is a change too.
    """
    prefixes = list(input_prefixes)
    changed = [(status, path, classify(path, prefixes)) for status, path in repo.changed_paths(base_commit, head_commit)]
    files = [(status, path, kind) for status, path, kind in changed if kind in ("tool", "gate")]
    if not files and snapshots is None:
        return None
    tool = [path for _, path, kind in files if kind == "tool"]
    gate = [path for _, path, kind in files if kind == "gate"]
    general = [_gate_change(status, path) for status, path, kind in files if kind == "gate"]
    per_stack: list[StackCodeDiff] = []
    compared: tuple[str, ...] = ()
    if snapshots is None:
        if tool:
            general.append(_not_compiled(tool, "no snapshots were given: see `agentiam snapshot` and "
                                               "`agentiam diff --base-code-snapshots/--head-code-snapshots`"))
    else:
        cause = (f"caused by agentiam's own code: {_short(tool)}" if tool else
                 "caused by the code that compiled the snapshots, though no tool file changed (another toolchain "
                 "or dependency version?)")
        label = risk.CODE_CHANGED.label("high", cause)
        try:
            for folder in snapshots:
                _check_folder(folder)
            stacks = sorted(set(head_stacks) | snapshot_stacks(snapshots[0]) | snapshot_stacks(snapshots[1]))
        except SnapshotUnusable as exc:
            general.append(_not_compiled(tool, str(exc)) if tool else _unused(str(exc)))
        else:
            compared = tuple(stacks)
            for stack in compared:
                try:
                    pair = [_load_file(folder / f"{stack}.json", stack) for folder in snapshots]
                except SnapshotUnusable as exc:
                    found: tuple[Change, ...] = (_not_compiled(tool, str(exc)) if tool else _unused(str(exc)),)
                    environment = stack
                else:
                    found = tuple(sorted(compare(pair[0], pair[1], label), key=_order))
                    environment = pair[1].get("environment") or stack
                if found:
                    per_stack.append(StackCodeDiff(stack, str(environment), found, risk.verdict(found)))
            if tool and not per_stack:
                general.append(Change(System.CODE, NO_EFFECT, "agentiam's own code", Direction.NEUTRAL,
                                      after=f"{len(compared)} stack(s) compiled by the base's and the head's code "
                                            "register identical resources and outputs"))
    ordered = tuple(general)
    every = ordered + tuple(c for s in per_stack for c in s.changes)
    return CodeDiff(tuple(sorted(tool + gate)), tuple(gate), compared, ordered, tuple(per_stack), risk.verdict(every))


def _order(change: Change) -> tuple[str, str, str]:
    return (change.subject, change.field, change.op)
