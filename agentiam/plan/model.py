"""Plan data model. Every consumer (Pulumi components, diff, inventory, CLI) reads these, none re-derives them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, SerializerFunctionWrapHandler, model_serializer

from agentiam.plan.vault_policy import self_service_rules

PLAN_FORMAT = 1
# The condition key limiting a statement's resources to named accounts (S3 ARNs name none; `cross_account`).
RESOURCE_ACCOUNT_KEY = "aws:ResourceAccount"


class _Plan(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _listed(value: Any) -> tuple[str, ...]:
    """An IAM policy element that may be one string or a list of them (`Action`, `Resource`, a condition value)."""
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else tuple(str(v) for v in value)


@dataclass(frozen=True)
class IamStatement:
    """One statement of an IAM policy of the plan, typed: every consumer reads statements through this, not by
    parsing the policy document again (the document stays what IAM receives, byte for byte)."""

    sid: str
    effect: str
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    # `StringEqualsIfExists aws:ResourceAccount`: the accounts the resources must belong to; None when the ARNs say
    resource_accounts: tuple[str, ...] | None

    @classmethod
    def of(cls, policy: dict[str, Any] | None) -> list[IamStatement]:
        """The statements of a policy document (none for no policy)."""
        statements = (policy or {}).get("Statement", [])
        out = []
        for statement in [statements] if isinstance(statements, dict) else statements:
            accounts = statement.get("Condition", {}).get("StringEqualsIfExists", {}).get(RESOURCE_ACCOUNT_KEY)
            out.append(cls(statement.get("Sid", ""), statement.get("Effect", ""), _listed(statement.get("Action")),
                           _listed(statement.get("Resource")), None if accounts is None else _listed(accounts)))
        return out


class AwsRolePlan(_Plan):
    """The agent's own IAM role in the environment's account."""

    role_name: str
    role_path: str  # /agentiam/<env>/: groups the environment's agent roles
    role_arn: str
    max_session_duration: int  # seconds, 3600..43200
    trust_policy: dict[str, Any]
    inline_policy_name: str
    inline_policy: dict[str, Any] | None  # None when the spec grants no AWS action
    boundary_policy_name: str
    boundary_policy_arn: str
    kill_switch_policy_name: str
    kill_switch_policy: dict[str, Any] | None  # unconditional deny-all when the agent is not active

    def statements(self) -> list[IamStatement]:
        """The inline policy's statements, typed: what the agent is granted (none when the spec grants no AWS
        action). `agentiam.plan.locate.statement_path` finds the spec line of each by its Sid."""
        return IamStatement.of(self.inline_policy)


class AppRolePlan(_Plan):
    """AppRole role: the second factor; its role id is delivered to the agent separately.

    Its token is the short-lived *mint* token: it may only create the agent's working token through the agent's
    token role (`token_policies` = the mint policy), then revokes itself."""

    mount: str
    role_name: str
    token_policies: list[str]
    token_ttl: int  # the mint token's life (MINT_TOKEN_TTL), not the working token's: see TokenRolePlan
    token_max_ttl: int
    token_explicit_max_ttl: int
    # 0 (unlimited): OpenBao refuses child tokens from a use-limited token, even through an orphan token role
    # (docs/facts.md#vault-tokens); the 60 s life and the mint policy limit it instead.
    token_num_uses: int
    token_type: Literal["service"]
    token_no_default_policy: bool  # true: the token carries exactly `token_policies`, not Vault's `default`
    bind_secret_id: bool
    secret_id_ttl: int
    secret_id_num_uses: int
    secret_id_bound_cidrs: list[str]
    token_bound_cidrs: list[str]


class CertRolePlan(_Plan):
    """Certificate auth role: the first factor; its token may only mint a wrapped secret id."""

    mount: str
    role_name: str
    allowed_common_names: list[str]
    token_policies: list[str]
    token_ttl: int
    token_max_ttl: int
    token_explicit_max_ttl: int  # hard ceiling fixed on the token: raising the role's max later cannot extend it
    # service, not batch: batch tokens cannot carry a use count (OpenBao refuses the role) nor be revoked
    token_type: Literal["service"]
    token_no_default_policy: bool
    token_num_uses: int
    token_bound_cidrs: list[str]


class TokenRolePlan(_Plan):
    """The token role minting the agent's working token (`auth/token/create/<name>`).

    Every token it creates is filed under the lease prefix `auth/token/create/<name>/`, which holds this agent's
    tokens and no other's: `agentiam revoke` revokes them all with one `sys/leases/revoke-prefix`, whatever else
    Vault holds (docs/revoke.md). Token roles honour only `token_period`, `token_explicit_max_ttl`,
    `token_bound_cidrs`, `token_type`, `token_no_default_policy` and `token_num_uses` of the token fields; a
    `token_ttl` or `token_max_ttl` is ignored (docs/facts.md#vault-token-roles), so the spec's TTL is the period.
    """

    name: str
    allowed_policies: list[str]  # the agent's working policy only: the token carries exactly it
    entity_alias: str  # the one alias a token may be created with: the agent's entity (on the token mount)
    orphan: bool  # true: the working token outlives the AppRole mint token that created it
    renewable: bool
    token_period: int  # the spec's token_ttl: every renewal gives this TTL again, never more
    token_explicit_max_ttl: int  # the spec's token_max_ttl (<= 24 h); Vault reads it from the role at renewal
    token_type: Literal["service"]  # forced: not "default-service", which would let the request ask for a batch token
    token_no_default_policy: bool
    token_bound_cidrs: list[str]


class EntityPlan(_Plan):
    """The Vault identity entity every audit line of the agent resolves to."""

    name: str
    disabled: bool
    metadata: dict[str, str]
    approle_alias_mount: str  # alias name = the AppRole role id (docs/facts.md#vault-approle), known after apply
    cert_alias_mount: str
    cert_alias_name: str  # the certificate CN
    token_alias_mount: str  # Vault's token mount: the working token is created with this alias, so it is the entity's
    token_alias_name: str  # = the token role's `entity_alias`


class DatabaseRolePlan(_Plan):
    """A dynamic database credential role."""

    mount: str
    name: str
    database: str
    access: Literal["read", "write"]
    schemas: list[str]  # what the grant reaches: every table of these schemas (the stack config's connection)
    privileges: list[str]  # granted on those tables
    creation_statements: list[str]
    revocation_statements: list[str]
    default_ttl: int
    max_ttl: int


class AwsSecretRolePlan(_Plan):
    """AWS secrets engine role vending STS credentials of the agent's own IAM role."""

    mount: str
    name: str
    credential_type: Literal["assumed_role"]
    role_arns: list[str]
    default_sts_ttl: int
    max_sts_ttl: int
    # Empty when the server cannot send session tags (`platform.vault_server.aws_session_tags`): the field is then
    # left out, as a server that does not know it would store the role without it, with a warning only.
    session_tags: dict[str, str]


class RateLimitPlan(_Plan):
    """A Vault rate-limit quota on logins: the agent's AppRole role (`network.vault_login_rate`), or a login mount
    per client address. It limits requests to Vault, nothing else."""

    name: str
    path: str
    role: str
    rate: float
    interval: int


class KvSharePlan(_Plan):
    """A secret of the agent's own KV folder that named other agents may also be granted (their specs say
    `shared_by`); the guardrails check each such grant against this."""

    path: str  # the KV v2 data path, as in the Vault policies (`secret/data/billing/<agent>/stripe-api-key`)
    agents: list[str]
    capabilities: list[str]


class VaultPlan(_Plan):
    """Everything on Vault for one agent x environment."""

    policy_name: str
    policy_rules: dict[str, list[str]]  # path -> capabilities: what `policy_hcl` says, for consumers to read
    policy_hcl: str
    login_policy_name: str
    login_policy_rules: dict[str, list[str]]
    login_policy_hcl: str
    mint_policy_name: str  # the AppRole token's: create the working token through `token_role`, nothing else
    mint_policy_rules: dict[str, list[str]]
    mint_policy_hcl: str
    approle: AppRolePlan
    token_role: TokenRolePlan
    cert: CertRolePlan
    entity: EntityPlan
    database_roles: list[DatabaseRolePlan]
    aws_secret_role: AwsSecretRolePlan | None
    rate_limit: RateLimitPlan | None
    kv_shares: list[KvSharePlan]

    def secret_rules(self) -> dict[str, list[str]]:
        """The working policy's paths beyond the token's self-service and its own database and AWS credentials:
        the KV secrets (path -> capabilities), which the plan records only as these policy paths."""
        own = {path for path, _ in self_service_rules()}
        own |= {f"{role.mount}/creds/{role.name}" for role in self.database_roles}
        if self.aws_secret_role is not None:
            role = self.aws_secret_role
            own |= {f"{role.mount}/creds/{role.name}", f"{role.mount}/sts/{role.name}"}
        return {path: caps for path, caps in self.policy_rules.items() if path not in own}


EgressEnforcement = Literal["network-firewall", "none"]


class EgressPlan(_Plan):
    """The external endpoints the agent may reach, and what enforces them (the stack config's `egress`)."""

    endpoints: list[dict[str, Any]]  # {host, port, purpose}, sorted by (host, port)
    # `network-firewall`: the hosts are in the environment's rule group `allow_list` (names only, any port, for
    # every workload behind that firewall); `none`: agentiam enforces nothing, the list is for the network team.
    enforcement: EgressEnforcement
    allow_list: str | None  # the Network Firewall rule group's name when enforced


class EgressAllowListPlan(_Plan):
    """The environment's egress allow-list: every host its active agents name, and the AWS Network Firewall rule
    group that enforces it when the stack config says `egress.enforcement: network-firewall`."""

    enforcement: EgressEnforcement
    rule_group_name: str
    capacity: int  # fixed when the rule group is created (docs/facts.md#aws-network-firewall)
    capacity_needed: int  # (targets + 1) x target types
    target_types: list[str]  # what the firewall matches the names in: TLS SNI, HTTP Host
    rule_order: str  # DEFAULT_ACTION_ORDER or STRICT_ORDER: the firewall policy's
    home_net: list[str]  # where the inspected traffic comes from; empty: the firewall's own VPC
    hosts: dict[str, list[str]]  # host -> the active agents whose specs name it
    targets: list[str]  # the rule group's list: the hosts, or one name under `.invalid` when there is none


LegacyKind = Literal["iam-access-key", "iam-user", "vault-role", "vault-token"]


class LegacyCredentialPlan(_Plan):
    """One credential the agent ran on before its own identity, which `agentiam migrate revoke-legacy` retires."""

    kind: LegacyKind
    name: str  # the access key id, the IAM user, the AppRole role, the token accessor
    scope: str  # the key's IAM user, the role's auth mount; "" for users and tokens

    @property
    def subject(self) -> str:
        """How reports, the diff and the state records name it: one natural key per credential."""
        if self.kind == "iam-access-key":
            return f"IAM access key {self.name} (user {self.scope})"
        if self.kind == "iam-user":
            return f"IAM user {self.name} (every access key)"
        if self.kind == "vault-role":
            return f"AppRole role {self.name} on auth/{self.scope}"
        return f"Vault token with accessor {self.name}"


class MigrationPlan(_Plan):
    """The agent's move off shared credentials in this environment (spec `migration`, docs/migrate.md)."""

    wave: int | None
    parallel_run: int  # seconds old and new credentials run side by side before revoke-legacy may act (>= 48 h)
    parallel_run_started: str | None  # ISO 8601 UTC; None: not started, nothing may be revoked
    note: str | None
    legacy: list[LegacyCredentialPlan]  # sorted by (kind, scope, name)


class AgentPlan(_Plan):
    """One agent in one environment."""

    agent: str
    environment: str
    identity_name: str  # agent-<env>-<name>: IAM role, Vault policy, AppRole, entity
    status: Literal["active", "suspended", "revoked"]
    function: str
    description: str
    owner_team: str
    owner_sponsor: str
    owner_contact: str
    expires: str
    source_file: str
    spec_digest: str
    tags: dict[str, str]
    aws: AwsRolePlan
    vault: VaultPlan
    egress: EgressPlan
    migration: MigrationPlan | None = None  # only in the environments the spec's `migration` lists

    @model_serializer(mode="wrap")
    def _without_absent_migration(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """An entry without a migration serialises as it did before the field existed: the plan's JSON, and what
        was computed from it (digests, snapshots), stay the same for every agent that is not migrating."""
        data = handler(self)
        if data.get("migration") is None:
            data.pop("migration", None)
        return data


class BoundaryPlan(_Plan):
    """Permissions boundary shared by the agents of one function class in one environment."""

    function: str
    policy_name: str
    policy_path: str
    policy_arn: str
    policy: dict[str, Any]


class DatabaseConnectionPlan(_Plan):
    """Database secrets engine connection the environment's agents draw credentials from."""

    mount: str
    name: str
    plugin: str
    connection_url: str
    username: str
    password_secret: str
    allowed_roles: list[str]
    verify_connection: bool


class MountPlan(_Plan):
    """An auth or secrets mount the stack owns, with its lease ceiling and, for logins, its brute-force guards."""

    kind: Literal["auth", "secrets"]
    type: str
    path: str
    max_lease_ttl: int
    default_lease_ttl: int
    # True: Vault's user lockout is off on this mount. AppRole's lockout counts failures per role id, so anyone
    # holding the role id alone could lock the agent out; guessing a secret id is hopeless anyway
    # (docs/vault.md: brute force)
    user_lockout_disable: bool
    login_rate_limit: RateLimitPlan | None  # per client address on auth/<path>/login: slows guessing, keeps logs sane


class ExpectedMountPlan(_Plan):
    """A secrets mount the program uses but never creates: it must exist before the first `up`."""

    type: Literal["aws", "kv"]
    path: str
    options: dict[str, str]  # what the mount must be tuned with (`version: 2` for KV)


class AuditPlan(_Plan):
    """The environment's Vault audit device, and the config block for servers that refuse API-managed devices."""

    path: str
    type: Literal["file"]
    options: dict[str, str]
    api_managed: bool
    config_block: str


class LogRoutingPlan(_Plan):
    """Agent activity routed apart from human activity."""

    agent_log_group: str
    retention_days: int
    trail_log_group: str
    agent_role_pattern: str  # IAM role-name prefix shared by every agent role of the environment
    subscription_filter_name: str
    subscription_filter_pattern: str
    destination_arn: str
    destination_role_arn: str | None
    denied_metric_filter_name: str
    denied_metric_filter_pattern: str
    denied_metric_namespace: str
    denied_metric_name: str
    denied_alarm_name: str
    denied_alarm_period: int  # seconds; one denied call in one period raises the alarm
    denied_alarm_threshold: int
    alarm_topic_arn: str
    audit: AuditPlan


class CertificatePlan(_Plan):
    """One certificate of a PEM file, as `openssl x509 -noout -subject -enddate -fingerprint -sha256` shows it."""

    subject: str  # RFC 4514
    sha256_fingerprint: str  # SHA-256 of the DER, `AB:CD:...`
    not_after: str  # ISO 8601, UTC


class AgentCaPlan(_Plan):
    """The CA trusted to sign agent client certificates (`vault.agent_ca_pem_file`), exactly as reviewed.

    `pem` is what every cert role trusts: the program deploys these bytes and never reads the file again, so the
    CA deployed is the one whose fingerprints the plan and the diff show."""

    path: str  # relative to the project
    sha256: str  # of the file's bytes, as `sha256sum` prints it
    pem: str
    certificates: list[CertificatePlan]


class VaultServerPlan(_Plan):
    """The environment's Vault or OpenBao server as the stack config names it, and what the plan relies on it for."""

    flavor: Literal["hashicorp", "openbao"]
    version: str
    # The AWS secrets engine stamps STS sessions with session tags: only then may agent trust policies require them.
    aws_session_tags: bool


class PlatformPlan(_Plan):
    """Environment-wide resources, owned by one stack per environment."""

    vault_server: VaultServerPlan
    aws_secrets_engine_principal_arn: str  # what every agent role trusts, and what Vault's AWS engine runs as
    mounts: list[MountPlan]
    expected_mounts: list[ExpectedMountPlan]
    tags: dict[str, str]  # on the environment-wide AWS resources
    agent_ca: AgentCaPlan
    boundaries: list[BoundaryPlan]
    database_connections: list[DatabaseConnectionPlan]
    log_routing: LogRoutingPlan
    egress_allow_list: EgressAllowListPlan


class DeployPlan(_Plan):
    """How `pulumi up` of this stack talks to Vault."""

    # Lifetime of the child token the Vault provider acts through (the provider's `max_lease_ttl_seconds`, 20
    # minutes by default): sized for this stack's resources, so a large `up` never outlives it part-way.
    vault_token_ttl: int
    resources: int  # resources the stack registers (components excluded), what the token lifetime is sized for


class IdentityPlan(_Plan):
    """The whole plan of one stack: environment-wide resources plus one entry per selected agent."""

    format: int = PLAN_FORMAT
    environment: str
    account_id: str
    region: str
    shared_resources: bool
    deploy: DeployPlan
    platform: PlatformPlan
    agents: list[AgentPlan]

    def agent(self, name: str) -> AgentPlan:
        """The plan entry of one agent (KeyError if not in this plan)."""
        for entry in self.agents:
            if entry.agent == name:
                return entry
        raise KeyError(name)
