"""AGT025, AGT026, AGT040, AGT042: ARNs stay in the environment's account, policies fit IAM, sids are unique."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping

from agentiam.environment.model import EnvironmentConfig
from agentiam.findings import Finding, Severity
from agentiam.iam.arn import Arn

# The plan's own builders, so the size measured is the size applied.
from agentiam.plan.boundary import MANAGED_POLICY_MAX_CHARS, boundary_plan, policy_size
from agentiam.plan.build import KILL_SWITCH_POLICY, inline_policy, statement_accounts
from agentiam.plan.effective import fill
from agentiam.rules.aws_reach import arn_account_declared
from agentiam.rules.base import FleetRule, Rule, SpecContext
from agentiam.rules.fleet import FleetMember
from agentiam.spec.model import AgentSpec, FunctionClass

# All inline policies of a role together are limited to 10,240 characters, white space not counted
# (docs/facts.md#aws-iam-limits).
INLINE_POLICY_LIMIT = 10_240
# The kill switch is an inline policy attached at revocation time: budget for it up front so that an emergency
# revocation can never fail on a full quota.
KILL_SWITCH_SIZE = len(json.dumps(KILL_SWITCH_POLICY, separators=(",", ":")))
_TOKENS = re.compile(r"[a-z0-9]+")


def account_owner(account: str, environments: Mapping[str, EnvironmentConfig]) -> str | None:
    """The environment whose account id is `account`, if any."""
    for name, env in environments.items():
        if env.account_id == account:
            return name
    return None


def _resources(ctx: SpecContext) -> Iterator[tuple[tuple, str]]:
    for i, statement in enumerate(ctx.loaded.spec.permissions.aws):
        for j, resource in enumerate(statement.resources):
            if resource != "*":
                yield ("permissions", "aws", i, "resources", j), resource


def _foreign(arn: Arn, filled: str, env: EnvironmentConfig, ctx: SpecContext) -> str | None:
    """Why a filled ARN is not the environment's own, or None."""
    if arn.account and arn.account != env.account_id:
        owner = account_owner(arn.account, ctx.environments)
        whose = f"{owner}'s account" if owner else "a foreign account" if "*" not in arn.account else "any account"
        return f"names {whose} {arn.account!r}"
    others = {name for name in ctx.environments if name != env.name}
    for token in _TOKENS.findall(arn.resource.lower()):
        if token in others:
            return f"names environment {token!r} ({filled.rsplit(':', 1)[-1]!r})"
    return None


def _check_own_account(rule: Rule, ctx: SpecContext) -> Iterator[Finding]:
    spec = ctx.loaded.spec
    for path, template in _resources(ctx):
        problems: dict[str, list[str]] = {}
        statement = spec.permissions.aws[path[2]]
        for env in ctx.deployed():
            filled = fill(template, spec, env)
            arn = Arn.parse(filled)
            if arn is not None and arn_account_declared(statement, arn):
                continue  # another account the statement declares with its reason (AGT044 checks the declaration)
            problem = _foreign(arn, filled, env, ctx) if arn else None
            if problem:
                problems.setdefault(problem, []).append(env.name)
        for problem, envs in problems.items():
            yield ctx.finding(rule, path, f"{problem} in {', '.join(envs)}; an agent may only name "
                                          f"resources of its own environment (a {envs[0]} agent never names "
                                          "another environment's ARN)")


def _check_region(rule: Rule, ctx: SpecContext) -> Iterator[Finding]:
    spec = ctx.loaded.spec
    for path, template in _resources(ctx):
        wrong: dict[str, list[str]] = {}
        for env in ctx.deployed():
            arn = Arn.parse(fill(template, spec, env))
            if arn is not None and arn.region and arn.region != env.region:
                wrong.setdefault(arn.region, []).append(f"{env.name} ({env.region})")
        for region, envs in wrong.items():
            yield ctx.finding(rule, path, f"region {region!r} differs from the environment's region in "
                                          f"{', '.join(envs)}; use {{region}} unless the resource really lives there")


# Characters around the strings of a minified policy: `{"Version":"2012-10-17","Statement":[...]}` and, per
# statement, `{"Sid":"","Effect":"Allow","Action":[],"Resource":[]},`; each string adds its quotes and a comma.
_POLICY_FRAME = 40
_STATEMENT_FRAME = 56
_PER_STRING = 3
# `,"Condition":{"StringEqualsIfExists":{"aws:ResourceAccount":[...]}}` around the account ids.
_CONDITION_FRAME = len(',"Condition":{"StringEqualsIfExists":{"aws:ResourceAccount":[]}}')


def _size_bound(spec: AgentSpec, environments: list[EnvironmentConfig]) -> int:
    """An upper bound of the filled, minified policy size in any of `environments`, without building it.

    Exact sizing (fill, sort, JSON) is only needed for the rare spec near the limit; this keeps AGT040 off the
    hot path of `validate` over a large fleet (bench/bench_validate.py).
    """
    env_growth = max(len(e.name) for e in environments) - len("{env}")
    region_growth = max(len(e.region) for e in environments) - len("{region}")
    growth = {"{env}": env_growth, "{region}": region_growth, "{account}": 12 - len("{account}"),
              "{agent}": len(spec.name) - len("{agent}")}
    size = _POLICY_FRAME
    for statement in spec.permissions.aws:
        size += _STATEMENT_FRAME + len(statement.sid)
        accounts = max(len(statement_accounts(statement, env) or ()) for env in environments)
        if accounts:
            size += _CONDITION_FRAME + accounts * (12 + _PER_STRING)
        size += sum(len(action) + _PER_STRING for action in statement.actions)  # [a-z0-9-:*]: nothing to escape
        for resource in statement.resources:
            filled = len(resource) + sum(resource.count(p) * g for p, g in growth.items() if g > 0)
            plain = resource.isascii() and resource.isprintable() and '"' not in resource and "\\" not in resource
            size += (filled if plain else 6 * filled) + _PER_STRING  # \uXXXX is the worst JSON escape
    return size


def _check_policy_size(rule: Rule, ctx: SpecContext) -> Iterator[Finding]:
    spec = ctx.loaded.spec
    deployed = list(ctx.deployed())
    if not spec.permissions.aws or not deployed:
        return
    if _size_bound(spec, deployed) + KILL_SWITCH_SIZE <= INLINE_POLICY_LIMIT:
        return
    over: list[tuple[int, str]] = []
    for env in deployed:
        size = len(json.dumps(inline_policy(spec, env), separators=(",", ":"))) + KILL_SWITCH_SIZE
        if size > INLINE_POLICY_LIMIT:
            over.append((size, env.name))
    if over:
        sizes = ", ".join(f"{size:,} characters in {env}" for size, env in sorted(over, reverse=True))
        yield ctx.finding(rule, ("permissions", "aws"),
                          f"the inline policy exceeds IAM's {INLINE_POLICY_LIMIT:,}-character limit per role: {sizes} "
                          "(kill switch included); merge statements or end ARNs at a shared prefix", at_key=True)


def _check_unique_sids(rule: Rule, ctx: SpecContext) -> Iterator[Finding]:
    seen: set[str] = set()
    for i, statement in enumerate(ctx.loaded.spec.permissions.aws):
        if statement.sid in seen:
            yield ctx.finding(rule, ("permissions", "aws", i, "sid"), f"sid {statement.sid!r} is used by an earlier "
                                                                       "statement; sids name statements in diffs")
        seen.add(statement.sid)


OWN_ACCOUNT = Rule(
    id="AGT025", severity=Severity.ERROR, title="Resource ARNs belong to the environment's own account",
    rationale="Environments are separate accounts: a dev agent can never name a prod ARN.",
    check=_check_own_account)

OWN_REGION = Rule(
    id="AGT026", severity=Severity.WARNING, title="Resource ARN region is the environment's region",
    rationale="A fixed foreign region is usually a copy-paste slip, but some resources (CloudFront certificates "
              "in us-east-1) really live elsewhere, and the account boundary still holds: a warning.",
    check=_check_region)

POLICY_SIZE = Rule(
    id="AGT040", severity=Severity.ERROR, title="Inline policy fits IAM's 10,240-character limit",
    rationale="IAM refuses a role's inline policies above 10,240 characters; find out in review, not mid-deploy.",
    check=_check_policy_size)

UNIQUE_SIDS = Rule(
    id="AGT042", severity=Severity.ERROR, title="Statement sids unique within a spec",
    rationale="Sids name statements in findings, diffs and IAM; two statements with one sid are ambiguous.",
    check=_check_unique_sids)


def _check_boundary_size(rule: FleetRule, members: list[FleetMember],
                         environments: Mapping[str, EnvironmentConfig]) -> Iterator[Finding]:
    for env_name, env in sorted(environments.items()):
        by_class: dict[FunctionClass, list[FleetMember]] = {}
        for member in members:
            if env_name in member.environments and member.aws_actions:
                by_class.setdefault(member.function, []).append(member)
        for function, group in sorted(by_class.items(), key=lambda item: item[0].value):
            actions = [a for m in group for a in m.aws_actions]
            accounts = [a for m in group for a in m.accounts]
            size = policy_size(boundary_plan(function, actions, env, accounts).policy)
            if size <= MANAGED_POLICY_MAX_CHARS:
                continue
            # Point at the spec that brings the most distinct actions: the first place a reviewer can act.
            widest = max(group, key=lambda m: (len(set(m.aws_actions)), m.file))
            yield widest.finding(
                rule.id, ("permissions", "aws"),
                f"the {function.value} boundary of {env_name} would be {size:,} characters even compacted "
                f"(managed policy limit {MANAGED_POLICY_MAX_CHARS:,}): {len(set(actions))} distinct actions across "
                f"{len(group)} agent(s); use fewer distinct actions or split the class across environments",
                rule.severity)


BOUNDARY_SIZE = FleetRule(
    id="AGT043", severity=Severity.ERROR, title="Function-class boundary fits a managed policy",
    rationale="Each class's boundary is one managed policy (6,144 characters) capping all its agents; an "
              "oversized one fails at deployment for every agent of the class.",
    check=_check_boundary_size)
