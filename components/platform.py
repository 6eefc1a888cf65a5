"""`Platform`: environment-wide Vault mounts, database connections, permission boundaries and log routing."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_vault as vault

from agentiam.plan.model import PlatformPlan
from components.aws_role import policy_document
from components.log_routing import LogRouting, LogRoutingArgs


@dataclass(frozen=True)
class AuthAccessors:
    """Accessors of the environment's AppRole and cert auth mounts; entity aliases are keyed by them."""

    approle: pulumi.Input[str]
    cert: pulumi.Input[str]


@dataclass(frozen=True)
class PlatformArgs:
    """The plan's `platform` entry plus the database passwords read from Pulumi secret config."""

    plan: PlatformPlan
    database_passwords: dict[str, pulumi.Input[str]]  # keyed by `password_secret`, each a secret Output


def _auth_mount_paths(plan: PlatformPlan) -> dict[str, str]:
    return {m.type: m.path for m in plan.mounts if m.kind == "auth"}


def lookup_auth_accessors(plan: PlatformPlan) -> AuthAccessors:
    """Accessors of mounts another stack owns (shard stacks): read by path, nothing is created."""
    paths = _auth_mount_paths(plan)
    return AuthAccessors(approle=vault.get_auth_backend_output(path=paths["approle"]).accessor,
                         cert=vault.get_auth_backend_output(path=paths["cert"]).accessor)


class Platform(pulumi.ComponentResource):
    """Owned by exactly one stack per environment (`selection.shared_resources: true`)."""

    accessors: AuthAccessors
    audit_config_block: str | None

    def __init__(self, name: str, args: PlatformArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("agentiam:index:Platform", name, None, opts)
        plan = args.plan
        child = pulumi.ResourceOptions(parent=self)
        accessors: dict[str, pulumi.Output[str]] = {}
        mounts: dict[str, pulumi.Resource] = {}
        for mount in plan.mounts:
            # The mount's max_lease_ttl silently caps every role's max TTL (FACTS.md): defence in depth.
            if mount.kind == "auth":
                backend = vault.AuthBackend(
                    f"{name}-{mount.type}-mount", type=mount.type, path=mount.path,
                    tune=vault.AuthBackendTuneArgs(max_lease_ttl=f"{mount.max_lease_ttl}s",
                                                   default_lease_ttl=f"{mount.default_lease_ttl}s"),
                    opts=child)
                accessors[mount.type] = backend.accessor
            else:
                mounts[mount.path] = vault.Mount(
                    f"{name}-{mount.type}-mount", type=mount.type, path=mount.path,
                    max_lease_ttl_seconds=mount.max_lease_ttl, default_lease_ttl_seconds=mount.default_lease_ttl,
                    opts=child)
        for connection in plan.database_connections:
            vault.database.SecretBackendConnection(
                f"{name}-db-{connection.name}", backend=connection.mount, name=connection.name,
                plugin_name=connection.plugin, allowed_roles=connection.allowed_roles,
                verify_connection=connection.verify_connection,
                postgresql=vault.database.SecretBackendConnectionPostgresqlArgs(
                    connection_url=connection.connection_url, username=connection.username,
                    password=args.database_passwords[connection.password_secret]),
                opts=pulumi.ResourceOptions(parent=self, depends_on=[mounts[connection.mount]]))
        for boundary in plan.boundaries:
            aws.iam.Policy(f"{name}-boundary-{boundary.function}", name=boundary.policy_name,
                           path=boundary.policy_path, policy=policy_document(boundary.policy), tags=plan.tags,
                           opts=child)
        log_routing = LogRouting(f"{name}-logs", LogRoutingArgs(plan=plan.log_routing, tags=plan.tags), child)
        self.accessors = AuthAccessors(approle=accessors["approle"], cert=accessors["cert"])
        self.audit_config_block = log_routing.audit_config_block
        self.register_outputs({"approle_accessor": self.accessors.approle, "cert_accessor": self.accessors.cert})
