"""What a fleet holds in each AWS account, against the account's IAM quotas: counted from the plan's own selection.

Every agent deployed to an environment gets one IAM role there, whatever its status (a suspended agent keeps its
role, with the kill switch) and whichever shard provisions it; every function class with an agent there gets one
permissions boundary, a customer managed policy. `build_plan` makes the same choices (a test keeps them equal).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from agentiam.environment.model import EnvironmentConfig
from agentiam.plan.build import agents_in_environment
from agentiam.spec.validate import LoadedSpec


@dataclass(frozen=True)
class EnvironmentFootprint:
    """One environment's IAM objects, over all its shards; `agents` in file order (the guardrail points at them)."""

    environment: str
    agents: list[LoadedSpec]
    managed_policies: int

    @property
    def roles(self) -> int:
        return len(self.agents)


@dataclass(frozen=True)
class AccountFootprint:
    """Every environment sharing one AWS account, and the quotas they declare for it."""

    account_id: str
    environments: list[EnvironmentFootprint]
    configs: list[EnvironmentConfig]

    @property
    def roles(self) -> int:
        return sum(e.roles for e in self.environments)

    @property
    def managed_policies(self) -> int:
        return sum(e.managed_policies for e in self.environments)


def environment_footprint(specs: Sequence[LoadedSpec], environment: str) -> EnvironmentFootprint:
    """The roles and boundaries `build_plan` creates for `environment`, all shards together."""
    in_env = agents_in_environment(specs, environment)
    return EnvironmentFootprint(environment, sorted(in_env, key=lambda s: s.file),
                                len({loaded.spec.function for loaded in in_env}))


def account_footprints(specs: Sequence[LoadedSpec], environments: Mapping[str, EnvironmentConfig]
                       ) -> list[AccountFootprint]:
    """One entry per AWS account any environment names, sorted by account id."""
    by_account: dict[str, list[EnvironmentConfig]] = {}
    for _, config in sorted(environments.items()):
        by_account.setdefault(config.account_id, []).append(config)
    return [AccountFootprint(account, [environment_footprint(specs, c.name) for c in configs], configs)
            for account, configs in sorted(by_account.items())]
