"""AGT030-AGT034: what each function class may do (field guide: function-based permissions).

| class          | AWS actions                     | databases | KV         | network                      |
|----------------|---------------------------------|-----------|------------|------------------------------|
| data-retrieval | Read/List                       | read      | read/list  | none                         |
| integration    | any (other rules), explicit ARNs| any       | any        | named endpoints + login quota|
| analysis       | Read/List; Write only scratch   | read      | any        | none                         |
| reporting      | Read/List                       | read      | read/list  | none                         |
| monitoring     | Read/List                       | read      | read/list  | none                         |

Network access for non-integration classes is AGT034's alone, so one mistake gives one finding.
"""

from __future__ import annotations

from collections.abc import Iterator

from agentiam.findings import Finding, Severity
from agentiam.iam.catalogue import READ_ONLY_LEVELS
from agentiam.plan.effective import fill
from agentiam.rules.actions import beyond, describe, spec_actions
from agentiam.iam.arn import Arn, Breadth, template_breadth
from agentiam.rules.aws_resources import account_owner
from agentiam.rules.base import Rule, SpecContext
from agentiam.plan.locate import network_sources
from agentiam.spec.model import DatabaseAccess, FunctionClass

# Scratch writes create or change objects; "Permissions management" (bucket policies, ACLs) would let an
# analysis agent share its data out of the account, so it is never allowed, scratch or not.
SCRATCH_LEVELS = READ_ONLY_LEVELS | {"Write", "Tagging"}
READ_ONLY_KV = frozenset({"read", "list"})


def _read_only_aws(rule: Rule, ctx: SpecContext, label: str) -> Iterator[Finding]:
    for path, _, action in spec_actions(ctx.loaded.spec):
        over = beyond(action, READ_ONLY_LEVELS)
        if over:
            yield ctx.finding(rule, path, f"{describe(action, over)} is not Read/List-level; {label} agents are "
                                          "read-only")


def _read_only_databases(rule: Rule, ctx: SpecContext, label: str) -> Iterator[Finding]:
    for i, grant in enumerate(ctx.loaded.spec.permissions.databases):
        if grant.access is not DatabaseAccess.READ:
            yield ctx.finding(rule, ("permissions", "databases", i, "access"),
                              f"access {grant.access.value!r} on database {grant.database!r}; {label} agents get "
                              "read access only")


def _read_only_kv(rule: Rule, ctx: SpecContext, label: str) -> Iterator[Finding]:
    for i, grant in enumerate(ctx.loaded.spec.permissions.kv):
        extra = sorted(set(grant.capabilities) - READ_ONLY_KV)
        if extra:
            yield ctx.finding(rule, ("permissions", "kv", i, "capabilities"),
                              f"capabilities {', '.join(extra)} on {grant.path!r}; {label} agents may only read and "
                              "list secrets")


def _check_data_retrieval(rule: Rule, ctx: SpecContext) -> Iterator[Finding]:
    if ctx.loaded.spec.function is not FunctionClass.DATA_RETRIEVAL:
        return
    yield from _read_only_aws(rule, ctx, "data-retrieval")
    yield from _read_only_databases(rule, ctx, "data-retrieval")
    yield from _read_only_kv(rule, ctx, "data-retrieval")


def _named(resource: str) -> bool:
    """One named resource, or everything below one (`bucket-name/*`) in every environment: no name pattern, no
    whole collection (`instance/*` ends in `/*` too, but names no instance). A bare `*` is AGT022's call: it is the
    only resource actions without resource types accept."""
    return resource == "*" or template_breadth(resource) <= Breadth.SUBTREE


def _check_integration(rule: Rule, ctx: SpecContext) -> Iterator[Finding]:
    spec = ctx.loaded.spec
    if spec.function is not FunctionClass.INTEGRATION:
        return
    for path, network, envs in network_sources(spec):
        where = f" in {', '.join(envs)}" if path[0] == "overrides" else ""
        if network.vault_login_rate is None:
            yield ctx.finding(rule, path, f"integration agents need network.vault_login_rate (a Vault quota on their "
                                          f"AppRole logins){where}", at_key=True)
        if not network.egress:
            yield ctx.finding(rule, path, f"integration agents need at least one network.egress endpoint{where}",
                              at_key=True)
    for i, statement in enumerate(spec.permissions.aws):
        for j, resource in enumerate(statement.resources):
            if not _named(resource):
                yield ctx.finding(rule, ("permissions", "aws", i, "resources", j),
                                  f"{resource!r}: integration agents name their resources (a wildcard is allowed "
                                  "only as a trailing /* below one named resource, never for a whole collection "
                                  "such as instance/* or table/*)")


def _names_own_account(template: str, ctx: SpecContext) -> bool:
    """A scratch ARN is provably in the environment's account: its account field, or (S3 bucket names carry no
    account field) its resource name, contains the environment's account id in every deployed environment."""
    spec = ctx.loaded.spec
    for env in ctx.deployed():
        arn = Arn.parse(fill(template, spec, env))
        if arn is None:
            return False
        if arn.account:
            if arn.account != env.account_id:
                return False
        elif env.account_id not in arn.resource:
            return False
    return True


def _check_analysis(rule: Rule, ctx: SpecContext) -> Iterator[Finding]:
    spec = ctx.loaded.spec
    if spec.function is not FunctionClass.ANALYSIS:
        return
    for path, i, action in spec_actions(spec):
        statement = spec.permissions.aws[i]
        allowed = SCRATCH_LEVELS if statement.scratch else READ_ONLY_LEVELS
        over = beyond(action, allowed)
        if not over:
            continue
        if statement.scratch:
            yield ctx.finding(rule, path, f"{describe(action, over)} is Permissions-management-level; analysis "
                                          "agents may not change policies or ACLs, even on scratch")
        else:
            yield ctx.finding(rule, path, f"{describe(action, over)} writes; analysis agents write only to "
                                          "statements marked scratch: true")
    for i, statement in enumerate(spec.permissions.aws):
        if not statement.scratch:
            continue
        for j, resource in enumerate(statement.resources):
            if resource == "*" or not _names_own_account(resource, ctx):
                arn = Arn.parse(resource)
                named = account_owner(arn.account, ctx.environments) if arn is not None and arn.account else None
                owner = f" (it is {named}'s account)" if named else ""
                yield ctx.finding(rule, ("permissions", "aws", i, "resources", j),
                                  f"scratch resource {resource!r} is not provably in the environment's own "
                                  f"account{owner}; use {{account}} in the ARN's account field, or in the bucket "
                                  "name for S3")
    yield from _read_only_databases(rule, ctx, "analysis")


def _check_reporting_monitoring(rule: Rule, ctx: SpecContext) -> Iterator[Finding]:
    function = ctx.loaded.spec.function
    if function not in (FunctionClass.REPORTING, FunctionClass.MONITORING):
        return
    yield from _read_only_aws(rule, ctx, function.value)
    yield from _read_only_databases(rule, ctx, function.value)
    yield from _read_only_kv(rule, ctx, function.value)


def _check_network_only_for_integration(rule: Rule, ctx: SpecContext) -> Iterator[Finding]:
    spec = ctx.loaded.spec
    if spec.function is FunctionClass.INTEGRATION:
        return
    for path, network, _ in network_sources(spec):
        if network.egress:
            hosts = ", ".join(e.host for e in network.egress)
            yield ctx.finding(rule, path + ("egress",), f"egress to {hosts}; {spec.function.value} agents have no "
                                                        "external network access (only integration agents do)")
        if network.vault_login_rate is not None:
            yield ctx.finding(rule, path + ("vault_login_rate",), f"the network section, vault_login_rate included, "
                                                                  f"is for integration agents; {spec.function.value} "
                                                                  "agents have none", at_key=True)


DATA_RETRIEVAL = Rule(
    id="AGT030", severity=Severity.ERROR, title="data-retrieval agents are read-only",
    rationale="Data retrieval agents only read: AWS Read/List actions, database read, KV read/list (network: AGT034).",
    check=_check_data_retrieval)

INTEGRATION = Rule(
    id="AGT031", severity=Severity.ERROR, title="integration agents: login quota, named endpoints, explicit ARNs",
    rationale="Integration agents reach specific endpoints only, log in to Vault under a quota, and act on resources "
              "named one by one.",
    check=_check_integration)

ANALYSIS = Rule(
    id="AGT032", severity=Severity.ERROR, title="analysis agents write only to scratch in their own account",
    rationale="Analysis agents compute but never export: writes only to scratch in their own account, DB read only.",
    check=_check_analysis)

REPORTING_MONITORING = Rule(
    id="AGT033", severity=Severity.ERROR, title="reporting and monitoring agents are read-only",
    rationale="Reporting and monitoring agents observe: AWS Read/List, database read, KV read/list (network: AGT034).",
    check=_check_reporting_monitoring)

NETWORK_ONLY_FOR_INTEGRATION = Rule(
    id="AGT034", severity=Severity.ERROR, title="Egress and Vault login quotas only for integration agents",
    rationale="Only integration agents talk to the outside world; for every other class egress is exfiltration.",
    check=_check_network_only_for_integration)
