"""Compose one stack from its identity plan: the platform (if this stack owns it), one `AgentIdentity` per agent,
and the stack outputs. Called by `__main__.py`; all inputs are already read and validated."""

from __future__ import annotations

import gc
from collections.abc import Mapping
from typing import Any

import pulumi
import pulumi_vault as vault

from agentiam.plan.model import IdentityPlan
from components.agent_identity import AgentIdentity, AgentIdentityArgs
from components.platform import Platform, PlatformArgs, lookup_platform_refs


# Provider settings a stack config may give under `vault:` that the program's own provider passes on; anything
# else (a token, an auth method) comes from the environment, as the provider reads it (VAULT_TOKEN, VAULT_CACERT...).
PASSED_VAULT_SETTINGS = ("address", "caCertFile", "caCertDir", "namespace", "tlsServerName")
VAULT_MAX_RETRIES = 2  # the provider's retries of a 5xx answer (its default)


def vault_provider(plan: IdentityPlan) -> vault.Provider:
    """The Vault provider every Vault resource of the stack uses, its child token sized for the stack.

    pulumi-vault acts through a child token of `max_lease_ttl_seconds` (20 minutes by default; terraform-provider-
    vault, internal/provider/meta.go) created once per `up`: a larger stack would fail part-way with 403s. The
    program's own provider (a default one cannot be configured from code) takes the plan's lifetime; the deployer's
    token must outlive it (`agentiam doctor` checks). A change of this setting replaces no resource with Pulumi
    CLI 3.151 or later (the engine asks the provider, pulumi/pulumi#18509).
    """
    config = pulumi.Config("vault")
    passed = {key: config.get(key) for key in PASSED_VAULT_SETTINGS}
    # Fixed, not read from VAULT_SKIP_VERIFY / VAULT_MAX_RETRIES by the SDK: the server's certificate is always
    # verified, and the same code registers the same provider wherever it runs (snapshots compare it).
    return vault.Provider(f"agentiam-{plan.environment}-vault", max_lease_ttl_seconds=plan.deploy.vault_token_ttl,
                          skip_tls_verify=False, max_retries=VAULT_MAX_RETRIES,
                          address=passed["address"], ca_cert_file=passed["caCertFile"],
                          ca_cert_dir=passed["caCertDir"], namespace=passed["namespace"],
                          tls_server_name=passed["tlsServerName"])


def freeze_survivors() -> None:
    """From now until the run ends, move what survives each cyclic garbage collection into the collector's
    permanent generation (`gc.freeze` from a `gc.callbacks` hook), so that each object is scanned at most once.

    Why: every resource registered, its Outputs and the SDK's futures and tasks stay alive until the run ends, most
    of them made by the SDK after the program's own code returned (the registrations run then). CPython's cyclic
    collector walked that growing heap again and again: 1,000 agents cost 15x the time of 100, and the collector
    took 19 of the run's 46 s (docs/benchmarks.md). Frozen objects are never scanned; young cyclic garbage (the SDK
    makes millions of such objects per 1,000 agents) is still collected at its first collection, and reference
    counting frees everything that is not in a cycle, so only cyclic garbage made of objects that had already
    survived one collection waits, at most until the run ends (measured: the same peak memory). A `pulumi up` runs
    the program in its own process, which exits with the run; a host running programs in a long-lived process
    restores the collector after each run (`agentiam.program.capture` does; an Automation API host calls
    `release_frozen`). Nothing the program does depends on when garbage is collected.
    """
    if _freeze_after_collection not in gc.callbacks:
        gc.callbacks.append(_freeze_after_collection)


def release_frozen() -> None:
    """Undo `freeze_survivors`: remove the hook and hand every frozen object back to the collector. For a host that
    runs the program more than once in a long-lived process (a Pulumi Automation API inline program, for one):
    call it after each run, or what one run left as cyclic garbage stays frozen in that process."""
    while _freeze_after_collection in gc.callbacks:
        gc.callbacks.remove(_freeze_after_collection)
    gc.unfreeze()


def _freeze_after_collection(phase: str, info: Mapping[str, int]) -> None:
    if phase == "stop":  # the collection is over: its survivors are in the older generations, frozen here
        gc.freeze()


def provision(plan: IdentityPlan, database_passwords: Mapping[str, pulumi.Input[str]]) -> dict[str, Any]:
    """Register every resource of the plan; returns the stack outputs (name -> value) to export.

    Cert roles trust `plan.platform.agent_ca.pem`: the bytes reviewed and fingerprinted, never the file re-read.
    What survives a garbage collection from here on is frozen out of later ones (`freeze_survivors`)."""
    freeze_survivors()
    gc.collect()  # once: the plan's cyclic garbage is freed, everything alive frozen by the hook
    outputs: dict[str, Any] = {"environment": plan.environment, "shared_resources": plan.shared_resources}
    provider = vault_provider(plan)
    # Every component's Vault children use it (a component passes `providers` down to its children).
    uses = pulumi.ResourceOptions(providers={"vault": provider})
    if plan.shared_resources:
        platform = Platform(f"agentiam-{plan.environment}",
                            PlatformArgs(plan=plan.platform, database_passwords=database_passwords), uses)
        refs = platform.refs  # Outputs: agent resources wait for the mounts, connections and boundaries they use
        if platform.audit_config_block is not None:
            outputs["vault_audit_config_block"] = platform.audit_config_block
        if platform.egress_rule_group_arn is not None:
            outputs["egress_rule_group_arn"] = platform.egress_rule_group_arn
    else:
        refs = lookup_platform_refs(plan.platform, provider)

    registry: dict[str, Any] = {}
    role_ids: dict[str, pulumi.Output[str]] = {}
    egress: dict[str, Any] = {}
    for entry in plan.agents:
        identity = AgentIdentity(entry.identity_name,
                                 AgentIdentityArgs.from_plan(entry, plan.platform.agent_ca.pem, refs), uses)
        registry[entry.agent] = {
            "identity_name": entry.identity_name, "role_arn": identity.role_arn,
            "vault_approle_role": entry.vault.approle.role_name, "vault_cert_role": entry.vault.cert.role_name,
            "vault_token_role": entry.vault.token_role.name,
            "vault_policy": entry.vault.policy_name, "entity_id": identity.entity_id, "owner": entry.owner_team,
            "sponsor": entry.owner_sponsor, "function": entry.function, "status": entry.status,
            "spec_digest": entry.spec_digest, "expires": entry.expires, "source_file": entry.source_file,
        }
        role_ids[entry.agent] = identity.approle_role_id
        egress[entry.agent] = {"hosts": entry.egress.endpoints, "enforcement": entry.egress.enforcement}
    outputs["agents"] = registry
    # Role ids are the second login factor: secret in the state and in `pulumi stack output`.
    outputs["approle_role_ids"] = pulumi.Output.secret(role_ids)
    outputs["egress_allowlists"] = egress  # per agent, with ports: what the network team reads
    allow_list = plan.platform.egress_allow_list
    outputs["egress_allow_list"] = {"enforcement": allow_list.enforcement, "hosts": allow_list.hosts,
                                    "rule_group_name": allow_list.rule_group_name
                                    if allow_list.enforcement == "network-firewall" else None}
    return outputs
