"""A spec as it applies in one environment: overrides merged, placeholders filled."""

from __future__ import annotations

from dataclasses import dataclass

from agentiam.environment.model import EnvironmentConfig
from agentiam.spec.model import STATUS_ORDER, AgentSpec, Credentials, Network, Status


@dataclass(frozen=True)
class EffectiveSpec:
    """Values that differ per environment, resolved."""

    status: Status
    credentials: Credentials
    network: Network


def effective(spec: AgentSpec, environment: str) -> EffectiveSpec:
    """Apply `overrides.<environment>` to the spec (credentials field by field, network as a whole)."""
    override = spec.overrides.get(environment)
    if override is None:
        return EffectiveSpec(spec.status, spec.credentials, spec.network)
    credentials = spec.credentials
    if override.credentials is not None:
        changes = override.credentials.model_dump(exclude_none=True)
        credentials = credentials.model_copy(update=changes)
    # An override can only tighten status: the stricter of the two applies (suspended in prod, revoked as a whole
    # stays revoked; suspended as a whole and revoked in prod is revoked there).
    status = max(spec.status, override.status or spec.status, key=STATUS_ORDER.index)
    return EffectiveSpec(status, credentials, override.network if override.network is not None else spec.network)


def fill(template: str, spec: AgentSpec, env: EnvironmentConfig) -> str:
    """Fill `{env}`, `{account}`, `{region}`, `{agent}` in an ARN or path template."""
    return (template.replace("{env}", env.name).replace("{account}", env.account_id)
            .replace("{region}", env.region).replace("{agent}", spec.name))
