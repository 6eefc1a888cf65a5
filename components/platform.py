"""`Platform`: environment-wide Vault mounts, database connections, permission boundaries and log routing."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws
import pulumi_vault as vault

from agentiam.plan import names
from agentiam.plan.model import MountPlan, PlatformPlan
from components.aws_role import policy_document
from components.log_routing import LogRouting, LogRoutingArgs


@dataclass(frozen=True)
class PlatformRefs:
    """What agent resources take from the environment-wide ones.

    In the stack owning the platform these are the platform resources' Outputs, so every agent resource waits for
    the mount, boundary or accessor it uses (a parent's `depends_on` does not reach its children). In shard stacks
    they are looked up (accessors) or are the plan's own names, which already exist.
    """

    approle_accessor: pulumi.Input[str]  # entity aliases are keyed by mount accessors
    cert_accessor: pulumi.Input[str]
    token_accessor: pulumi.Input[str]  # Vault's own token mount (never created here): the working token's alias
    mounts: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)  # plan mount path -> created mount's path
    boundaries: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)  # plan boundary ARN -> created ARN
    databases: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)  # connection name -> created name
    mount_resources: Mapping[str, pulumi.Resource] = field(default_factory=dict)  # plan mount path -> the mount

    def mount(self, path: str) -> pulumi.Input[str]:
        """The mount path, as an Output of the mount resource if this stack creates it (aws and kv: existing)."""
        return self.mounts.get(path, path)

    def mounted(self, *paths: str) -> list[pulumi.Resource]:
        """The mount resources a resource naming these paths as text must wait for (none in shard stacks, where
        another stack created them): Vault refuses what refers to a mount that does not exist yet."""
        return [self.mount_resources[path] for path in paths if path in self.mount_resources]

    def database(self, name: str) -> pulumi.Input[str]:
        """The database connection name, as an Output of the connection resource if this stack creates it."""
        return self.databases.get(name, name)

    def boundary(self, arn: str) -> pulumi.Input[str]:
        """The boundary ARN, as an Output of the policy resource if this stack creates it."""
        return self.boundaries.get(arn, arn)


@dataclass(frozen=True)
class PlatformArgs:
    """The plan's `platform` entry plus the database passwords read from Pulumi secret config."""

    plan: PlatformPlan
    database_passwords: dict[str, pulumi.Input[str]]  # keyed by `password_secret`, each a secret Output


def _auth_mount_paths(plan: PlatformPlan) -> dict[str, str]:
    return {m.type: m.path for m in plan.mounts if m.kind == "auth"}


def token_mount_accessor(opts: pulumi.InvokeOutputOptions) -> pulumi.Output[str]:
    """The accessor of Vault's built-in token mount, which every Vault has and no stack creates: read by path
    (through the program's provider: `opts` names it, or a parent component that passes it down)."""
    return vault.get_auth_backend_output(path=names.TOKEN_MOUNT, opts=opts).accessor


def lookup_platform_refs(plan: PlatformPlan, provider: pulumi.ProviderResource | None = None) -> PlatformRefs:
    """References for a shard stack: another stack owns the platform, so accessors are read by path."""
    paths = _auth_mount_paths(plan)
    opts = pulumi.InvokeOutputOptions(provider=provider)
    return PlatformRefs(approle_accessor=vault.get_auth_backend_output(path=paths["approle"], opts=opts).accessor,
                        cert_accessor=vault.get_auth_backend_output(path=paths["cert"], opts=opts).accessor,
                        token_accessor=token_mount_accessor(opts))


def _login_guards(name: str, mount: MountPlan, backend: vault.AuthBackend, opts: pulumi.ResourceOptions) -> None:
    """The mount's user-lockout setting and its per-address login rate limit, as the plan says.

    pulumi-vault's `AuthBackend.tune` has no `user_lockout_config` (the Terraform provider does not model it), so
    the setting is written to `sys/auth/<path>/tune` as a generic endpoint. Vault answers a read of that path with
    flattened `user_lockout_*` keys, never the written object, so a read-back cannot compare (`disable_read`); and
    Vault has no DELETE there (`disable_delete`: the mount's own deletion removes the setting).
    """
    path = backend.path
    if mount.user_lockout_disable:
        vault.generic.Endpoint(
            f"{name}-lockout", path=pulumi.Output.concat("sys/auth/", path, "/tune"),
            data_json=json.dumps({"user_lockout_config": {"lockout_disable": True}}, sort_keys=True),
            disable_read=True, disable_delete=True, opts=opts)
    if mount.login_rate_limit is not None:
        limit = mount.login_rate_limit
        vault.QuotaRateLimit(f"{name}-login-rate-limit", name=limit.name, path=limit.path, rate=limit.rate,
                             interval=limit.interval, opts=pulumi.ResourceOptions.merge(opts, quota_options([backend])))


def quota_options(mounts: list[pulumi.Resource]) -> pulumi.ResourceOptions:
    """A rate-limit quota names its mount by path, as text: it waits for the mount (Vault refuses a quota on a path
    it cannot route, internal/vault/logical_system_quotas.go), and a replacement deletes first. Its `path` and
    `name` force a replacement (terraform-provider-vault, resource_quota_rate_limit.go); Vault writes a quota by
    name and refuses a second one with the same path and role: created first, the new one would fail, or, under
    the same name, be deleted with the old one."""
    return pulumi.ResourceOptions(depends_on=mounts, delete_before_replace=True)


# Platform mounts hold every role, secret id and lease of the environment: a destroy, or the platform moving to
# another stack, must stop at them (`protect`; README: deploy guide, moving the platform). Their `type` forces a
# replacement and Vault refuses a second mount on the same path, so the old one goes first once unprotected.
MOUNT_OPTIONS = pulumi.ResourceOptions(protect=True, delete_before_replace=True)


class Platform(pulumi.ComponentResource):
    """Owned by exactly one stack per environment (`selection.shared_resources: true`)."""

    refs: PlatformRefs
    audit_config_block: str | None

    def __init__(self, name: str, args: PlatformArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("agentiam:index:Platform", name, None, opts)
        plan = args.plan
        child = pulumi.ResourceOptions(parent=self)
        accessors: dict[str, pulumi.Output[str]] = {}
        mount_paths: dict[str, pulumi.Output[str]] = {}
        mount_resources: dict[str, pulumi.Resource] = {}
        boundary_arns: dict[str, pulumi.Output[str]] = {}
        for mount in plan.mounts:
            # The mount's max_lease_ttl silently caps every role's max TTL (README: what is created): defence in depth.
            if mount.kind == "auth":
                backend = vault.AuthBackend(
                    f"{name}-{mount.type}-mount", type=mount.type, path=mount.path,
                    tune=vault.AuthBackendTuneArgs(max_lease_ttl=f"{mount.max_lease_ttl}s",
                                                   default_lease_ttl=f"{mount.default_lease_ttl}s"),
                    opts=pulumi.ResourceOptions.merge(child, MOUNT_OPTIONS))
                accessors[mount.type] = backend.accessor
                mount_paths[mount.path] = backend.path
                mount_resources[mount.path] = backend
                _login_guards(f"{name}-{mount.type}", mount, backend, child)
            else:
                secrets_mount = vault.Mount(
                    f"{name}-{mount.type}-mount", type=mount.type, path=mount.path,
                    max_lease_ttl_seconds=mount.max_lease_ttl, default_lease_ttl_seconds=mount.default_lease_ttl,
                    opts=pulumi.ResourceOptions.merge(child, MOUNT_OPTIONS))
                mount_paths[mount.path] = secrets_mount.path
                mount_resources[mount.path] = secrets_mount
        database_names: dict[str, pulumi.Output[str]] = {}
        for connection in plan.database_connections:
            database_names[connection.name] = vault.database.SecretBackendConnection(
                f"{name}-db-{connection.name}", backend=mount_paths[connection.mount], name=connection.name,
                plugin_name=connection.plugin, allowed_roles=connection.allowed_roles,
                verify_connection=connection.verify_connection,
                postgresql=vault.database.SecretBackendConnectionPostgresqlArgs(
                    connection_url=connection.connection_url, username=connection.username,
                    password=args.database_passwords[connection.password_secret]),
                opts=child).name
        for boundary in plan.boundaries:
            policy = aws.iam.Policy(f"{name}-boundary-{boundary.function}", name=boundary.policy_name,
                                    path=boundary.policy_path, policy=policy_document(boundary.policy),
                                    tags=plan.tags, opts=child)
            boundary_arns[boundary.policy_arn] = policy.arn
        log_routing = LogRouting(f"{name}-logs", LogRoutingArgs(plan=plan.log_routing, tags=plan.tags), child)
        self.refs = PlatformRefs(approle_accessor=accessors["approle"], cert_accessor=accessors["cert"],
                                 token_accessor=token_mount_accessor(pulumi.InvokeOutputOptions(parent=self)),
                                 mounts=mount_paths, boundaries=boundary_arns, databases=database_names,
                                 mount_resources=mount_resources)
        self.audit_config_block = log_routing.audit_config_block
        self.register_outputs({"approle_accessor": self.refs.approle_accessor,
                               "cert_accessor": self.refs.cert_accessor})
