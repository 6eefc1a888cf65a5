"""AGT027, AGT028, AGT044: how far an AWS grant reaches: whole collections, remote execution, destruction, other
accounts.

A resource's reach comes from `agentiam.iam.arn.breadth` (ARN formats of the IAM catalogue), an action's risks from
`agentiam.iam.risk`; the diff labels the same things from the same modules.
"""

from __future__ import annotations

from collections.abc import Iterator

from agentiam.findings import Finding, Severity
from agentiam.iam import risk
from agentiam.iam.arn import Arn, Breadth, template_breadth
from agentiam.rules.actions import resolve
from agentiam.rules.base import Rule, SpecContext
from agentiam.spec.model import AwsStatement, FunctionClass

READ_ONLY_CLASSES = frozenset({FunctionClass.DATA_RETRIEVAL, FunctionClass.REPORTING, FunctionClass.MONITORING})


def _short(names: list[str], limit: int = 3) -> str:
    return ", ".join(names[:limit]) + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _concrete(statement: AwsStatement) -> list:
    return [info for action in statement.actions for info in resolve(action)]


def _check_broad_resources(rule: Rule, ctx: SpecContext) -> Iterator[Finding]:
    spec = ctx.loaded.spec
    if spec.function is FunctionClass.INTEGRATION:
        return  # AGT031: integration agents name every resource
    for i, statement in enumerate(spec.permissions.aws):
        broad = [(j, r) for j, r in enumerate(statement.resources)
                 if r != "*" and template_breadth(r) >= Breadth.COLLECTION]
        if not broad:
            continue
        beyond = sorted({info.name for info in _concrete(statement) if not risk.classify(info).metadata_read})
        if not beyond:
            continue  # describing every alarm or budget of the account is what reporting and monitoring do
        for j, resource in broad:
            yield ctx.finding(rule, ("permissions", "aws", i, "resources", j),
                              f"{resource!r} reaches {Breadth.COLLECTION.label} (Resource \"*\" in all but spelling) "
                              f"and the statement grants {_short(beyond)}, which read data or secrets, write or "
                              "execute; name the resources (a whole collection is only for metadata reads)")


def _check_dangerous_actions(rule: Rule, ctx: SpecContext) -> Iterator[Finding]:
    spec = ctx.loaded.spec
    read_only = spec.function in READ_ONLY_CLASSES  # their class rule refuses every write already
    for i, statement in enumerate(spec.permissions.aws):
        infos = _concrete(statement)
        remote = sorted({info.name for info in infos if risk.classify(info).remote_execution})
        if remote and spec.function is not FunctionClass.INTEGRATION:
            yield ctx.finding(rule, ("permissions", "aws", i, "actions", _index_of(statement, remote)),
                              f"{_short(remote)} runs commands on existing compute (a shell is every permission of "
                              f"that machine); {spec.function.value} agents never execute remotely, integration "
                              "agents only on exactly named resources")
            continue
        destroys = [] if read_only else sorted({info.name for info in infos if risk.classify(info).destructive})
        dangerous = remote + destroys
        if not dangerous:
            continue
        what = "runs commands on" if remote else "deletes or destroys"
        for j, resource in enumerate(statement.resources):
            reach = template_breadth(resource)
            if reach > Breadth.EXACT:
                yield ctx.finding(rule, ("permissions", "aws", i, "resources", j),
                                  f"{_short(dangerous)} {what} {resource!r}, which reaches {reach.label}; remote "
                                  "execution and destruction are allowed only on exactly named resources")


def _index_of(statement: AwsStatement, names: list[str]) -> int:
    """Index of the first action pattern of the statement that reaches one of `names`."""
    wanted = {n.lower() for n in names}
    for j, action in enumerate(statement.actions):
        if any(info.name.lower() in wanted for info in resolve(action)):
            return j
    return 0


def _check_cross_account(rule: Rule, ctx: SpecContext) -> Iterator[Finding]:
    spec = ctx.loaded.spec
    owners = {env.account_id: name for name, env in ctx.environments.items()}
    for i, statement in enumerate(spec.permissions.aws):
        declared = statement.cross_account
        if declared is None:
            continue
        path = ("permissions", "aws", i, "cross_account", "accounts")
        for k, account in enumerate(declared.accounts):
            if account in owners:
                yield ctx.finding(rule, path + (k,), f"account {account} is the {owners[account]} environment's: "
                                                     "environments stay apart (no cross_account between them)")
        if statement.scratch:
            yield ctx.finding(rule, ("permissions", "aws", i, "cross_account"),
                              "a scratch location is in the environment's own account: no cross_account", at_key=True)


BROAD_RESOURCES = Rule(
    id="AGT027", severity=Severity.ERROR, title="A whole collection of resources only for metadata reads",
    rationale="`arn:aws:s3:::*/*`, `instance/*` or `key/*` is Resource \"*\" in all but spelling: listing or "
              "describing every resource of a type is fine, reading its data, writing, or executing is not.",
    check=_check_broad_resources)

DANGEROUS_ACTIONS = Rule(
    id="AGT028", severity=Severity.ERROR, title="Remote execution and destruction only on exactly named resources",
    rationale="A shell on a machine is every permission of that machine, and destruction cannot be undone: only "
              "integration agents execute remotely, and both only on resources named one by one.",
    check=_check_dangerous_actions)

CROSS_ACCOUNT = Rule(
    id="AGT044", severity=Severity.ERROR, title="Other accounts declared with a reason, never another environment's",
    rationale="S3 ARNs name no account, so every statement is held to the environment's account; reaching another "
              "account is declared with `cross_account` and its reason, and is never another environment's.",
    check=_check_cross_account)


def arn_account_declared(statement: AwsStatement, arn: Arn) -> bool:
    """Whether the ARN's account is one the statement declares (`cross_account`)."""
    return statement.cross_account is not None and arn.account in statement.cross_account.accounts
