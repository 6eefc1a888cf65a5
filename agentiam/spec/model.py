"""The agent spec model: one YAML file per agent, strict (unknown keys and type coercion refused)."""

from __future__ import annotations

from enum import Enum
from ipaddress import IPv4Network
from typing import Annotated, Literal

from pydantic import (AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, Strict, field_validator,
                      model_validator)
from pydantic_core import PydanticCustomError

from agentiam.spec.types import (
    VISIBLE,
    AgentName,
    ArnTemplate,
    Duration,
    Email,
    EnvironmentName,
    Hostname,
    IamAction,
    IsoDate,
    IsoTimestamp,
    StatementId,
    TeamName,
    VisibleText,
    check_placeholders,
    format_duration,
)

LOCATED_PROBLEMS = "located_problems"  # error type of model-level checks that name their own field paths


class FunctionClass(str, Enum):
    """What the agent is for; decides its guardrails and permissions boundary (field guide: function-based)."""

    DATA_RETRIEVAL = "data-retrieval"
    INTEGRATION = "integration"
    ANALYSIS = "analysis"
    REPORTING = "reporting"
    MONITORING = "monitoring"


class Status(str, Enum):
    """Lifecycle state; anything but `active` disables the identity on the next `pulumi up`."""

    ACTIVE = "active"
    SUSPENDED = "suspended"
    REVOKED = "revoked"


STATUS_ORDER = (Status.ACTIVE, Status.SUSPENDED, Status.REVOKED)  # loosest to strictest


class DatabaseAccess(str, Enum):
    """Access level of dynamic database credentials."""

    READ = "read"
    WRITE = "write"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, use_enum_values=False)


class Owner(_Strict):
    """Who answers for the agent: a team and a named human sponsor."""

    team: TeamName
    sponsor: Email = Field(description="E-mail address of the human who sponsors this agent and re-approves it before "
                                       "it expires.",
                           examples=["jane.doe@example.com"])
    contact: VisibleText = Field(min_length=2, max_length=200,
                                 description="Where to reach the owners (channel, rota, e-mail).",
                                 examples=["#billing-oncall"])


class Authentication(_Strict):
    """How the agent proves who it is: a client certificate plus a secret (two factors)."""

    mode: Literal["certificate+secret"] = Field(
        "certificate+secret",
        description="Certificate login mints a short-lived, single-use, wrapped secret id for the agent's own AppRole "
                    "role; the role id is the second secret, delivered separately. Neither alone yields a token.",
        examples=["certificate+secret"])
    certificate_common_name: Annotated[str, Field(pattern=r"^[a-z0-9*][a-z0-9.{}-]*$", max_length=128),
                                       AfterValidator(check_placeholders)] | None = Field(
        None,
        description="The CN the agent's client certificate carries; `{env}` is filled. "
                    "Default: `<name>.<env>.agents.internal`.",
        examples=["invoice-reconciler.{env}.agents.example.com"])
    bound_cidrs: list[Annotated[IPv4Network, Strict(False)]] = Field(
        default_factory=list, description="Networks the agent may log in from and use its token from.",
        examples=[["10.20.0.0/16"]])


class Credentials(_Strict):
    """Credential lifetimes. Hard caps (rules AGT010-AGT013): tokens 24h, AWS sessions 12h, DB credentials 24h."""

    token_ttl: Duration = Field(3600, description="Vault token TTL; the client renews before it expires.",
                                examples=["1h"])
    token_max_ttl: Duration = Field(
        86400, description="Hard ceiling of a token's life including renewals (also set as explicit max TTL); <= 24h.",
        examples=["24h"])
    aws_session_ttl: Duration = Field(3600, description="STS session length for the agent's AWS role; 15m..12h.",
                                      examples=["1h"])
    database_ttl: Duration = Field(3600, description="Default lease of dynamic database credentials.", examples=["1h"])
    database_max_ttl: Duration = Field(86400, description="Maximum lease of dynamic database credentials; <= 24h.",
                                       examples=["24h"])
    secret_id_ttl: Duration = Field(300, description="Life of the secret id minted at certificate login.",
                                    examples=["5m"])
    secret_id_num_uses: int = Field(1, ge=1, le=10,
                                    description="How many logins one secret id allows (1 = single use).",
                                    examples=[1])


class CredentialsOverride(_Strict):
    """Per-environment changes to credential lifetimes; unset fields keep the spec's values."""

    token_ttl: Duration | None = Field(None, description="See credentials.token_ttl.", examples=["30m"])
    token_max_ttl: Duration | None = Field(None, description="See credentials.token_max_ttl.", examples=["12h"])
    aws_session_ttl: Duration | None = Field(None, description="See credentials.aws_session_ttl.", examples=["30m"])
    database_ttl: Duration | None = Field(None, description="See credentials.database_ttl.", examples=["30m"])
    database_max_ttl: Duration | None = Field(None, description="See credentials.database_max_ttl.", examples=["8h"])
    secret_id_ttl: Duration | None = Field(None, description="See credentials.secret_id_ttl.", examples=["2m"])
    secret_id_num_uses: int | None = Field(None, ge=1, le=10, description="See credentials.secret_id_num_uses.",
                                           examples=[1])


AccountId = Annotated[str, Field(pattern=r"^\d{12}$", max_length=12,
                                 description="A 12-digit AWS account id (quoted in YAML).",
                                 examples=["999999999999"])]


class CrossAccount(_Strict):
    """Accounts other than the environment's own that a statement may reach, and why (labelled high in the diff)."""

    accounts: list[AccountId] = Field(min_length=1, max_length=10, description="The other accounts.",
                                      examples=[["999999999999"]])
    reason: VisibleText = Field(min_length=10, max_length=300, description="Why the agent must reach them (shown to "
                                "reviewers).", examples=["the partner's drop bucket for settlement files"])


class AwsStatement(_Strict):
    """One named grant of AWS actions on resources (becomes one IAM statement)."""

    sid: StatementId
    actions: list[IamAction] = Field(min_length=1, description="IAM actions; no `*`, checked against the catalogue.",
                                     examples=[["s3:GetObject", "s3:ListBucket"]])
    resources: list[ArnTemplate] = Field(min_length=1, description="Resource ARNs (placeholders allowed).",
                                         examples=[["arn:aws:s3:::billing-{env}-invoices/*"]])
    scratch: bool = Field(False, description="Marks a scratch location (analysis agents may write only there, in "
                                             "their own account).", examples=[False])
    cross_account: CrossAccount | None = Field(
        None, description="Other accounts the statement's resources may belong to. Without it, every resource must "
                          "be in the environment's own account: the statement is conditioned on "
                          "`aws:ResourceAccount`, since S3 ARNs name no account (AGT044).")


class DatabaseGrant(_Strict):
    """Dynamic credentials for one database connection declared in the stack config."""

    database: str = Field(pattern=r"^[a-z][a-z0-9_-]*$", max_length=63,
                          description="A database name from the stack's `databases`.", examples=["billing"])
    access: Annotated[DatabaseAccess, Strict(False)] = Field(
        description="`read` (SELECT only) or `write` (SELECT, INSERT, UPDATE, DELETE).", examples=["read"])


KvCapability = Literal["read", "list", "create", "update", "delete"]


class KvGrant(_Strict):
    """Access to static secrets under a KV v2 path of the environment's KV mount."""

    path: str = Field(pattern=r"^[a-z0-9][a-z0-9_./{}-]*(/\*)?$", max_length=200,
                      description="Path below the KV mount; `{env}` and `{agent}` filled; "
                                  "a trailing `/*` covers a folder.",
                      examples=["billing/{agent}/*"])
    capabilities: list[KvCapability] = Field(min_length=1, description="Vault capabilities on that path.",
                                             examples=[["read", "list"]])
    shared_by: Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]*[a-z0-9]$", max_length=48)] | None = Field(
        None, description="The agent whose folder the path is in, when it is not this agent's own; that agent's "
                          "spec must share the path with this one in `permissions.kv_shares` (AGT037).",
        examples=["payment-gateway-sync"])


class KvShare(_Strict):
    """A secret of this agent's own KV folder that other agents may also be granted (AGT037)."""

    path: str = Field(pattern=r"^[a-z0-9][a-z0-9_./{}-]*(/\*)?$", max_length=200,
                      description="A path in this agent's own folder (`{agent}` filled with this agent's name).",
                      examples=["billing/{agent}/stripe-api-key"])
    agents: list[Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]*[a-z0-9]$", max_length=48)]] = Field(
        min_length=1, description="Agents that may be granted the path in their own specs.",
        examples=[["revenue-report-builder"]])
    capabilities: list[KvCapability] = Field(["read"], min_length=1, description="The most they may be granted.",
                                             examples=[["read"]])


class Permissions(_Strict):
    """Everything the agent may touch, per system."""

    aws: list[AwsStatement] = Field(default_factory=list, description="AWS IAM grants.")
    databases: list[DatabaseGrant] = Field(default_factory=list, description="Dynamic database credentials.")
    kv: list[KvGrant] = Field(default_factory=list, description="Static secrets in Vault KV v2, in the agent's own "
                              "folder (`<folder>/{agent}/...`) or shared with it by their owner.")
    kv_shares: list[KvShare] = Field(default_factory=list, description="Paths of this agent's own KV folder that "
                                     "named other agents may be granted.")


class EgressEndpoint(_Strict):
    """One external endpoint an integration agent may call (exact host, no wildcard). A Network Firewall allow-list
    matches the host name only, on any port (docs/egress.md)."""

    host: Hostname
    port: int = Field(443, ge=1, le=65535, description="TCP port the agent calls, for reviewers and the network "
                      "team; a Network Firewall domain allow-list does not enforce it.", examples=[443])
    purpose: VisibleText = Field(min_length=3, max_length=200,
                                 description="Why the agent calls it (shown to reviewers).",
                                 examples=["create payment intents"])


class RateLimit(_Strict):
    """AppRole logins Vault accepts for the agent per interval: a Vault rate-limit quota on its AppRole role. It
    limits logins to Vault only; nothing in agentiam limits the rate of the agent's calls to its egress hosts
    (docs/egress.md)."""

    requests: int = Field(ge=1, le=100_000, description="Logins Vault accepts per interval; more are answered 429.",
                          examples=[100])
    interval: Duration = Field(description="The interval.", examples=["1m"])


class Network(_Strict):
    """External network access; only integration agents may have any."""

    egress: list[EgressEndpoint] = Field(
        default_factory=list, description="Named endpoints the agent may reach. Enforced only where the environment's "
        "stack config says `egress.enforcement: network-firewall` (docs/egress.md); elsewhere a list for the network "
        "team.")
    vault_login_rate: RateLimit | None = Field(
        None, description="Required for integration agents: a Vault rate-limit quota on the agent's AppRole logins "
        "(formerly `rate_limit`). It does not limit calls to the egress hosts.")


class EnvironmentOverride(_Strict):
    """What may differ in one environment: credential lifetimes, network limits, status."""

    credentials: CredentialsOverride | None = Field(None, description="Credential lifetime changes.")
    network: Network | None = Field(None, description="Replaces the spec's network section in this environment.")
    status: Annotated[Status, Strict(False)] | None = Field(
        None, description="Status in this environment only; the stricter of it and the spec's status applies "
                          "(e.g. suspended in prod).", examples=["suspended"])


# --- migration from shared credentials ----------------------------------------------------------------------

# The field guide's migration procedure runs old and new credentials side by side for 48 hours before the old ones
# are revoked (docs/migrate.md). A spec may ask for longer, never shorter: only `agentiam migrate revoke-legacy
# --force --reason` acts sooner, and records why.
MIN_PARALLEL_RUN = 48 * 3600
LEGACY_PER_KIND = 50  # credentials of one kind per environment: a shared account, not an inventory dump

AccessKeyId = Annotated[str, Field(
    pattern=r"^AKIA[A-Z0-9]{16}$", max_length=20,
    description="The id of an IAM user's long-term access key (`AKIA...`, never the secret key; temporary `ASIA` "
                "keys expire on their own).",
    examples=["AKIAIOSFODNN7EXAMPLE"])]
IamUserName = Annotated[str, Field(
    pattern=r"^[A-Za-z0-9_+=,.@-]{1,64}$", max_length=64,
    description="An IAM user name.", examples=["etl-shared"])]
VaultMount = Annotated[str, Field(
    pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*(/[A-Za-z0-9_.-]+)*$", max_length=128,
    description="An AppRole auth mount path, without `auth/` and without slashes at either end.",
    examples=["approle"])]
VaultRoleName = Annotated[str, Field(
    pattern=r"^[A-Za-z0-9](?:[A-Za-z0-9_.@-]*[A-Za-z0-9])?$", max_length=128,
    description="An AppRole role name.", examples=["shared-reporting"])]

_TOKEN_PREFIXES = ("hvs.", "hvb.", "hvr.", "s.", "b.", "r.")


def _not_a_token(value: object) -> object:
    """A Vault token pasted where its accessor belongs is refused without being repeated in the message: the
    finding would otherwise publish it in a terminal, a CI log and a code-scanning annotation."""
    if isinstance(value, str) and value.startswith(_TOKEN_PREFIXES):
        raise ValueError("this is a Vault token, not its accessor: never write a token in a spec (revoke this one "
                         "now, it has been exposed); `vault token lookup` shows a token's accessor")
    return value


TokenAccessor = Annotated[str, Field(
    pattern=r"^([A-Za-z0-9]{24}(\.[A-Za-z0-9]{1,16})?|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$",
    max_length=64, description="The accessor of a Vault token (never the token itself).",
    examples=["0BbQ1kuQ3o4ZbGqxPHnFTC7U"], json_schema_extra={"writeOnly": True}),
    BeforeValidator(_not_a_token)]


class LegacyAccessKey(_Strict):
    """One IAM access key the agent used, and the user it belongs to."""

    id: AccessKeyId
    user: IamUserName = Field(description="The IAM user the key belongs to (checked on the server).",
                              examples=["etl-shared"])


class LegacyVaultRole(_Strict):
    """An AppRole role the agent logged in with (shared by several consumers, often)."""

    mount: VaultMount
    role: VaultRoleName


class LegacyVaultToken(_Strict):
    """A long-lived Vault token the agent used, by accessor."""

    accessor: TokenAccessor


class LegacyCredentials(_Strict):
    """The credentials the agent ran on before its own identity, in one environment."""

    iam_access_keys: list[LegacyAccessKey] = Field(
        default_factory=list, max_length=LEGACY_PER_KIND,
        description="IAM access keys: `revoke-legacy` deactivates them (never deletes: a deactivated key can be "
                    "reactivated if something breaks).")
    iam_users: list[IamUserName] = Field(
        default_factory=list, max_length=LEGACY_PER_KIND,
        description="IAM users whose every access key is legacy: `revoke-legacy` deactivates each of them.",
        examples=[["reporting-bot"]])
    vault_roles: list[LegacyVaultRole] = Field(
        default_factory=list, max_length=LEGACY_PER_KIND,
        description="AppRole roles: `revoke-legacy` revokes the tokens they issued and deletes the role (its "
                    "settings are recorded first).")
    vault_tokens: list[LegacyVaultToken] = Field(
        default_factory=list, max_length=LEGACY_PER_KIND,
        description="Long-lived Vault tokens, by accessor: `revoke-legacy` revokes them.")

    @model_validator(mode="after")
    def _each_once(self) -> LegacyCredentials:
        problems: list[tuple[tuple[str | int, ...], str]] = []
        seen: dict[str, str] = {}
        for i, key in enumerate(self.iam_access_keys):
            if key.id in seen:
                problems.append((("iam_access_keys", i, "id"), f"access key {key.id} is listed twice"))
            seen[key.id] = key.user
        for kind, values in (("iam_users", self.iam_users),
                             ("vault_roles", [f"{r.mount}/{r.role}" for r in self.vault_roles]),
                             ("vault_tokens", [t.accessor for t in self.vault_tokens])):
            for i, value in enumerate(values):
                if values.index(value) != i:
                    problems.append(((kind, i), "listed twice"))
        if not (self.iam_access_keys or self.iam_users or self.vault_roles or self.vault_tokens):
            problems.append(((), "no legacy credential: list the access keys, users, roles or tokens the agent "
                                 "used, or leave the environment out of `migration.environments`"))
        if problems:
            raise PydanticCustomError(LOCATED_PROBLEMS, "; ".join(f"{'.'.join(map(str, p))}: {m}" for p, m in problems),
                                      {"problems": problems})
        return self


class MigrationEnvironment(_Strict):
    """The migration of the agent in one environment: its legacy credentials and its parallel run."""

    parallel_run_started: IsoTimestamp | None = Field(
        None, description="When the agent switched to its own identity, its legacy credentials still valid beside "
                          "it (UTC). Unset: the parallel run has not started and nothing is revoked.",
        examples=["2026-11-28T09:00:00Z"])
    note: Annotated[str, Field(min_length=3, max_length=300), VISIBLE] | None = Field(
        None, description="What else ran on these credentials, or anything the next operator should know.",
        examples=["the shared reporting account; the finance dashboards also use it"])
    legacy: LegacyCredentials = Field(description="The credentials it ran on before.")


def _long_enough(seconds: int) -> int:
    if seconds < MIN_PARALLEL_RUN:
        raise ValueError(f"a parallel run of {format_duration(seconds)} is shorter than the 48h "
                         "minimum (docs/migrate.md); only `agentiam migrate revoke-legacy --force --reason` acts "
                         "sooner, and records why")
    return seconds


class Migration(_Strict):
    """Moving the agent off shared credentials (field guide, phase 3): the planned wave, then per environment the
    legacy credentials and when the parallel run started (`agentiam migrate`, docs/migrate.md)."""

    wave: int | None = Field(None, ge=1, le=1000, description="The wave the agent migrates in (1 first); "
                             "`agentiam migrate plan` proposes waves by blast radius.", examples=[1])
    parallel_run: Annotated[Duration, AfterValidator(_long_enough)] = Field(
        MIN_PARALLEL_RUN, description="How long old and new credentials run side by side before `revoke-legacy` "
                                      "may act; at least 48h.", examples=["72h"])
    environments: dict[EnvironmentName, MigrationEnvironment] = Field(
        min_length=1, description="Per environment: the legacy credentials and the parallel run.")


class AgentSpec(_Strict):
    """One autonomous AI agent, as approved in review."""

    spec_version: Literal[1] = Field(description="Spec format version.", examples=[1])
    name: AgentName
    description: VisibleText = Field(min_length=10, max_length=1000,
                                     description="What the agent does, in a sentence or two.",
                                     examples=["Matches incoming payments to open invoices."])
    owner: Owner
    function: Annotated[FunctionClass, Strict(False)] = Field(
        description="Function class: decides guardrails and the permissions boundary.", examples=["data-retrieval"])
    environments: list[EnvironmentName] = Field(min_length=1, description="Environments the agent exists in.",
                                                examples=[["dev", "staging", "prod"]])
    status: Annotated[Status, Strict(False)] = Field(Status.ACTIVE, description="active, suspended or revoked.",
                                                     examples=["active"])
    expires: IsoDate = Field(
        description="Date (YYYY-MM-DD) after which the identity must be re-approved; expired specs are refused.",
        examples=["2027-06-30"])
    authentication: Authentication = Field(default_factory=Authentication, description="Login method.")
    credentials: Credentials = Field(default_factory=Credentials, description="Credential lifetimes.")
    permissions: Permissions = Field(default_factory=Permissions, description="What the agent may access.")
    network: Network = Field(default_factory=Network, description="External network access.")
    overrides: dict[EnvironmentName, EnvironmentOverride] = Field(
        default_factory=dict, description="Per-environment differences, keyed by environment name.")
    migration: Migration | None = Field(
        None, description="Moving the agent off shared credentials: legacy credentials, parallel run, wave "
                          "(docs/migrate.md).")

    @field_validator("environments")
    @classmethod
    def _environments_unique(cls, value: list[str]) -> list[str]:
        repeated = sorted({env for env in value if value.count(env) > 1})
        if repeated:
            raise ValueError(f"{', '.join(repeated)} listed more than once")
        return value

    @model_validator(mode="after")
    def _overrides_fit_the_spec(self) -> AgentSpec:
        problems: list[tuple[tuple[str, ...], str]] = []
        deployed = ", ".join(self.environments)
        for env, override in sorted(self.overrides.items()):
            if env not in self.environments:
                problems.append((("overrides", env), f"environment {env!r} is not in `environments` ({deployed}); "
                                                     "overrides apply only where the agent is deployed"))
            elif override.status is not None and STATUS_ORDER.index(override.status) < STATUS_ORDER.index(self.status):
                # Ignored, it would tell the reviewer that the agent is live here when it is not.
                problems.append((("overrides", env, "status"), f"{override.status.value} would loosen the spec's "
                                 f"status {self.status.value}; an override can only tighten it (change the spec's "
                                 "status instead)"))
        for env in sorted(self.migration.environments if self.migration else {}):
            if env not in self.environments:
                problems.append((("migration", "environments", env), f"environment {env!r} is not in `environments` "
                                 f"({deployed}); an agent migrates only where it is deployed"))
        if problems:
            # A model-level error has no location of its own: the context carries one (path, message) per problem
            # and `spec.validate` turns each into a finding on that path.
            raise PydanticCustomError(LOCATED_PROBLEMS, "; ".join(f"{'.'.join(p)}: {m}" for p, m in problems),
                                      {"problems": problems})
        return self
