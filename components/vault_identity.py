"""`AgentVaultIdentity`: policies, AppRole + certificate roles, the token role minting the working token, identity
entity with its three aliases, dynamic secrets."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_vault as vault

from agentiam.plan.model import VaultPlan
from components.platform import PlatformRefs, quota_options

# A write to a Vault role's path creates or overwrites it, and a field that forces a replacement but is not part of
# the path (the CA of a cert role, the role ARNs of an AWS role) would make the replacement overwrite the old role
# before the old one's deletion removes the path (terraform-provider-vault: `certificate`, `role_arns` ForceNew):
# every agent would lose its login at the next CA rotation. The old one goes first.
REPLACED_IN_PLACE = pulumi.ResourceOptions(delete_before_replace=True)


@dataclass(frozen=True)
class AgentVaultIdentityArgs:
    """The plan's `vault` entry plus what only exists outside the plan: the CA PEM and the platform references."""

    plan: VaultPlan
    agent_ca_pem: str
    refs: PlatformRefs
    aws_role: pulumi.Resource | None = None  # the agent's IAM role, which its AWS secrets-engine role names by ARN


class AgentVaultIdentity(pulumi.ComponentResource):
    """Everything on Vault for one agent x environment; every audit line of the agent resolves to its entity."""

    entity_id: pulumi.Output[str]
    approle_role_id: pulumi.Output[str]

    def __init__(self, name: str, args: AgentVaultIdentityArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("agentiam:index:AgentVaultIdentity", name, None, opts)
        plan = args.plan
        refs = args.refs
        child = pulumi.ResourceOptions(parent=self)
        vault.Policy(f"{name}-policy", name=plan.policy_name, policy=plan.policy_hcl, opts=child)
        vault.Policy(f"{name}-login-policy", name=plan.login_policy_name, policy=plan.login_policy_hcl, opts=child)
        vault.Policy(f"{name}-mint-policy", name=plan.mint_policy_name, policy=plan.mint_policy_hcl, opts=child)

        approle = plan.approle
        # role_id is left to Vault: it is the second secret, delivered apart from the certificate (FACTS.md).
        approle_role = vault.approle.AuthBackendRole(
            f"{name}-approle", backend=refs.mount(approle.mount), role_name=approle.role_name,
            token_policies=approle.token_policies, token_ttl=approle.token_ttl, token_max_ttl=approle.token_max_ttl,
            token_explicit_max_ttl=approle.token_explicit_max_ttl, token_num_uses=approle.token_num_uses,
            token_type=approle.token_type,
            token_no_default_policy=approle.token_no_default_policy,
            bind_secret_id=approle.bind_secret_id, secret_id_ttl=approle.secret_id_ttl,
            secret_id_num_uses=approle.secret_id_num_uses, secret_id_bound_cidrs=approle.secret_id_bound_cidrs,
            token_bound_cidrs=approle.token_bound_cidrs,
            opts=pulumi.ResourceOptions(parent=self, additional_secret_outputs=["role_id"]))
        # The role id is a login factor: secret in the state, in the alias below and in every output.
        role_id = pulumi.Output.secret(approle_role.role_id)

        cert = plan.cert
        vault.CertAuthBackendRole(
            f"{name}-cert", backend=refs.mount(cert.mount), name=cert.role_name, certificate=args.agent_ca_pem,
            allowed_common_names=cert.allowed_common_names, token_policies=cert.token_policies,
            token_ttl=cert.token_ttl, token_max_ttl=cert.token_max_ttl,
            token_explicit_max_ttl=cert.token_explicit_max_ttl, token_type=cert.token_type,
            token_no_default_policy=cert.token_no_default_policy, token_num_uses=cert.token_num_uses,
            token_bound_cidrs=cert.token_bound_cidrs, opts=pulumi.ResourceOptions.merge(child, REPLACED_IN_PLACE))

        role = plan.token_role
        # token_period, not token_ttl: a token role ignores token_ttl and token_max_ttl (TokenRolePlan).
        vault.tokenauth.AuthBackendRole(
            f"{name}-token-role", role_name=role.name, allowed_policies=role.allowed_policies,
            allowed_entity_aliases=[role.entity_alias], orphan=role.orphan, renewable=role.renewable,
            token_period=role.token_period, token_explicit_max_ttl=role.token_explicit_max_ttl,
            token_type=role.token_type, token_no_default_policy=role.token_no_default_policy,
            token_bound_cidrs=role.token_bound_cidrs, opts=child)

        entity_plan = plan.entity
        entity = vault.identity.Entity(f"{name}-entity", name=entity_plan.name, metadata=entity_plan.metadata,
                                       disabled=entity_plan.disabled, opts=child)
        # One AppRole role per agent: every secret id of the role maps to the alias named by the role id (FACTS.md).
        vault.identity.EntityAlias(f"{name}-approle-alias", name=role_id,
                                   mount_accessor=refs.approle_accessor, canonical_id=entity.id, opts=child)
        vault.identity.EntityAlias(f"{name}-cert-alias", name=entity_plan.cert_alias_name,
                                   mount_accessor=refs.cert_accessor, canonical_id=entity.id, opts=child)
        # Without it, Vault would create a new, enabled entity for the alias at the first token creation.
        vault.identity.EntityAlias(f"{name}-token-alias", name=entity_plan.token_alias_name,
                                   mount_accessor=refs.token_accessor, canonical_id=entity.id, opts=child)

        for role in plan.database_roles:
            vault.database.SecretBackendRole(
                f"{name}-db-{role.database}-{role.access}", backend=refs.mount(role.mount), name=role.name,
                db_name=refs.database(role.database),
                creation_statements=role.creation_statements, revocation_statements=role.revocation_statements,
                default_ttl=role.default_ttl, max_ttl=role.max_ttl, opts=child)

        if plan.aws_secret_role is not None:
            aws_role = plan.aws_secret_role
            # Session tags only where the server sends them (the plan leaves them empty elsewhere): a server that
            # does not know the field stores the role without it, with a warning only.
            vault.aws.SecretBackendRole(
                f"{name}-aws-creds", backend=refs.mount(aws_role.mount), name=aws_role.name,
                credential_type=aws_role.credential_type, role_arns=aws_role.role_arns,
                default_sts_ttl=aws_role.default_sts_ttl, max_sts_ttl=aws_role.max_sts_ttl,
                session_tags=aws_role.session_tags or None,
                opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(
                    delete_before_replace=True, depends_on=[args.aws_role] if args.aws_role is not None else [])))

        if plan.rate_limit is not None:
            limit = plan.rate_limit
            # Names the AppRole mount by path and the AppRole role by name, both as text.
            vault.QuotaRateLimit(f"{name}-rate-limit", name=limit.name, path=limit.path, role=limit.role,
                                 rate=limit.rate, interval=limit.interval,
                                 opts=pulumi.ResourceOptions.merge(
                                     child, quota_options([*refs.mounted(approle.mount), approle_role])))

        self.entity_id = entity.id
        self.approle_role_id = role_id
        self.register_outputs({"entity_id": self.entity_id, "approle_role_id": self.approle_role_id})
