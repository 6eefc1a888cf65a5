"""Turn a parsed spec document into an AgentSpec, mapping pydantic errors to located findings."""

from __future__ import annotations

import difflib
import functools
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, NamedTuple, cast

from pydantic import BaseModel, ValidationError, create_model

from agentiam.findings import Finding, Severity
from agentiam.inputs.files import SPEC, Refused, file_finding, locate
from agentiam.spec.model import LOCATED_PROBLEMS, AgentSpec
from agentiam.spec.source import PathPart, SourceDocument, field_name, parse_spec_bytes

_MAX_SHOWN = 80  # characters of an offending value quoted in a message (a value may be kilobytes long)
_YAML11_BOOLEANS = {"yes", "no", "on", "off", "y", "n", "Yes", "No", "On", "Off", "YES", "NO", "ON", "OFF"}


@dataclass(frozen=True)
class ValidSpec:
    """A valid spec as a plan reads it: its file, its typed model and content digest, without the parsed document.

    What `project.compile_plan` keeps of each spec once the guardrails have judged it: the document (the YAML
    data and every node's position, for findings) is more than half of a loaded spec's memory (~10 of ~19 KB,
    docs/benchmarks.md), and a plan never locates anything."""

    file: str
    spec: AgentSpec

    @cached_property
    def digest(self) -> str:
        """`spec_digest` of the spec, computed when a plan first needs it: `validate` never does, and the
        canonical JSON was a tenth of its time over a large fleet (bench/bench_validate.py)."""
        return spec_digest(self.spec)

    def without_document(self) -> ValidSpec:
        """This spec as a plan keeps it."""
        return ValidSpec(self.file, self.spec)


@dataclass(frozen=True)
class LoadedSpec(ValidSpec):
    """A valid spec with where it came from: file, node positions, content digest."""

    document: SourceDocument


def spec_digest(spec: AgentSpec) -> str:
    """Digest of the spec's meaning (not its formatting): `sha256:` + 16 hex chars, stamped on tags."""
    data = spec.model_dump(mode="json")
    if data.get("migration") is None:  # added after the format's first specs: theirs keep the digest they had
        del data["migration"]
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()[:16]


def _shown(value: Any) -> str:
    """The offending value as the user wrote it, shortened; containers by kind (their items are located apart)."""
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    text = repr(value)
    return text if len(text) <= _MAX_SHOWN else text[:_MAX_SHOWN - 3] + "..."


@functools.cache
def _json_schema(model: type[BaseModel]) -> dict[str, Any]:
    return model.model_json_schema()


def _schema_at(model: type[BaseModel], loc: tuple[PathPart, ...]) -> dict[str, Any]:
    """The JSON-schema node of the field at `loc` ({} if none): where the field's description and examples are."""
    root = _json_schema(model)

    def resolve(node: dict[str, Any]) -> dict[str, Any]:
        while True:
            if "$ref" in node:
                target = root["$defs"][node["$ref"].rsplit("/", 1)[-1]]
                node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
            elif "anyOf" in node:  # `X | None`: the non-null branch, keeping the field's own description
                branch: dict[str, Any] = next((b for b in node["anyOf"] if b.get("type") != "null"), {})
                node = {**{k: v for k, v in node.items() if k != "anyOf"}, **branch}
            else:
                return node

    node = resolve(root)
    for i, part in enumerate(loc):
        if part == "[key]":
            continue
        if loc[i + 1:i + 2] == ("[key]",):  # pydantic's loc of a bad mapping key: (..., key, "[key]")
            node = node.get("propertyNames", {})
        elif isinstance(part, int):
            node = node.get("items", {})
        elif part in node.get("properties", {}):
            node = node["properties"][part]
        elif isinstance(node.get("additionalProperties"), dict):
            node = node["additionalProperties"]
        else:
            node = next(iter(node.get("patternProperties", {}).values()), {})
        node = resolve(node)
    return node


def _expected_form(model: type[BaseModel], loc: tuple[PathPart, ...]) -> str:
    """What a pattern field expects, in the words of its description and example rather than its regex."""
    node = _schema_at(model, loc)
    description = str(node.get("description", "")).split("; ")[0].rstrip(".")  # the form, not the rationale
    first_word = description.split(" ", 1)[0]
    if sum(c.isupper() for c in first_word) == 1 and first_word[:1].isupper():  # `An IAM action`, not `AWS region`
        description = description[0].lower() + description[1:]
    examples = [e for e in node.get("examples", []) if isinstance(e, str)]
    example = f", e.g. {examples[0]!r}" if examples else ""
    return f"expected {description or 'a value of another form'}{example}"


@functools.cache
def _field_paths(model: type[BaseModel]) -> dict[str, tuple[str, ...]]:
    """Every field name of `model` at any depth -> the dotted paths where it is a field (`token_max_ttl` ->
    `credentials.token_max_ttl`, `overrides.<env>.credentials.token_max_ttl`), shortest first."""
    root = _json_schema(model)
    found: dict[str, list[str]] = {}

    def walk(node: dict[str, Any], path: str, seen: frozenset[str]) -> None:
        if "$ref" in node:
            name = node["$ref"].rsplit("/", 1)[-1]
            if name in seen:
                return
            seen, node = seen | {name}, {**root["$defs"][name], **{k: v for k, v in node.items() if k != "$ref"}}
        for branch in node.get("anyOf", []):
            walk(branch, path, seen)
        if isinstance(node.get("items"), dict):
            walk(node["items"], path, seen)
        keyed = [node["additionalProperties"]] if isinstance(node.get("additionalProperties"), dict) else []
        # a mapping keyed by name (`overrides.<env>`, `databases.<name>`)
        key = "<env>" if "dev" in node.get("propertyNames", {}).get("examples", ()) else "<name>"
        for child in [*keyed, *node.get("patternProperties", {}).values()]:
            walk(child, f"{path}.{key}" if path else key, seen)
        for key, child in node.get("properties", {}).items():
            child_path = f"{path}.{key}" if path else key
            found.setdefault(key, []).append(child_path)
            walk(child, child_path, seen)

    walk(root, "", frozenset())
    return {key: tuple(sorted(set(paths), key=lambda p: (p.count("."), p))) for key, paths in found.items()}


# Fields renamed because their old name promised what they do not do: (parent key, old key) -> what to write.
RENAMED_FIELDS: dict[tuple[str, str], str] = {
    ("network", "rate_limit"): (
        "`rate_limit` was renamed `vault_login_rate`: it is a Vault rate-limit quota on the agent's AppRole logins "
        "and never limited calls to the egress hosts (nothing in agentiam does; docs/egress.md); write "
        "`vault_login_rate:` with the same `requests` and `interval`"),
}


def _unknown_field(model: type[BaseModel], loc: tuple[PathPart, ...]) -> str:
    """SPEC001's message: what a renamed field is called now (`RENAMED_FIELDS`), the known field this key most
    likely misspells (`token_max_tll` -> `token_max_ttl`), or where the key is a field when it sits at the wrong
    level; difflib over the model's own field names."""
    key = str(loc[-1])
    renamed = RENAMED_FIELDS.get((str(loc[-2]), key)) if len(loc) > 1 else None
    if renamed is not None:
        return renamed
    known = list(_schema_at(model, loc[:-1]).get("properties", {}))
    by_lower = {name.lower(): name for name in known}
    close = difflib.get_close_matches(key.lower(), list(by_lower), n=1, cutoff=0.75)
    if close:
        return f"unknown field; did you mean {by_lower[close[0]]!r}?"
    elsewhere = _field_paths(model).get(key) or next(
        (paths for name, paths in _field_paths(model).items() if name.lower() == key.lower()), ())
    if elsewhere:
        shown = " or ".join(elsewhere[:2])
        return f"unknown field at this level; {key!r} belongs at {shown}"
    return "unknown field (not part of the spec format; check the spelling)"


def _message(error: Mapping[str, Any], model: type[BaseModel]) -> tuple[str, str]:
    kind = error["type"]
    value = error.get("input")
    if kind == "extra_forbidden":
        return "SPEC001", _unknown_field(model, error["loc"])
    if kind == "missing":
        return "SPEC002", "required field is missing"
    message = error["msg"]
    if message.startswith("Value error, "):
        message = message[len("Value error, "):]
    if kind == "string_pattern_mismatch":  # a raw regex helps nobody: say what the field is, with an example
        message = _expected_form(model, error["loc"])
    elif kind in ("model_type", "dict_type"):
        message = "expected a mapping (`key: value` lines)"
    elif kind == "list_type":
        message = "expected a list (`- item` lines or `[a, b]`)"
    if kind == "bool_type" and isinstance(value, str) and value in _YAML11_BOOLEANS:
        message += f" (got the string {value!r}: write true or false)"
    elif kind != "value_error" and "input" in error and not (isinstance(value, dict | list) and kind.endswith(
            ("_too_short", "_too_long"))):
        # A field marked writeOnly may carry a secret when written wrong (a password in a connection URL).
        secret = isinstance(value, str) and _schema_at(model, error["loc"]).get("writeOnly")
        message += ", got a value not shown (it may hold a secret)" if secret else f", got {_shown(value)}"
    return "SPEC003", message


def validation_findings(document: SourceDocument, exc: ValidationError, prefix: tuple[PathPart, ...] = (),
                        rule_id: str | None = None, model: type[BaseModel] = AgentSpec) -> list[Finding]:
    """One finding per pydantic error of `model`, located on the offending key or value."""
    findings = []
    for error in exc.errors(include_url=False):
        if error["type"] == LOCATED_PROBLEMS:  # model-level checks: each problem on the field it names
            loc_prefix = tuple(error["loc"])  # where the model sits (a nested model's checks name paths inside it)
            for path, message in error["ctx"]["problems"]:
                finding = document.finding(rule_id or "SPEC003", prefix + loc_prefix + tuple(path), message,
                                           Severity.ERROR, at_key=True)
                findings.append(_relative(finding, document, prefix, loc_prefix + tuple(path)))
            continue
        loc = tuple(part for part in error["loc"] if not (isinstance(part, str) and part.startswith("function-")))
        error["loc"] = loc
        code, message = _message(error, model)
        # A bad mapping key (`overrides.Prod`) comes as (..., "Prod", "[key]"): locate and name the key itself.
        at_key = error["type"] == "extra_forbidden" or loc[-1:] == ("[key]",)
        loc = loc[:-1] if loc[-1:] == ("[key]",) else loc
        finding = document.finding(rule_id or code, prefix + loc, message, Severity.ERROR, at_key=at_key)
        findings.append(_relative(finding, document, prefix, loc))
    return findings


def _relative(finding: Finding, document: SourceDocument, prefix: tuple[PathPart, ...],
              loc: tuple[PathPart, ...]) -> Finding:
    """Config fields are named relative to the config value, not the file root (list items by key)."""
    if not prefix:
        return finding
    value = document.data
    for part in prefix:
        value = value.get(part) if isinstance(value, dict) else None
    return Finding(finding.file, finding.line, finding.column, finding.rule_id, finding.severity,
                   field_name(value, loc) or str(prefix[-1]), finding.message)


class UnreadableField(Exception):
    """Raised when code reads a field of a `PartialSpec` that failed validation. Not an error of the user's: the
    rule engine catches it and drops that rule's findings for the file (agentiam.rules.registry.run_rules)."""

    def __init__(self, file: str, field: str):
        super().__init__(f"{file}: {field}")
        self.file, self.field = file, field

    def __reduce__(self) -> tuple[type, tuple[str, str]]:  # picklable, for worker processes
        return UnreadableField, (self.file, self.field)


class _ReadableFields:
    """The fields of a spec that validated, as attributes; any other attribute raises `UnreadableField`."""

    __slots__ = ("_file", "_values")

    def __init__(self, file: str, values: dict[str, Any]):
        self._file, self._values = file, values

    def __getattr__(self, name: str) -> Any:
        try:
            return self._values[name]
        except KeyError:
            raise UnreadableField(self._file, name) from None


@dataclass(frozen=True)
class PartialSpec:
    """A spec file with schema errors, as far as it can be read: guardrails still run over it (never the plan).

    `spec` behaves as an `AgentSpec` for the top-level fields in `readable`: each validated exactly as in the full
    model (its type, constraints and nested models), or took its default when the file does not set it. Reading any
    other field raises `UnreadableField`, so a rule that needs a field that failed never sees a stand-in value:
    its findings for the file are dropped instead, and appear once the file is fixed. A rule that completes has
    read only valid values, so its findings are the ones the fixed file will get (see docs/guardrails.md)."""

    file: str
    document: SourceDocument
    spec: AgentSpec
    readable: frozenset[str]


@functools.cache
def _single_field_model(name: str) -> type[BaseModel]:
    """A model of `AgentSpec`'s field `name` alone: same type, constraints, default and strict config."""
    info = AgentSpec.model_fields[name]
    field: dict[str, Any] = {name: (info.annotation, info)}
    return create_model(f"AgentSpec_{name}", __config__=AgentSpec.model_config, **field)


def partial_spec(file: str, document: SourceDocument, exc: ValidationError) -> PartialSpec | None:
    """The fields of a spec that failed validation that are valid on their own (None if none can be trusted).

    A field is unreadable when an error lies inside it, when it is required and missing, or when it is absent
    while the file has an unknown top-level key (which may be that field, misspelt: its default would be a guess).
    The model's cross-field check (`overrides` against `environments` and `status`) runs only on a valid
    spec: while other fields fail, `overrides` is read as written."""
    data = document.data
    if not isinstance(data, dict):
        return None
    failed: set[str] = set()
    for error in exc.errors(include_url=False):
        if error["type"] == LOCATED_PROBLEMS:
            failed |= {str((tuple(error["loc"]) + tuple(path))[0]) for path, _ in error["ctx"]["problems"]}
        elif error["loc"]:
            failed.add(str(error["loc"][0]))
        else:
            return None  # a problem of the whole document: nothing in it can be read alone
    fields = AgentSpec.model_fields
    unknown_keys = any(key not in fields for key in data)
    values: dict[str, Any] = {}
    for name in fields:
        if name in failed or (name not in data and unknown_keys):
            continue
        try:
            checked = _single_field_model(name).model_validate({name: data[name]} if name in data else {})
        except ValidationError:
            continue  # required and missing (SPEC002 says so), or valid only together with another field
        values[name] = getattr(checked, name)
    return PartialSpec(file, document, cast(AgentSpec, _ReadableFields(file, values)), frozenset(values))


class SpecReading(NamedTuple):
    """What reading one spec file gives: the valid spec, or what can be read of an invalid one, and the findings."""

    loaded: LoadedSpec | None
    partial: PartialSpec | None
    findings: list[Finding]


def read_spec_bytes(file: str, raw: bytes) -> SpecReading:
    """Parse and validate one spec file's bytes; a file with schema errors comes with its readable part."""
    document, findings = parse_spec_bytes(file, raw)
    if document is None:
        return SpecReading(None, None, findings)
    try:
        spec = AgentSpec.model_validate(document.data)
    except ValidationError as exc:
        return SpecReading(None, partial_spec(file, document, exc), validation_findings(document, exc))
    return SpecReading(LoadedSpec(file=file, spec=spec, document=document), None, [])


def load_spec_bytes(file: str, raw: bytes) -> tuple[LoadedSpec | None, list[Finding]]:
    """Parse and validate one spec file's bytes."""
    loaded, _, findings = read_spec_bytes(file, raw)
    return loaded, findings


def load_spec_file(path: Path, anchor: Path = Path(".")) -> tuple[LoadedSpec | None, list[Finding]]:
    """Read, parse and validate one spec file; links and special files are refused below `anchor` (the project root)."""
    tree, rel = locate(path, anchor)
    try:
        raw = tree.read(rel, SPEC)
    except Refused as refused:
        return None, [file_finding(str(path), refused)]
    return load_spec_bytes(str(path), raw)
