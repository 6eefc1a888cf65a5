"""AGT048: the fleet fits its AWS accounts' IAM quotas, every environment and shard of one account counted together.

IAM counts every role and customer managed policy of the account, whoever created it (docs/facts.md#aws-iam-quotas).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from agentiam.environment.model import IAM_MANAGED_POLICIES_MAX, IAM_ROLES_MAX, EnvironmentConfig
from agentiam.findings import Finding, Severity
from agentiam.plan.footprint import AccountFootprint, account_footprints
from agentiam.rules.base import FleetRule
from agentiam.rules.fleet import FleetMember

# Where the fix is explained (the user's documentation, from the finding).
FIX_DOCS = "docs/fleet.md#quotas"


def _declared(account: AccountFootprint, field: str) -> tuple[int, str]:
    """The smallest quota the account's environments declare for `field` (they should agree; the smallest is the
    one that cannot be wrong in the fleet's favour), with the environment(s) declaring it."""
    values = {config.name: getattr(config.quotas, field) for config in account.configs}
    low = min(values.values())
    return low, ", ".join(name for name, value in values.items() if value == low)


def _per_environment(counts: dict[str, int]) -> str:
    return ", ".join(f"{name} {count:,}" for name, count in counts.items())


def _fix(quota: int, maximum: int, field: str, declared_by: str) -> str:
    raise_it = (f"if AWS has raised the account's quota (Service Quotas, at most {maximum:,}), declare it as "
                f"`quotas.{field}` in the stack config of {declared_by}; " if quota < maximum else "")
    return (f"{raise_it}otherwise move agents to an environment in another account: shards of one environment "
            f"(`agentiam shard`) share its account and its quota ({FIX_DOCS})")


def _check_account_quotas(rule: FleetRule, members: list[FleetMember],
                          environments: Mapping[str, EnvironmentConfig]) -> Iterator[Finding]:
    # A summary reads as a spec (`FleetMember.spec`): the plan's own footprint counts them.
    for account in account_footprints(members, environments):  # type: ignore[arg-type]
        quota, declared_by = _declared(account, "iam_roles")
        outside = max(c.quotas.iam_roles_outside_agentiam for c in account.configs)  # the most others may hold
        if account.roles and account.roles + outside > quota:
            # Located on the first agent (environments by name, then files) whose role no longer fits.
            agents = [loaded for env in account.environments for loaded in env.agents]
            first = agents[max(0, quota - outside)]
            envs = _per_environment({e.environment: e.roles for e in account.environments if e.roles})
            yield first.document.finding(
                rule.id, ("environments",),
                f"AWS account {account.account_id} would hold {account.roles:,} agent IAM roles ({envs})"
                + (f" plus {outside:,} outside agentiam" if outside else "")
                + f", above its quota of {quota:,} roles; " + _fix(quota, IAM_ROLES_MAX, "iam_roles", declared_by),
                rule.severity)
        quota, declared_by = _declared(account, "iam_customer_managed_policies")
        outside = max(c.quotas.iam_customer_managed_policies_outside_agentiam for c in account.configs)
        if account.managed_policies and account.managed_policies + outside > quota:
            # One boundary per environment and function class: located on the first agent of the first class
            # (environments by name, classes by name) whose boundary no longer fits.
            firsts = [min((a for a in env.agents if a.spec.function is function), key=lambda a: a.file)
                      for env in account.environments
                      for function in sorted({a.spec.function for a in env.agents}, key=lambda f: f.value)]
            first = firsts[max(0, quota - outside)]
            yield first.document.finding(
                rule.id, ("function",),
                f"AWS account {account.account_id} would hold {account.managed_policies:,} agentiam permissions "
                "boundaries" + (f" plus {outside:,} customer managed policies outside agentiam" if outside else "")
                + f", above its quota of {quota:,} customer managed policies; "
                + _fix(quota, IAM_MANAGED_POLICIES_MAX, "iam_customer_managed_policies", declared_by),
                rule.severity)


ACCOUNT_QUOTAS = FleetRule(
    id="AGT048", severity=Severity.ERROR, title="The fleet fits its AWS accounts' IAM quotas",
    rationale="IAM refuses roles and managed policies beyond the account's quota (1,000 roles and 1,500 policies by "
              "default, 5,000 at most), so a fleet larger than that fails part-way through `pulumi up`; every "
              "environment and shard in one account counts against the same quota.",
    check=_check_account_quotas)
