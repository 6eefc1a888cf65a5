"""Pulumi component resources that apply an identity plan; the only package besides `__main__.py` importing Pulumi.

Components translate plan fields into resource inputs and decide nothing: every name, policy, TTL and pattern comes
from `agentiam.plan` (`agentiam plan --env ENV --format json` shows exactly what they receive).
"""

from components.agent_identity import AgentIdentity, AgentIdentityArgs
from components.aws_role import AgentAwsRole, AgentAwsRoleArgs
from components.log_routing import LogRouting, LogRoutingArgs
from components.platform import Platform, PlatformArgs, PlatformRefs, lookup_platform_refs
from components.vault_identity import AgentVaultIdentity, AgentVaultIdentityArgs

__all__ = [
    "AgentAwsRole", "AgentAwsRoleArgs", "AgentIdentity", "AgentIdentityArgs", "AgentVaultIdentity",
    "AgentVaultIdentityArgs", "LogRouting", "LogRoutingArgs", "Platform", "PlatformArgs", "PlatformRefs",
    "lookup_platform_refs",
]
