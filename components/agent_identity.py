"""`AgentIdentity` (`agentiam:index:AgentIdentity`): one agent in one environment, composed of its AWS role and
its Vault identity."""

from __future__ import annotations

from dataclasses import dataclass, replace

import pulumi

from agentiam.plan.model import AgentPlan
from components.aws_role import AgentAwsRole, AgentAwsRoleArgs
from components.platform import PlatformRefs
from components.vault_identity import AgentVaultIdentity, AgentVaultIdentityArgs


@dataclass(frozen=True)
class AgentIdentityArgs:
    """Inputs of one agent identity, built in one place from its plan entry."""

    identity_name: str
    aws: AgentAwsRoleArgs
    vault: AgentVaultIdentityArgs

    @classmethod
    def from_plan(cls, plan: AgentPlan, agent_ca_pem: str, refs: PlatformRefs) -> AgentIdentityArgs:
        """Translate a plan entry; `agent_ca_pem` is the plan's `platform.agent_ca.pem`."""
        return cls(
            identity_name=plan.identity_name,
            aws=AgentAwsRoleArgs.from_plan(plan.aws, plan.tags, refs.boundary(plan.aws.boundary_policy_arn)),
            vault=AgentVaultIdentityArgs(plan=plan.vault, agent_ca_pem=agent_ca_pem, refs=refs))


class AgentIdentity(pulumi.ComponentResource):
    """The identity of one agent x environment: IAM role + boundary, Vault roles, entity, dynamic secrets."""

    role_arn: pulumi.Output[str]
    entity_id: pulumi.Output[str]
    approle_role_id: pulumi.Output[str]  # secret

    def __init__(self, name: str, args: AgentIdentityArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("agentiam:index:AgentIdentity", name, None, opts)
        aws_role = AgentAwsRole(f"{name}-aws", args.aws, pulumi.ResourceOptions(parent=self))
        vault_identity = AgentVaultIdentity(f"{name}-vault", replace(args.vault, aws_role=aws_role.role),
                                            pulumi.ResourceOptions(parent=self))
        self.role_arn = aws_role.role_arn
        self.entity_id = vault_identity.entity_id
        self.approle_role_id = vault_identity.approle_role_id
        self.register_outputs({"role_arn": self.role_arn, "entity_id": self.entity_id,
                               "approle_role_id": self.approle_role_id})
