"""Which consumer handles which plan field: registries a test walks, so a plan field cannot be half-added.

Every consumer of the plan (the diff, the text plan, the Pulumi components, revoke) declares, next to its code, what
it does with each field of each plan class (`Coverage`). `missing()` walks the plan model from its root and names
every field a consumer has not declared, and every declaration of a field that no longer exists:
tests/test_plan_coverage.py fails on either, for every consumer. Adding a resource type (a Vault PKI role, say) to
the plan therefore fails that test until each consumer has said how it handles it, a reason included when the
answer is "nothing". The diff also derives from its declaration which fields it shows only as `other` changes.

Revoke is declared per class (`EVERY_FIELD`): what it must do is decided by the kind of resource (does it issue
credentials?), not field by field.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import Enum

from pydantic import BaseModel

EVERY_FIELD = "*"  # a declaration for the whole class


class Kind(str, Enum):
    """How a consumer handles one field."""

    HANDLED = "handled"  # read by the consumer's own code for this field
    DERIVED = "derived"  # follows from another field the consumer handles (a name from the agent's name...)
    OTHER = "other"  # the diff: shown generically, as an `other` change with its path
    NOT_NEEDED = "not needed"  # the consumer has nothing to do with it; the note says why


@dataclass(frozen=True)
class Use:
    kind: Kind
    note: str  # which code handles it, or why nothing is needed; never empty


def handled(note: str) -> Use:
    return Use(Kind.HANDLED, note)


def derived(note: str) -> Use:
    return Use(Kind.DERIVED, note)


def other(note: str) -> Use:
    return Use(Kind.OTHER, note)


def not_needed(note: str) -> Use:
    return Use(Kind.NOT_NEEDED, note)


def each(names: str, use: Use) -> dict[str, Use]:
    """`each("token_ttl token_max_ttl", handled(...))`: one declaration for several fields."""
    return {name: use for name in names.split()}


Declarations = Mapping[type[BaseModel], Mapping[str, Use]]


@dataclass(frozen=True)
class Coverage:
    """One consumer's declarations, from the plan class that is its root (`IdentityPlan`, `AgentPlan`...)."""

    consumer: str
    root: type[BaseModel]
    fields: Declarations


def _models(annotation: object) -> Iterator[type[BaseModel]]:
    """Plan classes inside a field's type (`list[X]`, `X | None`, `dict[str, X]`)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
        return
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is not None:
        for arg in typing.get_args(annotation):
            yield from _models(arg)


def owner(cls: type[BaseModel], name: str) -> type[BaseModel]:
    """The class that declares the field (a subclass adding fields inherits its base's declarations)."""
    for base in reversed(cls.__mro__):
        if isinstance(base, type) and issubclass(base, BaseModel) and name in base.__dict__.get("__annotations__", {}):
            return base
    return cls


def plan_fields(root: type[BaseModel]) -> dict[type[BaseModel], list[str]]:
    """Every plan class reachable from `root` -> its fields, in declaration order."""
    found: dict[type[BaseModel], list[str]] = {}

    def walk(cls: type[BaseModel]) -> None:
        if cls in found:
            return
        found[cls] = list(cls.model_fields)
        for info in cls.model_fields.values():
            for model in _models(info.annotation):
                walk(model)

    walk(root)
    return found


def field_paths(root: type[BaseModel]) -> dict[tuple[type[BaseModel], str], tuple[str, bool]]:
    """(declaring class, field) -> (its dotted path in `root.model_dump()` as the diff flattens it, whether it is a
    leaf there). Nested plan objects are followed (an absent optional one is a leaf of its own, `null`); lists and
    dicts are one value, so fields inside list items have no path of their own."""
    paths: dict[tuple[type[BaseModel], str], tuple[str, bool]] = {}

    def walk(cls: type[BaseModel], prefix: str) -> None:
        for name, info in cls.model_fields.items():
            models = list(_models(info.annotation))
            nested = bool(models) and typing.get_origin(info.annotation) not in (list, dict)
            if nested:
                walk(models[0], f"{prefix}{name}.")
            paths[(owner(cls, name), name)] = (prefix + name, not nested)

    walk(root, "")
    return paths


def declared(coverage: Coverage, cls: type[BaseModel], name: str) -> Use | None:
    """The consumer's declaration of one field (or of its whole class)."""
    fields = coverage.fields.get(owner(cls, name), {})
    return fields.get(name) or fields.get(EVERY_FIELD)


def missing(coverage: Coverage, root: type[BaseModel] | None = None) -> list[str]:
    """What the consumer has not declared under `root` (default: its own), as `Class.field`, plus declarations of
    fields that do not exist (`stale: Class.field`) and declarations without a note."""
    problems: list[str] = []
    for cls, names in plan_fields(root or coverage.root).items():
        for name in names:
            use = declared(coverage, cls, name)
            if use is None:
                problems.append(f"{owner(cls, name).__name__}.{name}")
            elif not use.note.strip():
                problems.append(f"no note: {owner(cls, name).__name__}.{name}")
    for cls, fields in coverage.fields.items():
        for name in fields:
            if name != EVERY_FIELD and name not in cls.model_fields:
                problems.append(f"stale: {cls.__name__}.{name}")
    return sorted(set(problems))


def paths_of(coverage: Coverage, kinds: set[Kind]) -> tuple[tuple[str, ...], frozenset[str]]:
    """The fields declared with one of `kinds`, from the coverage's root: (leaf paths, which also cover the keys of
    a dict, as prefixes; the paths of nested optional objects, whose `null` is matched exactly)."""
    leaves, containers = [], set()
    for (cls, name), (path, leaf) in field_paths(coverage.root).items():
        use = declared(coverage, cls, name)
        if use is not None and use.kind in kinds:
            if leaf:
                leaves.append(path)
            else:
                containers.add(path)
    return tuple(sorted(leaves)), frozenset(containers)
