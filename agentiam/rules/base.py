"""Rule types and the context a rule sees."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass

from agentiam.environment.model import EnvironmentConfig
from agentiam.findings import Finding, Severity
from agentiam.spec.source import PathPart
from agentiam.spec.validate import LoadedSpec, PartialSpec


@dataclass(frozen=True)
class SpecContext:
    """What a per-spec rule may look at: the spec (or what can be read of a spec with schema errors, see
    `PartialSpec`), the environments' facts, today's date."""

    loaded: LoadedSpec | PartialSpec
    environments: Mapping[str, EnvironmentConfig]
    today: dt.date

    def deployed(self) -> Iterator[EnvironmentConfig]:
        """Configured environments the agent is deployed to, in the spec's order (unknown ones are AGT003's)."""
        for name in self.loaded.spec.environments:
            config = self.environments.get(name)
            if config is not None:
                yield config

    def finding(self, rule: Rule, path: tuple[PathPart, ...], message: str, at_key: bool = False) -> Finding:
        """A finding of `rule`, located on `path` of this spec."""
        return self.loaded.document.finding(rule.id, path, message, rule.severity, at_key=at_key)


@dataclass(frozen=True)
class Rule:
    """A guardrail over one spec."""

    id: str
    severity: Severity
    title: str
    rationale: str
    check: Callable[[Rule, SpecContext], Iterable[Finding]]


@dataclass(frozen=True)
class FleetRule:
    """A guardrail over all specs together (unique names, a function class's shared boundary)."""

    id: str
    severity: Severity
    title: str
    rationale: str
    check: Callable[[FleetRule, list[LoadedSpec], Mapping[str, EnvironmentConfig]], Iterable[Finding]]
