"""Where a per-environment value comes from: the spec's own field or an `overrides.<env>` entry.

Rules report on the element a reviewer must edit, so a value set by an override is reported
on the override key (`overrides.prod.credentials.token_ttl`), not on the spec-wide default.
"""

from __future__ import annotations

from collections.abc import Iterator

from agentiam.spec.model import AgentSpec, Network
from agentiam.spec.source import PathPart

Path = tuple[PathPart, ...]


def credential_values(spec: AgentSpec, field: str) -> Iterator[tuple[Path, int]]:
    """(path, value) of `credentials.<field>` and of every environment override that sets it."""
    yield ("credentials", field), getattr(spec.credentials, field)
    for env, override in spec.overrides.items():
        if override.credentials is not None and getattr(override.credentials, field) is not None:
            yield ("overrides", env, "credentials", field), getattr(override.credentials, field)


def credential_path(spec: AgentSpec, env: str, field: str) -> Path:
    """The path that decides `credentials.<field>` in `env`."""
    override = spec.overrides.get(env)
    if override is not None and override.credentials is not None and getattr(override.credentials, field) is not None:
        return ("overrides", env, "credentials", field)
    return ("credentials", field)


def network_sources(spec: AgentSpec) -> Iterator[tuple[Path, Network, tuple[str, ...]]]:
    """(path, network, environments it applies to): the spec's `network` and each override that replaces it."""
    replaced = {env for env, o in spec.overrides.items() if o.network is not None}
    default_envs = tuple(env for env in spec.environments if env not in replaced)
    if default_envs:
        yield ("network",), spec.network, default_envs
    for env in spec.environments:
        override = spec.overrides.get(env)
        if override is not None and override.network is not None:
            yield ("overrides", env, "network"), override.network, (env,)
