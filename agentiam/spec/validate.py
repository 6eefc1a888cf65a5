"""Turn a parsed spec document into an AgentSpec, mapping pydantic errors to located findings."""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from agentiam.findings import Finding, Severity
from agentiam.inputs.files import SPEC, Refused, file_finding, locate
from agentiam.spec.model import LOCATED_PROBLEMS, AgentSpec
from agentiam.spec.source import PathPart, SourceDocument, field_name, parse_spec_bytes

_MAX_SHOWN = 80  # characters of an offending value quoted in a message (a value may be kilobytes long)
_YAML11_BOOLEANS = {"yes", "no", "on", "off", "y", "n", "Yes", "No", "On", "Off", "YES", "NO", "ON", "OFF"}


@dataclass(frozen=True)
class LoadedSpec:
    """A valid spec with where it came from: file, node positions, content digest."""

    file: str
    document: SourceDocument
    spec: AgentSpec

    @cached_property
    def digest(self) -> str:
        """`spec_digest` of the spec, computed when a plan first needs it: `validate` never does, and the
        canonical JSON was a tenth of its time over a large fleet (bench/bench_validate.py)."""
        return spec_digest(self.spec)


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
                branch = next((b for b in node["anyOf"] if b.get("type") != "null"), {})
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


def _message(error: dict[str, Any], model: type[BaseModel]) -> tuple[str, str]:
    kind = error["type"]
    value = error.get("input")
    if kind == "extra_forbidden":
        return "SPEC001", "unknown field (not part of the spec format; check the spelling)"
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


def load_spec_bytes(file: str, raw: bytes) -> tuple[LoadedSpec | None, list[Finding]]:
    """Parse and validate one spec file's bytes."""
    document, findings = parse_spec_bytes(file, raw)
    if document is None:
        return None, findings
    try:
        spec = AgentSpec.model_validate(document.data)
    except ValidationError as exc:
        return None, validation_findings(document, exc)
    return LoadedSpec(file, document, spec), []


def load_spec_file(path: Path, anchor: Path = Path(".")) -> tuple[LoadedSpec | None, list[Finding]]:
    """Read, parse and validate one spec file; links and special files are refused below `anchor` (the project root)."""
    tree, rel = locate(path, anchor)
    try:
        raw = tree.read(rel, SPEC)
    except Refused as refused:
        return None, [file_finding(str(path), refused)]
    return load_spec_bytes(str(path), raw)
