"""Typed model of the `agentiam:environment` value in a Pulumi stack config file."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator
from pydantic_core import PydanticCustomError

from agentiam.environment import vault_server
from agentiam.inputs.references import FileReference, ReferencedFile
from agentiam.spec.model import LOCATED_PROBLEMS
from agentiam.spec.types import ARN_MAX, VISIBLE, EnvironmentName, TeamName, VisibleText

AccountId = Annotated[str, Field(pattern=r"^\d{12}$", max_length=12,
                                 description="12-digit AWS account id (quoted in YAML).", examples=["111111111111"])]
MountPath = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_/-]*[a-z0-9]$", max_length=100,
                                 description="A Vault mount path without slashes at either end.",
                                 examples=["agentiam-dev-approle"])]
Arn = Annotated[str, Field(pattern=r"^arn:aws[a-z-]*:[a-z0-9-]+:[^:]*:[^:]*:.+$", max_length=ARN_MAX,
                           description="An AWS ARN.",
                           examples=["arn:aws:iam::111111111111:role/vault-aws-secrets-engine"]), VISIBLE]
FilePath = Annotated[VisibleText, Field(min_length=1, max_length=1024)]
# CloudWatch Logs log group names: letters, digits and `_-/.#`. The pattern's `\w` is Unicode and takes the
# zero-width joiners too: VISIBLE refuses them.
LogGroupName = Annotated[str, Field(pattern=r"^[\w#/.-]+$", max_length=512), VISIBLE]
DatabaseName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]*$", max_length=63,
                                    description="A database connection name, as specs' `permissions.databases` "
                                                "refer to it.", examples=["billing"])]
# CloudWatch Logs accepts only these retention values (PutRetentionPolicy).
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
                      3288, 3653)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class AuditDevice(_Strict):
    """The environment's Vault audit device."""

    path: str = Field("agentiam-file", pattern=r"^[a-z0-9-]+$", max_length=64, description="Audit device path (name).",
                      examples=["agentiam-file"])
    file_path: FilePath = Field(description="Where the server writes audit lines.",
                           examples=["/var/log/vault/audit.log"])
    api_managed: bool | None = Field(
        None, description="Whether the stack creates the device through the API (`sys/audit`). Left out: as the "
                          "server requires (HashiCorp Vault and OpenBao before 2.4.0: the API; OpenBao 2.4.0 and "
                          "later: the server's config file, whose block the stack outputs). OpenBao 2.3.2 and later "
                          "accept `true` only with `unsafe_allow_api_audit_creation` in their config.",
        examples=[False])


class VaultSettings(_Strict):
    """The environment's Vault or OpenBao server, the mounts the stack creates (approle, cert, database) and those
    it expects (aws, kv)."""

    flavor: vault_server.Flavor = Field(
        description="Which server: `hashicorp` (HashiCorp Vault) or `openbao`. Decides session tags, trust conditions "
                    "and how the audit device is managed; `agentiam doctor` checks it against the live server.",
        examples=["openbao"])
    version: str = Field(
        pattern=r"^\d{1,4}\.\d{1,4}\.\d{1,4}$", max_length=14,
        description="The server's version (its oldest node during an upgrade), as `vault status` / `bao status` "
                    "shows it: the plan relies on no feature newer than this.", examples=["2.4.1"])
    approle_mount: MountPath = Field(description="AppRole auth mount the stack creates, max lease 24h.",
                                     examples=["agentiam-dev-approle"])
    cert_mount: MountPath = Field(description="TLS certificate auth mount the stack creates.",
                                  examples=["agentiam-dev-cert"])
    database_mount: MountPath = Field(description="Database secrets mount the stack creates, max lease 24h.",
                                      examples=["agentiam-dev-database"])
    aws_mount: MountPath = Field(description="Existing AWS secrets engine mount (needs AWS credentials of its own).",
                                 examples=["aws"])
    kv_mount: MountPath = Field(description="Existing KV v2 mount agents' static secrets live in.", examples=["secret"])
    agent_ca_pem_file: Annotated[FilePath, FileReference("pem-certificates")] = Field(
        description="PEM file of the CA that signs agent client certificates, relative to the project (the folder "
                    "holding stacks/): certificates only, a regular file of the repository (no link).",
        examples=["stacks/ca/dev-agents-ca.pem"])
    audit: AuditDevice = Field(description="The audit device.")

    @property
    def server_version(self) -> vault_server.Version:
        return vault_server.parse_version(self.version)

    @model_validator(mode="after")
    def _server_can_do_it(self) -> VaultSettings:
        problems = []
        too_old = vault_server.version_problem(self.flavor, self.server_version)
        if too_old:
            problems.append((("version",), too_old))
        audit = vault_server.audit_problem(self.flavor, self.server_version, self.audit.api_managed)
        if audit:
            problems.append((("audit", "api_managed"), audit))
        if problems:
            raise PydanticCustomError(LOCATED_PROBLEMS, "; ".join(m for _, m in problems), {"problems": problems})
        return self


class DatabaseConnection(_Strict):
    """A database agents may receive dynamic credentials for."""

    plugin: Literal["postgresql-database-plugin"] = Field(description="Vault database plugin.",
                                                          examples=["postgresql-database-plugin"])
    # writeOnly: a URL written with a literal password instead of the templates must not be echoed in a finding.
    connection_url: VisibleText = Field(pattern=r"\{\{username\}\}.*\{\{password\}\}", max_length=2048,
                                        json_schema_extra={"writeOnly": True},
                                description="Connection URL with {{username}}/{{password}} templates.",
                                examples=["postgresql://{{username}}:{{password}}@db.dev.internal:5432/billing"])
    username: VisibleText = Field(min_length=1, max_length=128, description="Vault's management user on that database.",
                                  examples=["vault"])
    password_secret: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9]*$", max_length=128,
                                 description="Name of the Pulumi *secret* config key holding that user's password.",
                                 examples=["billingDbPassword"])
    # Schema names are pasted into the GRANT/REVOKE statements Vault runs as the management user: plain
    # PostgreSQL identifiers only, so a `"` can never end the quoted name and start a statement of its own.
    schemas: list[Annotated[str, Field(pattern=r"^[a-z_][a-z0-9_]*$", max_length=63,
                                       description="A PostgreSQL schema name (lower-case identifier).",
                                       examples=["public"])]] = Field(
        ["public"], min_length=1, description="Schemas agents' grants apply to.", examples=[["public"]])


class Logging(_Strict):
    """Where agent activity goes, kept apart from human activity."""

    agent_log_group: LogGroupName = Field(description="Log group created for agent activity.",
                                 examples=["/agentiam/dev/agent-activity"])
    retention_days: int = Field(description="Retention of the agent log group.", examples=[90])
    trail_log_group: LogGroupName = Field(description="Existing log group the account's CloudTrail "
                                 "delivers to.", examples=["/aws/cloudtrail/account-trail"])
    destination_arn: Arn = Field(description="Subscription target (Kinesis, Firehose, Lambda or a Logs destination) "
                                             "receiving agent events.")
    destination_role_arn: Arn | None = Field(None, description="Role CloudWatch Logs assumes to write to a Kinesis or "
                                                               "Firehose destination.")
    alarm_topic_arn: Arn = Field(description="SNS topic notified when an agent role is denied access.")

    @model_validator(mode="after")
    def _retention_is_supported(self) -> Logging:
        if self.retention_days not in LOG_RETENTION_DAYS:
            raise ValueError(f"retention_days {self.retention_days} is not a CloudWatch Logs retention value; "
                             f"use one of {', '.join(map(str, LOG_RETENTION_DAYS))}")
        return self


class Selection(_Strict):
    """Which agents this stack provisions: a shard of a large fleet (IAM quota, engine time)."""

    teams: list[TeamName] | None = Field(None, description="Only agents owned by these teams.", examples=[["billing"]])
    shard_count: int = Field(1, ge=1, le=1000, description="Split the fleet into this many stacks by a stable hash "
                                                          "of the agent name.", examples=[4])
    shard_index: int = Field(0, ge=0, description="Which shard this stack is (0-based).", examples=[0])
    shared_resources: bool = Field(True, description="Whether this stack owns the environment-wide resources "
                                   "(boundaries, mounts, log routing). Exactly one stack per environment must.")

    @model_validator(mode="after")
    def _index_in_range(self) -> Selection:
        if self.shard_index >= self.shard_count:
            raise ValueError(f"shard_index {self.shard_index} must be below shard_count {self.shard_count}")
        return self


class Guardrails(_Strict):
    """Per-environment limits the guardrails apply to the specs deployed there."""

    max_expiry_days: int = Field(365, ge=1, le=3 * 365, description="How far ahead a spec's `expires` may be "
                                 "(AGT008): the sponsor re-approves the agent at least this often.", examples=[365])
    max_rate_per_second: float = Field(100.0, gt=0, le=10_000, description="Upper bound of an integration agent's "
                                       "`network.rate_limit`, in requests per second (AGT039).", examples=[100])
    internal_domains: list[Annotated[str, Field(pattern=r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$",
                                                max_length=253)]] = Field(
        default_factory=list, description="DNS domains internal to this environment; an agent of another "
        "environment may not name them as egress (AGT038).", examples=[["dev.internal"]])


class EnvironmentConfig(_Strict):
    """Everything the plan needs to know about one environment."""

    name: EnvironmentName
    account_id: AccountId
    region: str = Field(pattern=r"^[a-z]{2}(-[a-z]+)+-\d$", max_length=32, description="AWS region.",
                        examples=["eu-west-1"])
    aws_secrets_engine_principal_arn: Arn = Field(
        description="The IAM principal Vault's AWS secrets engine runs as; the only principal agent roles trust. It "
                    "must be in `account_id` unless `aws_secrets_engine_principal_cross_account_reason` says why not.")
    aws_secrets_engine_principal_cross_account_reason: VisibleText | None = Field(
        None, min_length=10, max_length=300, description="Why the trusted principal lives in another account "
        "(every agent role of the environment then trusts that account; labelled high in the diff).",
        examples=["Vault runs in the shared-services account 444444444444"])
    vault: VaultSettings
    # Keys name Vault paths (`<database_mount>/config/<name>`) and what specs' `permissions.databases` refer to.
    databases: dict[DatabaseName, DatabaseConnection] = Field(
        default_factory=dict, description="Databases agents may get credentials for.")
    logging: Logging
    selection: Selection = Field(default_factory=Selection, description="Sharding of large fleets.")
    guardrails: Guardrails = Field(default_factory=Guardrails, description="Limits the guardrails apply here.")

    @model_validator(mode="after")
    def _principal_in_own_account(self) -> EnvironmentConfig:
        principal_account = self.aws_secrets_engine_principal_arn.split(":")[4]
        if principal_account != self.account_id and not self.aws_secrets_engine_principal_cross_account_reason:
            raise PydanticCustomError(LOCATED_PROBLEMS, "principal in another account", {"problems": [(
                ("aws_secrets_engine_principal_arn",),
                f"the trusted principal is in account {principal_account or '(none)'}, not this environment's "
                f"{self.account_id}: every agent role would trust another account; set "
                "aws_secrets_engine_principal_cross_account_reason if that is really intended")]})
        return self

    # The files `FileReference` fields name, as the loader read them (agentiam.environment.load): never from YAML.
    # Part of equality, so two shards naming files with different contents are configured differently.
    _files: dict[str, ReferencedFile] = PrivateAttr(default_factory=dict)

    def with_files(self, files: Mapping[str, ReferencedFile]) -> EnvironmentConfig:
        """This config carrying the files its reference fields name (keyed by field path)."""
        copy = self.model_copy()
        copy._files = dict(files)
        return copy

    def referenced_file(self, field: str) -> ReferencedFile:
        """The file the field `field` (`vault.agent_ca_pem_file`) names, read when the stack config was loaded.

        KeyError for a config not loaded from a stack file: the plan needs the bytes that were reviewed."""
        return self._files[field]

    @property
    def referenced_files(self) -> Mapping[str, ReferencedFile]:
        """Every referenced file, keyed by field path."""
        return dict(self._files)
