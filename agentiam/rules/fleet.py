"""Per-spec summaries for the fleet-wide guardrails: what AGT001, AGT007, AGT043 and AGT045 read of a spec, kept
instead of the spec itself so that checking a fleet holds a few hundred bytes per spec, not its whole document.

`agentiam validate` streams: each file is parsed, judged by the per-spec rules and dropped, its summary kept
(docs/benchmarks.md: memory flat in the fleet's size). A summary of a spec with schema errors (`PartialSpec`)
leaves out the fields that failed; a fleet rule reading one gets `UnreadableField`, exactly as from the spec.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Mapping
from typing import Any

from agentiam.environment.model import EnvironmentConfig
from agentiam.findings import Finding, Severity
from agentiam.plan.build import declared_accounts
from agentiam.plan.effective import effective, fill
from agentiam.rules.vault_grants import kv_owner
from agentiam.spec.model import Status
from agentiam.spec.source import PathPart, SourceDocument, field_name
from agentiam.spec.validate import LoadedSpec, PartialSpec, UnreadableField

_BITS = 20  # lines and columns of a spec (at most 256 KiB) fit in 20 bits each
_MASK = (1 << _BITS) - 1
_POSITION = (1 << 2 * _BITS) - 1
_NO_ACCOUNTS: frozenset[str] = frozenset()
_SUFFIXES = (".yaml", ".yml")  # `FleetMember._base` is an index in here when the file is `<name><suffix>`
NAME: tuple[PathPart, ...] = ("name",)
AWS: tuple[PathPart, ...] = ("permissions", "aws")
# Paths every summary locates, packed in one integer (40 bits each, in this order).
_PACKED: tuple[tuple[PathPart, ...], ...] = (NAME, AWS, ("environments",), ("function",), ("network", "egress"))
_PACKED_FIELDS = ("name", "permissions.aws", "environments", "function", "network.egress")
COMMON_NAME: tuple[PathPart, ...] = ("authentication", "certificate_common_name")


class FleetMember:
    """What the fleet rules read of one spec. An attribute whose spec field failed validation is absent: reading it
    raises `UnreadableField` naming that field, as reading the field of a `PartialSpec` does.

    Positions are packed integers and the few located paths besides `name` and `permissions.aws` (database
    grants, the certificate CN, shared KV grants: rare) sit in `extra`, so a summary stays small."""

    __slots__ = ("_folder", "_base", "name", "environments", "function", "aws_actions", "accounts", "databases",
                 "kv_shared", "kv_shares", "common_names", "egress", "_at", "_extra", "_failed")

    name: str
    environments: tuple[str, ...]
    function: Any  # FunctionClass
    aws_actions: tuple[str, ...]  # every action of every statement, in order (empty: no AWS grants)
    accounts: frozenset[str]  # other accounts the statements declare (`cross_account`)
    databases: tuple[tuple[str, str], ...]  # (database, access)
    kv_shared: tuple[tuple[int, str, str, tuple[str, ...]], ...]  # grants in another agent's folder: (index in
    # `permissions.kv`, path with `{agent}` filled, the owner, capabilities)
    kv_shares: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...]  # (path, agents, capabilities)
    common_names: tuple[tuple[str, str], ...] | None  # (env, filled template); None: the default CN
    egress: tuple[tuple[str, bool, tuple[str, ...]], ...]  # (env, active there, egress hosts there): envs with hosts
    _folder: str  # the file's folder, interned: shared by the folder's summaries
    _base: str | int  # the file name, or the index of its suffix in `_SUFFIXES` when it is `<name><suffix>`
    _at: int  # the positions of `_PACKED`, packed
    _extra: tuple[tuple[tuple[PathPart, ...], int, str], ...]  # other located paths: (path, packed position, field)
    _failed: dict[str, str] | None  # attribute -> the spec field whose validation failed

    def __getattr__(self, name: str) -> Any:  # only called for a slot never set: a field that failed validation
        failed = object.__getattribute__(self, "_failed")
        if failed and name in failed:
            raise UnreadableField(self.file, failed[name])
        raise AttributeError(name)

    # Pickled to and from worker processes (`project.validate(jobs=...)`): the slots that are set, read without
    # `__getattr__` (which would raise for the unset ones).
    def __getstate__(self) -> dict[str, Any]:
        state = {}
        for slot in self.__slots__:
            try:
                state[slot] = object.__getattribute__(self, slot)
            except AttributeError:
                continue
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        for slot, value in state.items():
            object.__setattr__(self, slot, value)

    @property
    def file(self) -> str:
        """The spec's file, as read. Kept as its folder (one string shared by the folder's specs) and, when the file
        is named after the agent (`<name>.yaml`), only the suffix: most of a summary's bytes were its path."""
        base = self._base
        return self._folder + (self.name + _SUFFIXES[base] if isinstance(base, int) else base)

    # A summary reads as the spec and as its document (`member.spec.name`, `member.document.finding(...)`), so
    # that code written for specs (agentiam.plan.footprint) runs on summaries unchanged.
    @property
    def spec(self) -> FleetMember:
        return self

    @property
    def document(self) -> FleetMember:
        return self

    def finding(self, rule_id: str, path: tuple[PathPart, ...], message: str,
                severity: Severity = Severity.ERROR) -> Finding:
        """A finding on `path` of this spec (one of the paths the fleet rules report on)."""
        if path in _PACKED:
            index = _PACKED.index(path)
            packed, field = self._at >> index * 2 * _BITS & _POSITION, _PACKED_FIELDS[index]
        else:
            packed, field = next((p, f) for at, p, f in self._extra if at == path)
        return Finding(self.file, packed >> _BITS, packed & _MASK, rule_id, severity, field, message)


# The spec field each summary attribute is read from (a failed field makes these unreadable).
_SOURCES = {"name": ("name",), "environments": ("environments",), "function": ("function",),
            "aws_actions": ("permissions",), "accounts": ("permissions",), "databases": ("permissions",),
            "kv_shares": ("permissions",), "kv_shared": ("name", "permissions"),
            "common_names": ("environments", "authentication", "name"),
            "egress": ("environments", "status", "overrides", "credentials", "network")}


def _packed(document: SourceDocument, path: tuple[PathPart, ...]) -> int:
    line, column = document.position(path)
    return line << _BITS | column


def _located(document: SourceDocument, path: tuple[PathPart, ...]) -> tuple[tuple[PathPart, ...], int, str]:
    return _shared(path), _packed(document, path), sys.intern(field_name(document.data, path))


@functools.lru_cache(maxsize=4096)
def _shared(value: tuple) -> tuple:
    """One object for equal small tuples that thousands of specs repeat: environment lists, field paths, action
    lists, database grants, egress hosts (a fleet's agents call the same few APIs and databases)."""
    return value


def summarise(loaded: LoadedSpec | PartialSpec, environments: Mapping[str, EnvironmentConfig]) -> FleetMember:
    """The fleet rules' view of one spec (or of what can be read of a spec with schema errors)."""
    spec, document = loaded.spec, loaded.document
    member = FleetMember()
    file = loaded.file
    cut = file.rfind(os.sep) + 1
    member._folder, base = sys.intern(file[:cut]), file[cut:]
    member._base = base  # replaced by its suffix below when the name is readable and the file is named after it
    failed: dict[str, str] = {}
    if isinstance(loaded, PartialSpec):
        for attribute, fields in _SOURCES.items():
            missing = [f for f in fields if f not in loaded.readable]
            if missing:
                failed[attribute] = missing[0]
    member._failed = failed or None
    extra: list[tuple[tuple[PathPart, ...], int, str]] = []
    intern = sys.intern
    if "name" not in failed:
        member.name = spec.name
        suffix = base[len(spec.name):]
        if base.startswith(spec.name) and suffix in _SUFFIXES:
            member._base = _SUFFIXES.index(suffix)
    at = 0
    for index, path in enumerate(_PACKED):
        if path != AWS:  # located only when the spec has AWS grants (AGT043's finding)
            at |= _packed(document, path) << index * 2 * _BITS
    if "environments" not in failed:
        member.environments = _shared(tuple(intern(env) for env in spec.environments))
    if "function" not in failed:
        member.function = spec.function
    if "aws_actions" not in failed:
        permissions = spec.permissions
        member.aws_actions = _shared(tuple(intern(a) for grant in permissions.aws for a in grant.actions))
        accounts = declared_accounts(spec)
        member.accounts = frozenset(accounts) if accounts else _NO_ACCOUNTS  # an empty frozenset is 216 bytes
        at |= (_packed(document, AWS) if permissions.aws else 0) << 2 * _BITS  # index 1 of _PACKED
        member.databases = _shared(tuple(_shared((intern(grant.database), grant.access.value))
                                         for grant in permissions.databases))
        for i in range(len(permissions.databases)):
            extra.append(_located(document, ("permissions", "databases", i, "database")))
        member.kv_shares = tuple((share.path, tuple(share.agents), tuple(share.capabilities))
                                 for share in permissions.kv_shares)
        if "kv_shared" not in failed:
            shared = []
            for i, grant in enumerate(permissions.kv):
                owner = grant.shared_by
                if owner in (None, spec.name) or kv_owner(grant.path, spec.name, owner) != owner:
                    continue  # its own folder (AGT037 reports a `shared_by` naming itself)
                shared.append((i, grant.path.replace("{agent}", spec.name), owner, tuple(grant.capabilities)))
                extra.append(_located(document, ("permissions", "kv", i, "shared_by")))
                extra.append(_located(document, ("permissions", "kv", i, "capabilities")))
            member.kv_shared = tuple(shared)
    if "common_names" not in failed:
        template = spec.authentication.certificate_common_name
        if template is None:
            member.common_names = None
        else:
            member.common_names = tuple((env, fill(template, spec, environments[env]))
                                        for env in spec.environments if env in environments)
            extra.append(_located(document, COMMON_NAME))
    if "egress" not in failed:
        egress = []
        for env in spec.environments:
            eff = effective(spec, env)
            hosts = _shared(tuple(intern(endpoint.host) for endpoint in eff.network.egress))
            if hosts:
                egress.append(_shared((intern(env), eff.status is Status.ACTIVE, hosts)))
        member.egress = _shared(tuple(egress))
    member._at = at
    member._extra = tuple(extra)
    return member
