"""The list of every guardrail, and running them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

from agentiam.environment.model import EnvironmentConfig
from agentiam.findings import Finding
from agentiam.rules import credential_lifetimes
from agentiam.rules.base import FleetRule, Rule, SpecContext
from agentiam.spec.validate import LoadedSpec

ALL_RULES: tuple[Rule, ...] = (
    credential_lifetimes.TOKEN_MAX_TTL,
    credential_lifetimes.TOKEN_TTL_WITHIN_MAX,
)

FLEET_RULES: tuple[FleetRule, ...] = ()


def run_rules(specs: Sequence[LoadedSpec], environments: Mapping[str, EnvironmentConfig],
              today: dt.date) -> list[Finding]:
    """Every finding of every rule over every spec, sorted by file, line, column."""
    findings: list[Finding] = []
    for loaded in specs:
        ctx = SpecContext(loaded, environments, today)
        for rule in ALL_RULES:
            findings.extend(rule.check(rule, ctx))
    spec_list = list(specs)
    for fleet_rule in FLEET_RULES:
        findings.extend(fleet_rule.check(fleet_rule, spec_list))
    return sorted(findings)
