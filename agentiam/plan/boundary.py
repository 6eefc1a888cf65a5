"""Permissions boundaries: one managed policy per function class per environment, the ceiling of its agents.

The ceiling allows the union of the class's actions and denies identity administration, credential-returning
and one-step escalation actions, and any resource outside the environment's account and the accounts the class's
specs declare.
A managed policy holds at most 6,144 characters (docs/facts.md#aws-iam-limits), and a large fleet's union
outgrows it, so an oversized ceiling is compacted: a service's actions sharing a verb (`s3:GetObject`,
`s3:GetObjectTagging`) become one wildcard (`s3:Get*`) when everything that wildcard reaches today is at access
levels the class already uses on that service and none of it is denied. The inline policy stays exact; only the ceiling loosens,
never beyond what the class could already do. Still too big: guardrail AGT043.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Iterable

from agentiam.environment.model import EnvironmentConfig
from agentiam.iam import catalogue
from agentiam.plan import names
from agentiam.plan.model import BoundaryPlan
from agentiam.iam.risk import boundary_denied_actions
from agentiam.spec.model import FunctionClass

POLICY_VERSION = "2012-10-17"
MANAGED_POLICY_MAX_CHARS = 6144  # docs/facts.md#aws-iam-limits: managed policy size, counted without white space
NO_EXPORT_CLASSES = frozenset({FunctionClass.DATA_RETRIEVAL, FunctionClass.ANALYSIS, FunctionClass.REPORTING,
                               FunctionClass.MONITORING})
CEILING_SID = "FunctionClassCeiling"  # the statement allowing the class's union of actions (read by the diff)
ACCOUNTS_SID = "NoResourcesOutsideTheAccounts"
_VERB = re.compile(r"[A-Z][a-z]*")


def policy_size(policy: dict) -> int:
    """Characters IAM counts for a policy document (JSON without white space)."""
    return len(json.dumps(policy, separators=(",", ":")))


def _policy(allowed: list[str], accounts: list[str]) -> dict:
    statements: list[dict] = []
    if allowed:
        statements.append({"Sid": CEILING_SID, "Effect": "Allow", "Action": allowed, "Resource": "*"})
    statements.append({"Sid": "NoEscalationOrCredentialExposure", "Effect": "Deny",
                       "Action": list(boundary_denied_actions()), "Resource": "*"})
    # Every class: nothing outside the environment's account, but the accounts its specs declare (`cross_account`,
    # reviewed and labelled high): S3 ARNs name no account, so only this condition keeps a bucket of another
    # account out of reach.
    statements.append({"Sid": ACCOUNTS_SID, "Effect": "Deny", "Action": "*", "Resource": "*",
                       "Condition": {"StringNotEqualsIfExists": {"aws:ResourceAccount": accounts}}})
    return {"Version": POLICY_VERSION, "Statement": statements}


def _verb_wildcard_is_safe(pattern: str, members: list[str]) -> bool:
    reached = catalogue.expand(pattern)
    denied = boundary_denied_actions()
    if not reached or any(fnmatch.fnmatchcase(info.name.lower(), d) for info in reached for d in denied):
        return False
    levels = {level for member in members for level in catalogue.access_levels(member)}
    return {info.access_level for info in reached} <= levels


def compact_actions(actions: Iterable[str], budget: int, fixed_cost: int) -> list[str]:
    """Replace groups of `service:VerbX` actions by `service:Verb*` (largest saving first) until the list fits.

    `fixed_cost` is the size of the policy without the action list; stops as soon as the total fits `budget`.
    """
    current = sorted(set(actions))
    groups: dict[tuple[str, str], list[str]] = {}
    for action in current:
        service, _, name = action.partition(":")
        verb = _VERB.match(name)
        if verb and name != verb.group(0) + "*":  # already the verb wildcard: nothing to gain
            groups.setdefault((service, verb.group(0)), []).append(action)

    def size(items: list[str]) -> int:
        return fixed_cost + len(json.dumps(items, separators=(",", ":")))

    candidates = sorted(((sum(len(m) + 3 for m in members) - len(f"{svc}:{verb}*") - 3, svc, verb, members)
                         for (svc, verb), members in groups.items() if len(members) > 1),
                        key=lambda c: (-c[0], c[1], c[2]))
    for _saving, service, verb, members in candidates:
        if size(current) <= budget:
            break
        pattern = f"{service}:{verb}*"
        if _verb_wildcard_is_safe(pattern, members):
            current = sorted((set(current) - set(members)) | {pattern})
    return current


def boundary_plan(function: FunctionClass, actions: Iterable[str], env: EnvironmentConfig,
                  foreign_accounts: Iterable[str] = ()) -> BoundaryPlan:
    """The boundary of `function` in `env`, given every action its agents there are granted and every other account
    their statements declare (`cross_account`)."""
    allowed = sorted(set(actions))
    accounts = sorted({env.account_id, *foreign_accounts})
    policy = _policy(allowed, accounts)
    if policy_size(policy) > MANAGED_POLICY_MAX_CHARS and allowed:
        fixed = policy_size(policy) - len(json.dumps(allowed, separators=(",", ":")))
        policy = _policy(compact_actions(allowed, MANAGED_POLICY_MAX_CHARS, fixed), accounts)
    return BoundaryPlan(
        function=function.value,
        policy_name=names.boundary_policy_name(env.name, function.value),
        policy_path=names.role_path(env.name),
        policy_arn=names.boundary_policy_arn(env.account_id, env.name, function.value),
        policy=policy)
