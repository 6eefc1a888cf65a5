"""AWS action patterns of a spec resolved against the offline catalogue, once per distinct pattern.

The catalogue answers per call; a fleet repeats the same few hundred patterns thousands of
times, so resolution is memoised here (the hot path of `validate`, see bench/bench_validate.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache

from agentiam.iam import catalogue
from agentiam.iam.catalogue import ActionInfo
from agentiam.spec.model import AgentSpec


@lru_cache(maxsize=8192)
def resolve(pattern: str) -> tuple[ActionInfo, ...]:
    """Every catalogue action an action or wildcard pattern grants (empty if unknown)."""
    return tuple(catalogue.expand(pattern))


@lru_cache(maxsize=8192)
def levels(pattern: str) -> frozenset[str]:
    """Access levels (List, Read, Write, ...) the pattern reaches."""
    return frozenset(info.access_level for info in resolve(pattern))


def spec_actions(spec: AgentSpec) -> Iterator[tuple[tuple[str, str, int, str, int], int, str]]:
    """(path of the action, statement index, action pattern) of every action in `permissions.aws`."""
    for i, statement in enumerate(spec.permissions.aws):
        for j, action in enumerate(statement.actions):
            yield ("permissions", "aws", i, "actions", j), i, action


def beyond(pattern: str, allowed_levels: frozenset[str]) -> list[str]:
    """Names of the actions `pattern` reaches whose access level is not in `allowed_levels`."""
    if levels(pattern) <= allowed_levels:
        return []
    return [info.name for info in resolve(pattern) if info.access_level not in allowed_levels]


def describe(pattern: str, names: list[str], limit: int = 3) -> str:
    """`s3:PutObject` for an exact action; `s3:Put* (reaches s3:PutObject, s3:PutBucketTagging, +4 more)` for a
    wildcard."""
    if "*" not in pattern and "?" not in pattern:
        return pattern
    shown = ", ".join(names[:limit])
    more = f", +{len(names) - limit} more" if len(names) > limit else ""
    return f"{pattern} (reaches {shown}{more})"
