"""What the Pulumi program writes and reads outside the plan's own resources, as permissions: the deployer's Vault
policy and IAM policy, the AWS secrets-engine principal's IAM policy. Pure: derived from a stack's plan only, so it
follows the plan (new mounts, an API-managed audit device, session tags) and never drifts from it.

Every Vault path is the one terraform-provider-vault (which pulumi-vault bridges) calls for a resource's create,
read, update and delete; every IAM action one terraform-provider-aws calls (docs/deploy.md, "What the deployer may
do", cites each). Scope is the environment, not today's agents: the policies are applied once per environment by
an administrator, and a new agent must not need a new policy. Names make that exact: the environment's own mounts
(every role on them is the program's), and `agent-<env>-*` where a mount or folder is shared (environment names
hold no `-`, so no other environment's names match).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from agentiam.plan import names
from agentiam.plan.boundary import POLICY_VERSION
from agentiam.plan.model import IdentityPlan

# Vault ACL capabilities a path needs for what the provider does there.
CRUD = ("create", "read", "update", "delete")
PROBE = "doctor-probe"
# Entity policies would grant power to whoever logs in as the entity (the deployer's own CI login included): only
# the empty list the provider sends on every update passes.
NO_ENTITY_POLICIES: dict[str, tuple[str | list[str], ...]] = {"policies": ([],), "*": ()}  # stands for `+` and `*` when `agentiam doctor` asks for a rule's capabilities


@dataclass(frozen=True)
class VaultRule:
    """One `path` block of the deployer's Vault policy and why the program needs it."""

    path: str
    capabilities: tuple[str, ...]
    why: str
    # `allowed_parameters`: parameter -> the only values accepted (empty tuple: any value; key `*`: any other
    # parameter). A value is a string (matched as a glob) or a list (matched exactly: `[]` allows only an empty
    # list; Vault compares non-strings by equality, internal/vault/policy/acl.go `valueInSlice`).
    allowed_parameters: Mapping[str, tuple[str | list[str], ...]] = field(default_factory=dict)

    @property
    def example(self) -> str:
        """A concrete path the rule covers, for `sys/capabilities-self` (`+` and a trailing `*` made concrete)."""
        parts = [PROBE if part == "+" else part for part in self.path.split("/")]
        path = "/".join(parts)
        return path[:-1] + PROBE if path.endswith("*") else path


def deployer_policy_name(environment: str) -> str:
    return f"agentiam-{environment}-deployer"


def agent_prefix(environment: str) -> str:
    """`agent-<env>-`: every name the program gives an agent's resources starts with it."""
    return names.identity_name("", environment)


def deployer_vault_rules(plan: IdentityPlan, alias_accessors: Mapping[str, str] | None = None) -> list[VaultRule]:
    """The deployer's Vault policy over exactly what the program manages in the environment of `plan`.

    `alias_accessors` (auth mount path -> accessor, read from the live Vault after the first `up`) pins the mounts
    entity aliases may be created on: without it, the deployer could hang an alias of another auth method (its own
    CI login) on any entity and log in as it.
    """
    env = plan.environment
    prefix = agent_prefix(env)
    platform = plan.platform
    auth = {m.type: m.path for m in platform.mounts if m.kind == "auth"}
    secrets = {m.type: m.path for m in platform.mounts if m.kind == "secrets"}
    aws_mount = next(m.path for m in platform.expected_mounts if m.type == "aws")
    rules = [
        VaultRule("auth/token/lookup-self", ("read",), "the provider looks its token up"),
        VaultRule("auth/token/create", ("update",), "the provider acts through a child token sized for the stack "
                                                    "(plan.deploy.vault_token_ttl)"),
        VaultRule("sys/capabilities-self", ("update",), "agentiam doctor checks this policy"),
        VaultRule(f"sys/policies/acl/{deployer_policy_name(env)}", ("read",), "agentiam doctor reads this policy"),
        VaultRule("sys/auth", ("read",), "agentiam doctor lists auth mounts"),
        VaultRule("sys/mounts", ("read",), "agentiam doctor lists secrets mounts"),
        VaultRule("sys/audit", ("read", "sudo"), "the audit device is read back; agentiam doctor checks it is enabled"),
        VaultRule(f"sys/auth/{names.TOKEN_MOUNT}", ("read", "sudo"), "Vault's token mount: its accessor is read "
                  "by path for the agents' token-mount aliases"),
    ]
    for kind in ("approle", "cert"):
        path = auth[kind]
        rules += [
            VaultRule(f"sys/auth/{path}", (*CRUD, "sudo"), f"vault.AuthBackend {path} (shard stacks read it)"),
            VaultRule(f"sys/mounts/auth/{path}/tune", ("read", "update"), f"the tune of {path} (max lease 24h)"),
        ]
    rules.append(VaultRule(f"sys/auth/{auth['approle']}/tune", ("read", "update", "sudo"),
                           "the AppRole mount's user-lockout setting (a generic endpoint)"))
    for mount in platform.mounts:
        if mount.login_rate_limit is not None:
            rules.append(VaultRule(f"sys/quotas/rate-limit/{mount.login_rate_limit.name}", CRUD,
                                   f"the login rate limit of {mount.path}"))
    database = secrets["database"]
    rules += [
        VaultRule(f"sys/mounts/{database}", CRUD, f"vault.Mount {database}"),
        VaultRule(f"sys/mounts/{database}/tune", ("read", "update"), f"the tune of {database} (max lease 24h)"),
        VaultRule(f"{database}/config/+", CRUD, "database connections (never their credentials: no creds path)"),
        VaultRule(f"{database}/roles/+", CRUD, "agents' database roles"),
    ]
    if platform.log_routing.audit.api_managed:
        rules.append(VaultRule(f"sys/audit/{platform.log_routing.audit.path}", (*CRUD, "sudo"),
                               "the audit device, managed through the API on this server"))
    rules += [
        VaultRule(f"sys/policies/acl/{prefix}*", CRUD, "agents' policies and certificate-login policies"),
        # `+`: the role and its role id, never `.../secret-id`: the deployer must not mint an agent's second factor.
        VaultRule(f"auth/{auth['approle']}/role/+", CRUD, "agents' AppRole roles"),
        VaultRule(f"auth/{auth['approle']}/role/+/role-id", ("read",), "an AppRole role's role id is read back"),
        VaultRule(f"auth/{auth['cert']}/certs/+", CRUD, "agents' certificate roles"),
        # The roles only, never `auth/token/create/<role>`: the deployer must not mint an agent's working token.
        VaultRule(f"auth/{names.TOKEN_MOUNT}/roles/{prefix}*", CRUD, "agents' token roles (Vault's token mount is "
                  "shared: the environment's names only)"),
        VaultRule(f"sys/quotas/rate-limit/{prefix}*", CRUD, "agents' rate limits"),
        # Entities are addressed by id: no name prefix can narrow these. Entity policies are never set by the
        # program: refused but for the provider's empty list.
        VaultRule("identity/entity", ("create", "update"), "agents' identity entities (created by name)",
                  allowed_parameters=NO_ENTITY_POLICIES),
        VaultRule("identity/entity/id/+", ("read", "update", "delete"), "agents' identity entities",
                  allowed_parameters=NO_ENTITY_POLICIES),
        VaultRule("identity/lookup/entity", ("update",), "the provider looks for an existing alias first"),
        VaultRule(f"identity/entity/name/{prefix}*", ("read",), "agentiam doctor checks that non-active agents' "
                  "entities are disabled"),
    ]
    alias_parameters = {"*": (), "mount_accessor": tuple(sorted(alias_accessors.values()))} if alias_accessors else {}
    rules += [
        VaultRule("identity/entity-alias", ("create", "update"), "agents' entity aliases (AppRole role id, "
                  "certificate CN)", allowed_parameters=alias_parameters),
        VaultRule("identity/entity-alias/id/+", ("read", "update", "delete"), "agents' entity aliases",
                  allowed_parameters=alias_parameters),
    ]
    rules += [VaultRule(f"{aws_mount}/roles/{prefix}*", CRUD, "agents' AWS secrets-engine roles (the mount is shared: "
                        "the environment's names only)"),
              VaultRule(f"{aws_mount}/config/root", ("read",), "agentiam doctor checks the engine is configured (Vault "
                        "never returns its secret key)")]
    return rules


READ_CAPABILITIES = ("read", "list")
# What a read-only token still writes: the provider's child token (it carries the same read-only policies) and the
# capability check; nothing else.
AUDITOR_WRITES = ("auth/token/create", "sys/capabilities-self")


def auditor_policy_name(environment: str) -> str:
    return f"agentiam-{environment}-auditor"


def auditor_vault_rules(plan: IdentityPlan) -> list[VaultRule]:
    """The scheduled checks' policy: what `agentiam doctor` and `pulumi preview --refresh` read, nothing they could
    change: the deployer's rules cut to read (and sudo where a read needs it)."""
    rules = []
    for rule in deployer_vault_rules(plan):
        if rule.path in AUDITOR_WRITES:
            rules.append(rule)
            continue
        reads = tuple(c for c in rule.capabilities if c in READ_CAPABILITIES)
        if reads:
            sudo = ("sudo",) if "sudo" in rule.capabilities else ()
            rules.append(VaultRule(rule.path, reads + sudo, f"read: {rule.why}"))
    rules = [r for r in rules if r.path != f"sys/policies/acl/{deployer_policy_name(plan.environment)}"]
    rules.append(VaultRule(f"sys/policies/acl/{auditor_policy_name(plan.environment)}", ("read",),
                           "agentiam doctor reads this policy"))
    return rules


def alias_mount_paths(plan: IdentityPlan) -> list[str]:
    """The auth mounts the program hangs entity aliases on (what `alias_accessors` must name): the environment's
    AppRole and cert mounts, and Vault's token mount (the working token's alias)."""
    return sorted([m.path for m in plan.platform.mounts if m.kind == "auth"] + [names.TOKEN_MOUNT])


# ---- AWS ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class IamGrant:
    """One statement of an IAM policy the bootstrap writes, and why."""

    sid: str
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    why: str
    condition: Mapping[str, Mapping[str, object]] = field(default_factory=dict)
    effect: str = "Allow"

    def statement(self) -> dict[str, object]:
        statement: dict[str, object] = {"Sid": self.sid, "Effect": self.effect, "Action": sorted(self.actions),
                                        "Resource": sorted(self.resources)}
        if self.condition:
            statement["Condition"] = {op: dict(values) for op, values in self.condition.items()}
        return statement


def iam_policy(grants: list[IamGrant]) -> dict[str, object]:
    return {"Version": POLICY_VERSION, "Statement": [g.statement() for g in grants]}


def _arn(plan: IdentityPlan, service: str, resource: str, *, regional: bool = False) -> str:
    region = plan.region if regional else ""
    return f"arn:aws:{service}:{region}:{plan.account_id}:{resource}"


def agent_role_arns(plan: IdentityPlan) -> str:
    """Every agent role of the environment: the role path is the environment's own (`/agentiam/<env>/`)."""
    return _arn(plan, "iam", f"role{names.role_path(plan.environment)}{agent_prefix(plan.environment)}*")


def deployer_iam_grants(plan: IdentityPlan) -> list[IamGrant]:
    """What `pulumi up` does on AWS for the environment: its agent roles, their inline policies, the boundaries,
    the agent log group, the subscription and metric filters on the trail log group and the denied-call alarm.

    A role may only be created or given a boundary that is one of the environment's boundaries, so no role the
    deployer creates escapes its function class's ceiling."""
    env = plan.environment
    log = plan.platform.log_routing
    boundaries = _arn(plan, "iam", f"policy{names.role_path(env)}agentiam-{env}-boundary-*")
    grants = [
        IamGrant("AgentRolesWithTheirBoundary", ("iam:CreateRole", "iam:PutRolePermissionsBoundary"),
                 (agent_role_arns(plan),), "agent roles, only with one of the environment's boundaries",
                 condition={"StringLike": {"iam:PermissionsBoundary": boundaries}}),
        IamGrant("AgentRoles", (
            "iam:GetRole", "iam:DeleteRole", "iam:UpdateRole", "iam:UpdateRoleDescription",
            "iam:UpdateAssumeRolePolicy", "iam:TagRole", "iam:UntagRole", "iam:ListRoleTags",
            "iam:ListRolePolicies", "iam:GetRolePolicy", "iam:PutRolePolicy", "iam:DeleteRolePolicy",
            "iam:ListAttachedRolePolicies", "iam:ListInstanceProfilesForRole"),
            (agent_role_arns(plan),), "agent roles, their inline least-privilege and kill-switch policies"),
        IamGrant("Boundaries", (
            "iam:CreatePolicy", "iam:GetPolicy", "iam:GetPolicyVersion", "iam:ListPolicyVersions",
            "iam:CreatePolicyVersion", "iam:DeletePolicyVersion", "iam:DeletePolicy", "iam:TagPolicy",
            "iam:UntagPolicy", "iam:ListPolicyTags"), (boundaries,), "function-class permissions boundaries"),
        IamGrant("AgentLogGroup", (
            "logs:CreateLogGroup", "logs:DeleteLogGroup", "logs:PutRetentionPolicy", "logs:DeleteRetentionPolicy",
            "logs:TagResource", "logs:UntagResource", "logs:ListTagsForResource", "logs:TagLogGroup",
            "logs:ListTagsLogGroup"),
            (_arn(plan, "logs", f"log-group:{log.agent_log_group}", regional=True),
             _arn(plan, "logs", f"log-group:{log.agent_log_group}:*", regional=True)), "the agent activity log group"),
        IamGrant("DescribeLogGroups", ("logs:DescribeLogGroups",), ("*",), "log groups are read back by listing"),
        IamGrant("TrailLogGroupFilters", (
            "logs:PutSubscriptionFilter", "logs:DeleteSubscriptionFilter", "logs:DescribeSubscriptionFilters",
            "logs:PutMetricFilter", "logs:DeleteMetricFilter", "logs:DescribeMetricFilters"),
            (_arn(plan, "logs", f"log-group:{log.trail_log_group}", regional=True),
             _arn(plan, "logs", f"log-group:{log.trail_log_group}:*", regional=True)),
            "the agent-event subscription and the denied-call metric filter on the CloudTrail log group"),
        IamGrant("DeniedCallAlarm", (
            "cloudwatch:PutMetricAlarm", "cloudwatch:DeleteAlarms", "cloudwatch:DescribeAlarms",
            "cloudwatch:TagResource", "cloudwatch:UntagResource", "cloudwatch:ListTagsForResource"),
            (_arn(plan, "cloudwatch", f"alarm:{log.denied_alarm_name}", regional=True),),
            "the alarm on denied agent calls"),
        IamGrant("WhoAmI", ("sts:GetCallerIdentity",), ("*",), "the provider and agentiam doctor check the account"),
    ]
    if log.destination_role_arn:
        grants.append(IamGrant("PassTheLogsRole", ("iam:PassRole",), (log.destination_role_arn,),
                               "the subscription filter hands CloudWatch Logs its delivery role",
                               condition={"StringEquals": {"iam:PassedToService": "logs.amazonaws.com"}}))
    return grants


def doctor_iam_grants(plan: IdentityPlan, principal_arn: str) -> list[IamGrant]:
    """Read-only calls of `agentiam doctor` on the secrets-engine principal (outside the environment's path)."""
    kind = principal_arn.split(":", 5)[5].split("/", 1)[0]
    if kind == "user":
        actions = ("iam:GetUser", "iam:ListUserPolicies", "iam:GetUserPolicy", "iam:ListAttachedUserPolicies")
    else:
        actions = ("iam:GetRole", "iam:ListRolePolicies", "iam:GetRolePolicy", "iam:ListAttachedRolePolicies")
    return [IamGrant("DoctorReadsTheEnginePrincipal", actions, (principal_arn,),
                     "agentiam doctor checks the principal exists and may assume agent roles"),
            IamGrant("DoctorReadsManagedPolicies", ("iam:GetPolicy", "iam:GetPolicyVersion"),
                     (_arn(plan, "iam", "policy/*"),), "agentiam doctor reads the principal's managed policies")]


def auditor_iam_grants(plan: IdentityPlan) -> list[IamGrant]:
    """The scheduled checks' IAM policy: the deployer's Get/List/Describe actions (access levels List and Read in
    the IAM catalogue) and doctor's reads, nothing that changes anything."""
    from agentiam.iam import catalogue  # the catalogue's data loads only when bootstrap runs

    grants = []
    for grant in deployer_iam_grants(plan) + doctor_iam_grants(plan, plan.platform.aws_secrets_engine_principal_arn):
        reads = tuple(a for a in grant.actions
                      if all(i.access_level in ("List", "Read") for i in catalogue.expand(a)))
        if reads:
            grants.append(IamGrant(f"Read{grant.sid}", reads, grant.resources, f"read: {grant.why}"))
    return grants


def engine_principal_grants(plan: IdentityPlan) -> list[IamGrant]:
    """What Vault's AWS secrets engine needs: assume the environment's agent roles (and tag the session where the
    server sends session tags), nothing else."""
    actions = ("sts:AssumeRole", "sts:TagSession") if plan.platform.vault_server.aws_session_tags \
        else ("sts:AssumeRole",)
    return [IamGrant("AssumeAgentRolesOnly", actions, (agent_role_arns(plan),),
                     "vend STS credentials of the environment's agent roles")]
