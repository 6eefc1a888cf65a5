"""Safe YAML loading that keeps line/column for every node and refuses what reviewers cannot see.

PyYAML silently keeps the last of two duplicate keys, expands anchors and merge keys and
turns `no` into False (YAML 1.1). A reviewer would approve a different document from the
one applied, so this loader composes nodes with the C parser and builds values itself:
duplicate keys, anchors/aliases, merge keys and custom tags are errors, and scalars follow
the YAML 1.2 core schema (only true/false are booleans, dates stay strings).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, cast

import yaml

from agentiam.findings import Finding, Severity
from agentiam.inputs.files import SPEC, InputKind, too_large_detail

MAX_SPEC_BYTES = SPEC.limit
MAX_DEPTH = 1000  # nesting levels; real specs use about 6 (see `_too_deep`)
# Every number a spec or stack config holds is a count, a size or a duration: 64-bit signed at most (what Vault and
# AWS accept). A longer digit string is refused before conversion: CPython refuses int() of more than 4,300 digits
# with a ValueError, and converting a long one costs quadratic time.
MAX_NUMBER_TEXT = 40
_INT64 = 2 ** 63

_BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_INT = re.compile(r"[-+]?[0-9]+\Z")
_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?\Z")
_NULLS = frozenset(("", "~", "null", "Null", "NULL"))
_NUMBER_START = frozenset("+-.0123456789")
_TRUE = frozenset(("true", "True", "TRUE"))
_FALSE = frozenset(("false", "False", "FALSE"))
_STANDARD_TAG_PREFIX = "tag:yaml.org,2002:"
_STR_TAG = _STANDARD_TAG_PREFIX + "str"
_PLAIN_TAGS = frozenset(_STANDARD_TAG_PREFIX + t for t in ("str", "int", "float", "bool", "null", "timestamp", "merge"))

PathPart = str | int


class _Loader(_BaseLoader):  # type: ignore[misc, valid-type]
    """The C composer without PyYAML's YAML 1.1 implicit resolver: `_scalar` re-resolves every plain scalar
    under YAML 1.2 anyway, and the resolver's regexes were a third of the parse time (bench/bench_validate.py).
    Explicit tags are not resolved, so they still reach `_scalar` and are refused there."""

    def resolve(self, kind: type, value: Any, implicit: Any) -> str:
        if kind is yaml.ScalarNode:
            return _STR_TAG
        return _STANDARD_TAG_PREFIX + ("seq" if kind is yaml.SequenceNode else "map")

    # Path-based resolvers are not used either; the composer calls these once per node.
    def descend_resolver(self, current_node: Any, current_index: Any) -> None:
        return None

    def ascend_resolver(self) -> None:
        return None


class _Reject(Exception):
    """Internal signal: the document uses a YAML feature specs may not use."""

    def __init__(self, rule_id: str, node: yaml.Node, message: str):
        self.rule_id, self.node, self.message = rule_id, node, message


_ALIAS_MESSAGE = "anchors and aliases are not allowed: a reviewer must see every value where it applies"
_SEP = "\x1f"  # joins path parts into one string key (a node is either a mapping or a list: no ambiguity)
_BITS = 20  # files are at most 256 KiB, so lines and columns fit in 20 bits each


@dataclass(frozen=True)
class SourceDocument:
    """A parsed spec file: plain data plus the position of every node, to locate any field by path.

    Positions are a flat index of strings to packed integers rather than the YAML node tree: a fleet's worth
    of node trees (or of tuples) kept alive made the cyclic GC rescan them over and over, while strings and
    integers are not tracked by it at all (bench/bench_validate.py).
    """

    file: str
    data: Any
    positions: dict[str, int]

    def position(self, path: tuple[PathPart, ...], at_key: bool = False) -> tuple[int, int]:
        """1-based (line, column) of the node at `path` (its key if `at_key`), or of its deepest existing ancestor."""
        keys = [""]
        for part in path:
            keys.append(f"{keys[-1]}{_SEP}{part}")
        for end in range(len(path), -1, -1):
            packed = self.positions.get(keys[end])
            if packed is not None:
                mask = (1 << _BITS) - 1
                if at_key and end == len(path):
                    return (packed >> _BITS) & mask, packed & mask
                return packed >> (3 * _BITS), (packed >> (2 * _BITS)) & mask
        return (1, 1)

    def finding(self, rule_id: str, path: tuple[PathPart, ...], message: str,
                severity: Severity = Severity.ERROR, at_key: bool = False) -> Finding:
        """A finding located at `path`, with the field named by key rather than list index."""
        line, column = self.position(path, at_key=at_key)
        return Finding(self.file, line, column, rule_id, severity, field_name(self.data, path), message)


def field_name(data: Any, path: tuple[PathPart, ...]) -> str:
    """`permissions.aws[s3-read].actions`: list items are named by their natural key when they have one."""
    out: list[str] = []
    node = data
    for part in path:
        if isinstance(part, int):
            label = str(part)
            item = node[part] if isinstance(node, list) and 0 <= part < len(node) else None
            if isinstance(item, dict):
                for key in ("sid", "database", "path", "host", "name", "id", "role"):
                    if isinstance(item.get(key), str):
                        label = item[key]
                        break
            elif isinstance(item, str | int | float) and not isinstance(item, bool):
                label = str(item)
            out.append(f"[{label}]")
            node = item
        else:
            out.append(f".{part}" if out else str(part))
            node = node.get(part) if isinstance(node, dict) else None
    return "".join(out)


def _scalar(node: yaml.ScalarNode) -> Any:
    value = node.value
    if node.style:  # quoted or block scalar: always a string (plain is None or "" by loader)
        if node.tag != _STR_TAG:
            raise _Reject("YAML006", node, f"tag {node.tag!r} is not allowed in agent specs")
        return value
    # A plain scalar's tag is `str` (the loader skips PyYAML's YAML 1.1 resolver) or an explicit standard tag;
    # either way the value is resolved under the YAML 1.2 core schema below.
    if node.tag not in _PLAIN_TAGS:
        raise _Reject("YAML006", node, f"tag {node.tag!r} is not allowed in agent specs")
    if value in _NULLS:
        return None
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    if value[0] in _NUMBER_START:  # most scalars are names: skip the number patterns for them
        if _INT.match(value):
            if len(value) <= MAX_NUMBER_TEXT and -_INT64 <= (number := int(value)) < _INT64:
                return number
            raise _Reject("YAML008", node, _out_of_range(value))
        if _FLOAT.match(value):
            if len(value) <= MAX_NUMBER_TEXT and math.isfinite(real := float(value)):
                return real
            raise _Reject("YAML008", node, _out_of_range(value))
    return value


def _out_of_range(value: str) -> str:
    shown = value if len(value) <= 24 else f"{value[:20]}... ({len(value)} characters)"
    return (f"number {shown} is out of range: numbers are 64-bit integers or finite decimals of at most "
            f"{MAX_NUMBER_TEXT} characters; quote the value if it is text")


def _build(node: yaml.Node, seen: set[int], path: str, positions: dict[str, int],
           key_mark: yaml.Mark | None = None) -> Any:
    if id(node) in seen:  # the composer hands an alias over as the anchored node itself: `_alias_finding` locates it
        raise _Reject("YAML003", node, _ALIAS_MESSAGE)
    seen.add(id(node))
    mark = node.start_mark
    key = key_mark or mark
    positions[path] = ((((mark.line + 1) << _BITS | (mark.column + 1)) << _BITS | (key.line + 1)) << _BITS
                       | (key.column + 1))
    kind = node.__class__
    if kind is yaml.ScalarNode:
        return _scalar(cast(yaml.ScalarNode, node))
    if kind is yaml.SequenceNode:
        if node.tag != _STANDARD_TAG_PREFIX + "seq":
            raise _Reject("YAML006", node, f"tag {node.tag!r} is not allowed in agent specs")
        return [_build(child, seen, f"{path}{_SEP}{i}", positions) for i, child in enumerate(node.value)]
    if node.tag != _STANDARD_TAG_PREFIX + "map":
        raise _Reject("YAML006", node, f"tag {node.tag!r} is not allowed in agent specs")
    result: dict[str, Any] = {}
    for key_node, value_node in node.value:
        if key_node.__class__ is not yaml.ScalarNode:
            raise _Reject("YAML007", key_node, "mapping keys must be plain strings")
        if id(key_node) in seen:  # `*k : 1` would be a key nobody sees written
            raise _Reject("YAML003", key_node, _ALIAS_MESSAGE)
        seen.add(id(key_node))
        name = key_node.value
        if name == "<<" and not key_node.style:
            raise _Reject("YAML003", key_node,
                          "merge keys (<<) are not allowed: a reviewer must see every value where it applies")
        if name in result:
            raise _Reject("YAML002", key_node, f"duplicate key {name!r}: YAML would silently keep only the last value")
        if key_node.tag not in _PLAIN_TAGS or (key_node.style and key_node.tag != _STR_TAG):
            raise _Reject("YAML006", key_node, f"tag {key_node.tag!r} is not allowed in agent specs")
        result[name] = _build(value_node, seen, f"{path}{_SEP}{name}", positions, key_node.start_mark)
    return result


def _yaml_error(file: str, exc: yaml.YAMLError) -> Finding:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    line, column = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    context = getattr(exc, "context", None)
    message = f"{context}, {problem}" if context else problem
    return Finding(file, line, column, "YAML001", Severity.ERROR, "", f"malformed YAML: {message}")


def _alias_finding(file: str, text: str, anchored: yaml.Node) -> Finding:
    """YAML003 on the first alias (where the value is reused), naming the anchor's line.

    Composed nodes keep no trace of aliases (an alias *is* the anchored node), so only on this error path the text
    is parsed again as events: the first alias event in the stream is the one `_build` tripped over, as `_build`
    walks the document in order and an anchor always precedes its aliases.
    """
    anchor_line = anchored.start_mark.line + 1
    for event in yaml.parse(text, Loader=_Loader):
        if isinstance(event, yaml.AliasEvent):
            mark = event.start_mark
            assert mark is not None  # the parser marks every event it emits
            return Finding(file, mark.line + 1, mark.column + 1, "YAML003", Severity.ERROR, "",
                           f"alias *{event.anchor} reuses the value anchored on line {anchor_line}; {_ALIAS_MESSAGE}")
    mark = anchored.start_mark  # not reached: a reused node means an alias event exists
    return Finding(file, mark.line + 1, mark.column + 1, "YAML003", Severity.ERROR, "", _ALIAS_MESSAGE)


def _too_deep(text: str) -> yaml.Mark | yaml._yaml.Mark | None:
    """Where the document first nests deeper than MAX_DEPTH, or None.

    PyYAML's C composer recurses once per level and kills the process (SIGSEGV, no message) somewhere past
    20,000 levels, which `[` x 50,000 reaches in 100 KB. Every level needs an indicator character of its own,
    so counting them (C speed) clears every real spec (~100 of them); only a file with more is scanned as events.
    """
    if sum(map(text.count, "[{-:?")) <= MAX_DEPTH:
        return None
    depth = 0
    for event in yaml.parse(text, Loader=_Loader):
        kind = event.__class__
        if kind is yaml.MappingStartEvent or kind is yaml.SequenceStartEvent:
            depth += 1
            if depth > MAX_DEPTH:
                return event.start_mark
        elif kind is yaml.MappingEndEvent or kind is yaml.SequenceEndEvent:
            depth -= 1
    return None


def too_large(file: str, size: int, kind: InputKind = SPEC) -> Finding:
    """YAML005: the file is over its kind's limit."""
    return Finding(file, 1, 1, "YAML005", Severity.ERROR, "", f"file is {too_large_detail(size, kind)}")


def parse_spec_bytes(file: str, raw: bytes, kind: InputKind = SPEC) -> tuple[SourceDocument | None, list[Finding]]:
    """Parse one spec file's bytes; returns the document or the findings that stopped it.

    `kind` names the kind of file in messages and sets its size limit (stack configs are read by the same loader)."""
    what = kind.singular
    if len(raw) > kind.limit:
        return None, [too_large(file, len(raw), kind)]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        return None, [Finding(file, line, column, "YAML004", Severity.ERROR, "",
                              f"not valid UTF-8 (byte 0x{raw[exc.start]:02x}); save the file as UTF-8")]
    if text.startswith("\ufeff"):
        text = text[1:]
    try:
        deep = _too_deep(text)
        if deep is not None:
            return None, [Finding(file, deep.line + 1, deep.column + 1, "YAML007", Severity.ERROR, "",
                                  "document is nested too deeply")]
        root = yaml.compose(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        if (isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None
                and "nesting depth" in str(exc.problem)):  # PyYAML >= 6.0.4 has a depth limit of its own
            mark = exc.problem_mark
            return None, [Finding(file, mark.line + 1, mark.column + 1, "YAML007", Severity.ERROR, "",
                                  "document is nested too deeply")]
        return None, [_yaml_error(file, exc)]
    if root is None:
        return None, [Finding(file, 1, 1, "YAML007", Severity.ERROR, "", f"file is empty; {what} is a YAML mapping")]
    positions: dict[str, int] = {}
    try:
        data = _build(root, set(), "", positions)
    except _Reject as rejected:
        if rejected.message is _ALIAS_MESSAGE:
            return None, [_alias_finding(file, text, rejected.node)]
        mark = rejected.node.start_mark
        return None, [Finding(file, mark.line + 1, mark.column + 1, rejected.rule_id, Severity.ERROR, "",
                              rejected.message)]
    except RecursionError:
        return None, [Finding(file, 1, 1, "YAML007", Severity.ERROR, "", "document is nested too deeply")]
    if not isinstance(data, dict):
        mark = root.start_mark
        return None, [Finding(file, mark.line + 1, mark.column + 1, "YAML007", Severity.ERROR, "",
                              f"{what} is a YAML mapping, not a {type(data).__name__}")]
    return SourceDocument(file, data, positions), []
