"""Compose one stack from its identity plan: the platform (if this stack owns it), one `AgentIdentity` per agent,
and the stack outputs. Called by `__main__.py`; all inputs are already read and validated."""

from __future__ import annotations

from typing import Any

import pulumi

from agentiam.plan.model import IdentityPlan
from components.agent_identity import AgentIdentity, AgentIdentityArgs
from components.platform import Platform, PlatformArgs, lookup_platform_refs


def provision(plan: IdentityPlan, database_passwords: dict[str, pulumi.Input[str]]) -> dict[str, Any]:
    """Register every resource of the plan; returns the stack outputs (name -> value) to export.

    Cert roles trust `plan.platform.agent_ca.pem`: the bytes reviewed and fingerprinted, never the file re-read."""
    outputs: dict[str, Any] = {"environment": plan.environment, "shared_resources": plan.shared_resources}
    if plan.shared_resources:
        platform = Platform(f"agentiam-{plan.environment}",
                            PlatformArgs(plan=plan.platform, database_passwords=database_passwords))
        refs = platform.refs  # Outputs: agent resources wait for the mounts, connections and boundaries they use
        if platform.audit_config_block is not None:
            outputs["vault_audit_config_block"] = platform.audit_config_block
    else:
        refs = lookup_platform_refs(plan.platform)

    registry: dict[str, Any] = {}
    role_ids: dict[str, pulumi.Output[str]] = {}
    egress: dict[str, Any] = {}
    for entry in plan.agents:
        identity = AgentIdentity(entry.identity_name, AgentIdentityArgs.from_plan(entry, plan.platform.agent_ca.pem, refs))
        registry[entry.agent] = {
            "identity_name": entry.identity_name, "role_arn": identity.role_arn,
            "vault_approle_role": entry.vault.approle.role_name, "vault_cert_role": entry.vault.cert.role_name,
            "vault_token_role": entry.vault.token_role.name,
            "vault_policy": entry.vault.policy_name, "entity_id": identity.entity_id, "owner": entry.owner_team,
            "sponsor": entry.owner_sponsor, "function": entry.function, "status": entry.status,
            "spec_digest": entry.spec_digest, "expires": entry.expires, "source_file": entry.source_file,
        }
        role_ids[entry.agent] = identity.approle_role_id
        egress[entry.agent] = {"hosts": entry.egress.endpoints,
                               "rate_limit_requests": entry.egress.rate_limit_requests,
                               "rate_limit_interval": entry.egress.rate_limit_interval}
    outputs["agents"] = registry
    # Role ids are the second login factor: secret in the state and in `pulumi stack output`.
    outputs["approle_role_ids"] = pulumi.Output.secret(role_ids)
    outputs["egress_allowlists"] = egress
    return outputs
