"""The list of every guardrail, and running them. Rules are registered here explicitly, in id order."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from agentiam.environment.model import EnvironmentConfig
from agentiam.findings import Finding, Severity
from agentiam.rules import (
    aws_actions,
    aws_reach,
    aws_resources,
    credential_lifetimes,
    function_classes,
    identity,
    migration,
    network,
    placeholders,
    quotas,
    vault_grants,
)
from agentiam.rules.base import FleetRule, Rule, SpecContext
from agentiam.rules.fleet import FleetMember, summarise
from agentiam.spec.validate import LoadedSpec, PartialSpec, UnreadableField

ALL_RULES: tuple[Rule, ...] = (
    identity.DERIVED_NAMES,                              # AGT002
    identity.KNOWN_ENVIRONMENTS,                         # AGT003
    identity.NOT_EXPIRED,                                # AGT004
    identity.EXPIRING_SOON,                              # AGT005
    identity.FILE_NAME_MATCHES,                          # AGT006
    identity.EXPIRY_HORIZON,                             # AGT008
    placeholders.NO_PLACEHOLDERS,                        # AGT009
    credential_lifetimes.TOKEN_MAX_TTL,                  # AGT010
    credential_lifetimes.TOKEN_TTL_WITHIN_MAX,           # AGT011
    credential_lifetimes.AWS_SESSION_TTL,                # AGT012
    credential_lifetimes.DATABASE_TTLS,                  # AGT013
    credential_lifetimes.SECRET_ID_TTL,                  # AGT014
    credential_lifetimes.ROLE_CHAINING,                  # AGT015
    aws_actions.KNOWN_ACTIONS,                           # AGT020
    aws_actions.NO_SERVICE_WILDCARDS,                    # AGT021
    aws_actions.RESOURCE_STAR_ONLY_IF_UNSCOPED,          # AGT022
    aws_actions.NO_PRIVILEGE_ESCALATION,                 # AGT023
    aws_actions.NO_CREDENTIAL_EXPOSURE,                  # AGT024
    aws_resources.OWN_ACCOUNT,                           # AGT025
    aws_resources.OWN_REGION,                            # AGT026
    aws_reach.BROAD_RESOURCES,                           # AGT027
    aws_reach.DANGEROUS_ACTIONS,                         # AGT028
    function_classes.DATA_RETRIEVAL,                     # AGT030
    function_classes.INTEGRATION,                        # AGT031
    function_classes.ANALYSIS,                           # AGT032
    function_classes.REPORTING_MONITORING,               # AGT033
    function_classes.NETWORK_ONLY_FOR_INTEGRATION,       # AGT034
    vault_grants.DATABASES_CONFIGURED,                   # AGT035
    vault_grants.KV_PATH_HYGIENE,                        # AGT036
    vault_grants.KV_OWN_FOLDER,                          # AGT037
    network.INTERNAL_DOMAINS,                            # AGT038
    network.RATE_LIMIT_BOUND,                            # AGT039
    aws_resources.POLICY_SIZE,                           # AGT040
    vault_grants.PINNED_COMMON_NAME,                     # AGT041
    aws_resources.UNIQUE_SIDS,                           # AGT042
    aws_reach.CROSS_ACCOUNT,                             # AGT044
    migration.NOT_AGENTIAM_OWN,                          # AGT046
)

FLEET_RULES: tuple[FleetRule, ...] = (
    identity.UNIQUE_NAMES,                               # AGT001
    identity.UNIQUE_DERIVED_NAMES,                       # AGT007
    aws_resources.BOUNDARY_SIZE,                         # AGT043
    vault_grants.KV_SHARED_BY_OWNER,                     # AGT045
    network.ALLOW_LIST_CAPACITY,                         # AGT047
    quotas.ACCOUNT_QUOTAS,                               # AGT048
)

# Checks made while reading a file, before any rule runs (ids emitted by agentiam.spec and agentiam.environment).
# Listed so SARIF and docs/guardrails.md can describe every id a user may see.
INPUT_CHECKS: tuple[tuple[str, str, str], ...] = (
    ("YAML000", "File readable", "The file could not be read at all."),
    ("YAML001", "Well-formed YAML", "The file is not parseable YAML."),
    ("YAML002", "No duplicate keys", "YAML silently keeps the last of two keys; the reviewer may approve the other."),
    ("YAML003", "No anchors, aliases or merge keys", "A reviewer must see every value where it applies."),
    ("YAML004", "UTF-8 only", "Specs are text in one encoding, so every tool reads the same characters."),
    ("YAML005", "At most 256 KiB", "A spec this large is not reviewable, and bounds the loader's work."),
    ("YAML006", "No custom tags", "Tags change how a value is read; specs are plain data."),
    ("YAML007", "A mapping at the top", "An agent spec is one YAML mapping with string keys."),
    ("SPEC001", "Known fields only", "An unknown (often misspelt) field would be silently ignored."),
    ("SPEC002", "Required fields present", "Owner, function, environments and expiry are what review approves."),
    ("SPEC003", "Values of the right type and shape", "Strict types: no coercion of `no` to false or 1 to '1'."),
)


def rule_index() -> list[Rule | FleetRule]:
    """Every guardrail (per-spec and fleet), sorted by id: the source of SARIF rules and docs/guardrails.md."""
    return sorted((*ALL_RULES, *FLEET_RULES), key=lambda r: r.id)


def describe_rule(rule_id: str) -> tuple[str, str, Severity]:
    """(title, rationale, severity) of any id a finding may carry, guardrail or input check."""
    for rule in rule_index():
        if rule.id == rule_id:
            return rule.title, rule.rationale, rule.severity
    for check_id, title, rationale in INPUT_CHECKS:
        if check_id == rule_id:
            return title, rationale, Severity.ERROR
    return rule_id, "", Severity.ERROR


class RuleRun:
    """Every guardrail over a stream of specs: `add` judges one spec by the per-spec rules and keeps only its
    summary for the fleet rules; `finish` judges the fleet. Memory grows by a summary per spec, never a document.

        run = RuleRun(environments, today)
        for loaded in specs:
            findings += run.add(loaded)
        findings += run.finish()
    """

    def __init__(self, environments: Mapping[str, EnvironmentConfig], today: dt.date):
        self.environments, self.today = environments, today
        self._valid: list[FleetMember] = []
        self._partial: list[FleetMember] = []  # summaries of `PartialSpec`s

    def add(self, loaded: LoadedSpec | PartialSpec) -> list[Finding]:
        """The per-spec rules' findings of one spec (valid, or partly valid: see `run_rules`)."""
        findings, member = judge_spec(loaded, self.environments, self.today)
        self.keep(member, isinstance(loaded, PartialSpec))
        return findings

    def keep(self, member: FleetMember, partial: bool) -> None:
        """Keep a summary judged elsewhere (`judge_spec` in a worker process) for the fleet rules."""
        (self._partial if partial else self._valid).append(member)

    def finish(self, order: Callable[[FleetMember], Any] | None = None) -> list[Finding]:
        """The fleet rules' findings over every spec added: the valid ones first (in the order added, or sorted by
        `order`), then the partly valid ones."""
        if order is not None:
            self._valid.sort(key=order)
        members = [*self._valid, *self._partial]
        partial = {id(m) for m in self._partial}
        findings: list[Finding] = []
        for fleet_rule in FLEET_RULES:
            findings.extend(_fleet_findings(fleet_rule, members, partial, self.environments))
        return findings


def judge_spec(loaded: LoadedSpec | PartialSpec, environments: Mapping[str, EnvironmentConfig],
               today: dt.date) -> tuple[list[Finding], FleetMember]:
    """The per-spec rules' findings of one spec, and its summary for the fleet rules."""
    ctx = SpecContext(loaded, environments, today)
    findings: list[Finding] = []
    if isinstance(loaded, PartialSpec):
        for rule in ALL_RULES:
            try:
                findings.extend(list(rule.check(rule, ctx)))  # whole or nothing: a list before anything is kept
            except UnreadableField:
                continue  # it needs a field that failed validation: computed once the file is fixed
    else:
        for rule in ALL_RULES:
            findings.extend(rule.check(rule, ctx))
    return findings, summarise(loaded, environments)


def run_rules(specs: Sequence[LoadedSpec], environments: Mapping[str, EnvironmentConfig],
              today: dt.date, partial: Sequence[PartialSpec] = ()) -> list[Finding]:
    """Every finding of every rule over every spec, sorted by file, line, column.

    `partial`: specs whose files have schema errors (`PartialSpec`). Each rule runs over them too, and keeps its
    findings for such a file only if it completed without reading a field that failed: the findings of the rules
    that could be computed come in the same run as the schema errors, and none rests on a value that was not valid.
    """
    run = RuleRun(environments, today)
    findings: list[Finding] = []
    for loaded in specs:
        findings.extend(run.add(loaded))
    for partial_spec in partial:
        findings.extend(run.add(partial_spec))
    findings.extend(run.finish())
    return sorted(findings)


def _fleet_findings(rule: FleetRule, members: list[FleetMember], partial: set[int],
                    environments: Mapping[str, EnvironmentConfig]) -> list[Finding]:
    """A fleet rule over the valid specs and every partly valid one it can read: a partial spec whose failed
    fields the rule reads is left out, and the rule runs again without it (at most once per partial spec)."""
    while True:
        try:
            return list(rule.check(rule, members, environments))
        except UnreadableField as unreadable:
            kept = [m for m in members if not (id(m) in partial and m.file == unreadable.file)]
            if len(kept) == len(members):
                raise  # not one of the partial specs given: a bug, never a reason to loop
            members = kept
