"""`AgentAwsRole`: the agent's own IAM role, its least-privilege inline policy and, when not active, the kill switch."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from agentiam.plan.model import AwsRolePlan


def policy_document(policy: dict) -> str:
    """IAM policy JSON with sorted keys: the same plan always yields the same bytes (no spurious diffs)."""
    return json.dumps(policy, sort_keys=True, separators=(",", ":"))


@dataclass(frozen=True)
class AgentAwsRoleArgs:
    """Flat inputs of one agent role, all taken from the plan's `aws` entry."""

    role_name: str
    role_path: str
    trust_policy: str
    max_session_duration: int
    permissions_boundary: pulumi.Input[str]
    tags: dict[str, str]
    inline_policy_name: str
    inline_policy: str | None
    kill_switch_policy_name: str
    kill_switch_policy: str | None

    @classmethod
    def from_plan(cls, plan: AwsRolePlan, tags: dict[str, str],
                  boundary_arn: pulumi.Input[str]) -> AgentAwsRoleArgs:
        """The one place plan fields become role inputs; `boundary_arn` is the plan's, or the created policy's."""
        return cls(
            role_name=plan.role_name, role_path=plan.role_path, trust_policy=policy_document(plan.trust_policy),
            max_session_duration=plan.max_session_duration, permissions_boundary=boundary_arn,
            tags=dict(tags), inline_policy_name=plan.inline_policy_name,
            inline_policy=policy_document(plan.inline_policy) if plan.inline_policy is not None else None,
            kill_switch_policy_name=plan.kill_switch_policy_name,
            kill_switch_policy=policy_document(plan.kill_switch_policy) if plan.kill_switch_policy is not None
            else None)


class AgentAwsRole(pulumi.ComponentResource):
    """IAM role assumed only by Vault's AWS secrets engine, capped by its function class's boundary."""

    role_arn: pulumi.Output[str]
    role_name: pulumi.Output[str]
    role: aws.iam.Role  # what the Vault role naming it by ARN waits for

    def __init__(self, name: str, args: AgentAwsRoleArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("agentiam:index:AgentAwsRole", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        # Inline policies are separate RolePolicy resources, never the Role's exclusive `inline_policies`:
        # that argument would delete the kill switch `agentiam revoke` attaches out of band.
        role = aws.iam.Role(
            f"{name}-role", name=args.role_name, path=args.role_path, assume_role_policy=args.trust_policy,
            max_session_duration=args.max_session_duration, permissions_boundary=args.permissions_boundary,
            tags=args.tags, opts=child)
        if args.inline_policy is not None:
            aws.iam.RolePolicy(f"{name}-least-privilege", name=args.inline_policy_name, role=role.name,
                               policy=args.inline_policy, opts=child)
        if args.kill_switch_policy is not None:
            aws.iam.RolePolicy(f"{name}-kill-switch", name=args.kill_switch_policy_name, role=role.name,
                               policy=args.kill_switch_policy, opts=child)
        self.role = role
        self.role_arn = role.arn
        self.role_name = role.name
        self.register_outputs({"role_arn": self.role_arn, "role_name": self.role_name})
