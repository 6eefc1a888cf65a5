"""Turn a parsed spec document into an AgentSpec, mapping pydantic errors to located findings."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from agentiam.findings import Finding, Severity
from agentiam.spec.model import AgentSpec
from agentiam.spec.source import PathPart, SourceDocument, parse_spec_bytes

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
    canonical = json.dumps(spec.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()[:16]


def _message(error: dict[str, Any]) -> tuple[str, str]:
    kind = error["type"]
    value = error.get("input")
    if kind == "extra_forbidden":
        return "SPEC001", "unknown field (not part of the spec format; check the spelling)"
    if kind == "missing":
        return "SPEC002", "required field is missing"
    message = error["msg"]
    if message.startswith("Value error, "):
        message = message[len("Value error, "):]
    if kind == "bool_type" and isinstance(value, str) and value in _YAML11_BOOLEANS:
        message += f" (got the string {value!r}: write true or false)"
    elif kind not in ("value_error", "missing") and not isinstance(value, dict | list):
        message += f", got {value!r}"
    return "SPEC003", message


def validation_findings(document: SourceDocument, exc: ValidationError, prefix: tuple[PathPart, ...] = (),
                        rule_id: str | None = None) -> list[Finding]:
    """One finding per pydantic error, located on the offending key or value."""
    findings = []
    for error in exc.errors(include_url=False):
        loc = tuple(part for part in error["loc"] if not (isinstance(part, str) and part.startswith("function-")))
        code, message = _message(error)
        path = prefix + loc
        at_key = error["type"] == "extra_forbidden"
        finding = document.finding(rule_id or code, path, message, Severity.ERROR, at_key=at_key)
        if prefix:  # name config fields relative to the config value, not the file root
            finding = Finding(finding.file, finding.line, finding.column, finding.rule_id, finding.severity,
                              ".".join(str(p) for p in loc), finding.message)
        findings.append(finding)
    return findings


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


def load_spec_file(path: Path, display: str | None = None) -> tuple[LoadedSpec | None, list[Finding]]:
    """Read, parse and validate one spec file."""
    name = display or str(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        return None, [Finding(name, 1, 1, "YAML000", Severity.ERROR, "", f"cannot read file: {exc.strerror}")]
    return load_spec_bytes(name, raw)
