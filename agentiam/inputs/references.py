"""Stack-config fields that name a file: declared on the model, read through the input reader, checked, fingerprinted.

A field typed with a `FileReference` marker (`Annotated[str, FileReference("pem-certificates")]`) holds a path
relative to the project (the folder holding `stacks/`). Loading a stack config reads every such file through the
same reader as specs and stack configs (no links, no special files, bounded), checks its format, and keeps its
bytes and SHA-256 with the config, so the plan carries exactly what was reviewed and nothing reads the file again
at deploy time. A field added later with the marker goes through the same path without further code.
"""

from __future__ import annotations

import functools
import hashlib
import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from pydantic import BaseModel

from agentiam.findings import Finding
from agentiam.inputs.files import REFERENCED, InputKind, Refused, project_path, shortened
from agentiam.inputs.pem import Certificate, certificates

REFERENCE_RULE = "CFG003"


@dataclass(frozen=True)
class FileReference:
    """Marks a `str` field of the stack-config model as the project-relative path of a file the plan carries."""

    format: str  # a key of FORMATS


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


# format -> checker returning the file's certificates (none for a format without); it raises ValueError.
FORMATS: dict[str, Callable[[bytes], tuple[Certificate, ...]]] = {"pem-certificates": certificates}


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
        assert isinstance(rel, str)  # a refused path is its own content: reported above
        try:
            certificates = FORMATS[marker.format](got)
        except ValueError as exc:
            findings.append(items[index].locate(path, f"{shortened(rel)} {exc}"))
            continue
        files[field] = ReferencedFile(field, rel, got, hashlib.sha256(got).hexdigest(), certificates)
    return out

