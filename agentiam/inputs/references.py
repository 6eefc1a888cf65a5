"""Stack-config fields that name a file: declared on the model, read through the input reader, checked, fingerprinted.

A field typed with a `FileReference` marker (`Annotated[str, FileReference("pem-certificates")]`) holds a path
relative to the project (the folder holding `stacks/`). Loading a stack config reads every such file through the
same reader as specs and stack configs (no links, no special files, bounded), checks its format, and keeps its
bytes and SHA-256 with the config, so the plan carries exactly what was reviewed and nothing reads the file again
at deploy time. A field added later with the marker goes through the same path without further code.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import re
import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from pydantic import BaseModel

from agentiam.findings import Finding, Severity
from agentiam.inputs.files import REFERENCED, InputKind, Refused, project_path, shortened

REFERENCE_RULE = "CFG003"


@dataclass(frozen=True)
class FileReference:
    """Marks a `str` field of the stack-config model as the project-relative path of a file the plan carries."""

    format: str  # a key of FORMATS


@dataclass(frozen=True)
class Certificate:
    """One X.509 certificate of a PEM file, as reviewers compare it (`openssl x509 -noout -fingerprint -sha256`)."""

    subject: str  # RFC 4514
    sha256_fingerprint: str  # SHA-256 of the DER, upper-case hex pairs joined by `:` as openssl prints it
    not_after: str  # ISO 8601, UTC


@dataclass(frozen=True)
class ReferencedFile:
    """A file a stack-config field names, as read once at load time."""

    field: str  # `vault.agent_ca_pem_file`
    path: str  # normalised, relative to the project
    content: bytes
    sha256: str  # of `content`, lower-case hex as `sha256sum` prints it
    certificates: tuple[Certificate, ...] = ()


class FileTree(Protocol):
    """Where referenced files are read from: the project on disk (`DiskTree`) or a git revision (`GitTree`)."""

    def read_many(self, rels: Iterable[str], kind: InputKind) -> Mapping[str, bytes | Refused]:
        """Each path's bytes, or why it is not read."""
        ...


_PEM_BLOCK = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----\r?\n(.*?)-----END \1-----", re.S)


def _pem_certificates(content: bytes) -> tuple[Certificate, ...]:
    """The certificates of a PEM file holding certificates only; ValueError saying what else it holds."""
    from cryptography import x509  # only loading a stack config pays for it

    found: list[Certificate] = []
    end = 0
    for match in _PEM_BLOCK.finditer(content):
        if content[end:match.start()].strip():
            raise ValueError("holds text outside its PEM blocks; the file must hold PEM certificates only")
        end = match.end()
        label = match.group(1).decode()
        if label != "CERTIFICATE":  # a private key pasted here would be published in the plan and in Vault
            raise ValueError(f"holds a {label} block; the file must hold PEM certificates only")
        number = len(found) + 1
        try:
            der = base64.b64decode(b"".join(match.group(2).split()), validate=True)
            cert = x509.load_der_x509_certificate(der)
            subject, not_after = cert.subject.rfc4514_string(), cert.not_valid_after_utc.isoformat()
        except (ValueError, binascii.Error) as exc:
            raise ValueError(f"certificate {number} is not a valid X.509 certificate ({exc})") from exc
        digest = hashlib.sha256(der).hexdigest().upper()
        found.append(Certificate(subject, ":".join(digest[i:i + 2] for i in range(0, 64, 2)), not_after))
    if content[end:].strip():
        raise ValueError("holds text outside its PEM blocks; the file must hold PEM certificates only")
    if not found:
        raise ValueError("holds no PEM certificate (-----BEGIN CERTIFICATE-----)")
    return tuple(found)


# format -> (what the file must be, checker returning its certificates); a checker raises ValueError.
FORMATS: dict[str, Callable[[bytes], tuple[Certificate, ...]]] = {"pem-certificates": _pem_certificates}


@functools.cache
def referenced_fields(model: type[BaseModel]) -> tuple[tuple[tuple[str, ...], FileReference], ...]:
    """(field path, marker) of every `FileReference` field of `model` and of the models nested in it."""
    found: list[tuple[tuple[str, ...], FileReference]] = []
    for name, info in model.model_fields.items():
        for marker in info.metadata:
            if isinstance(marker, FileReference):
                found.append(((name,), marker))
        for inner in (info.annotation, *typing.get_args(info.annotation)):
            if isinstance(inner, type) and issubclass(inner, BaseModel):
                found.extend(((name, *path), marker) for path, marker in referenced_fields(inner))
    return tuple(found)


def _value(config: BaseModel, path: tuple[str, ...]) -> Any:
    value: Any = config
    for part in path:
        value = getattr(value, part, None)
    return value


@dataclass(frozen=True)
class Referencing:
    """One loaded stack config whose referenced files are to be read: the config and how to locate a finding."""

    config: BaseModel
    locate: Callable[[tuple[str, ...], str], Finding]  # (field path, message) -> CFG003 finding on that field


def read_references(items: list[Referencing], tree: FileTree) -> list[tuple[dict[str, ReferencedFile], list[Finding]]]:
    """The referenced files of each item, read together (one batch per tree), or the findings on its fields."""
    wanted: list[tuple[int, tuple[str, ...], FileReference, str | Refused]] = []
    for index, item in enumerate(items):
        for path, marker in referenced_fields(type(item.config)):
            value = _value(item.config, path)
            if value is None:
                continue
            try:
                wanted.append((index, path, marker, project_path(value)))
            except Refused as refused:
                wanted.append((index, path, marker, refused))
    contents = tree.read_many(sorted({rel for *_, rel in wanted if isinstance(rel, str)}), REFERENCED)
    out: list[tuple[dict[str, ReferencedFile], list[Finding]]] = [({}, []) for _ in items]
    for index, path, marker, rel in wanted:
        files, findings = out[index]
        field = ".".join(path)
        got = contents[rel] if isinstance(rel, str) else rel
        if isinstance(got, Refused):
            findings.append(items[index].locate(path, got.message()))
            continue
        try:
            certificates = FORMATS[marker.format](got)
        except ValueError as exc:
            findings.append(items[index].locate(path, f"{shortened(rel)} {exc}"))
            continue
        files[field] = ReferencedFile(field, rel, got, hashlib.sha256(got).hexdigest(), certificates)
    return out


def reference_finding(file: str, line: int, column: int, field: str, message: str) -> Finding:
    """CFG003: a referenced file that cannot be used, located on the stack-config field naming it."""
    return Finding(file, line, column, REFERENCE_RULE, Severity.ERROR, field, message)
