"""What the components do with each plan field (see `agentiam.plan.coverage`): the resource input it becomes, or
why none. tests/test_plan_coverage.py fails when a plan field is not declared here. No Pulumi import: the
declarations are read without a Pulumi runtime."""

from __future__ import annotations

from agentiam.plan import coverage, model
from agentiam.plan.coverage import EVERY_FIELD, derived, each, handled, not_needed

_NESTED = "a nested plan object: its fields are declared one by one"
_REVIEW = "for reviewers and the other consumers; nothing in Vault or AWS holds it"
_RULES = "the same policy as its HCL, which is deployed"

COVERAGE = coverage.Coverage("components", model.IdentityPlan, {
    model.IdentityPlan: {
        **each("environment shared_resources", handled("stack.py: outputs; the stack owning the platform")),
        **each("deploy platform agents", handled(_NESTED)),
        "format": not_needed("the JSON plan's version"),
        **each("account_id region", not_needed("the provider's configuration; every ARN in the plan names them"))},
    model.DeployPlan: {
        "vault_token_ttl": handled("__main__.py: the Vault provider's max_lease_ttl_seconds"),
        "resources": not_needed("what vault_token_ttl was sized for")},
    model.PlatformPlan: {
        **each("mounts boundaries database_connections log_routing agent_ca tags", handled("Platform")),
        "egress_allow_list": handled("Platform: egress_rule_group where enforced; stack.py: the allow-list output"),
        "vault_server": not_needed("what the stack config says the server is; the plan's fields already follow it"),
        "aws_secrets_engine_principal_arn": derived("in every trust policy (AwsRolePlan.trust_policy)"),
        "expected_mounts": not_needed("mounts the program uses but never creates (`agentiam doctor` checks them)")},
    model.VaultServerPlan: {EVERY_FIELD: not_needed("what the stack config says the server is")},
    model.MountPlan: {EVERY_FIELD: handled("Platform: vault AuthBackend / Mount, its tune and lockout")},
    model.RateLimitPlan: {EVERY_FIELD: handled("vault.Quota (RateLimit): login quotas and the agent's")},
    model.EgressAllowListPlan: {
        **each("enforcement rule_group_name capacity target_types rule_order home_net targets",
               handled("Platform: egress_rule_group (networkfirewall RuleGroup) where enforcement is "
                       "network-firewall")),
        "hosts": handled("stack.py: the egress_allow_list output (host -> agents)"),
        "capacity_needed": not_needed("what guardrail AGT047 compares with the capacity; nothing to deploy")},
    model.ExpectedMountPlan: {EVERY_FIELD: not_needed("never created: checked by `agentiam doctor`")},
    model.AgentCaPlan: {
        **each("path pem", handled("every cert role's `certificate` (the PEM as reviewed)")),
        **each("sha256 certificates", not_needed("what reviewers compare: " + _REVIEW))},
    model.CertificatePlan: {EVERY_FIELD: not_needed(_REVIEW)},
    model.BoundaryPlan: {EVERY_FIELD: handled("Platform: iam Policy (permissions boundary)")},
    model.DatabaseConnectionPlan: {EVERY_FIELD: handled("Platform: vault database SecretBackendConnection")},
    model.LogRoutingPlan: {
        "agent_role_pattern": derived("in the subscription filter's pattern"),
        "audit": handled(_NESTED),
        EVERY_FIELD: handled("LogRouting: log group, subscription filter, metric filter, alarm")},
    model.AuditPlan: {EVERY_FIELD: handled("LogRouting: vault Audit (when api_managed)")},
    model.AgentPlan: {
        **each("agent environment identity_name status function owner_team owner_sponsor expires source_file "
               "spec_digest tags", handled("AgentIdentity: names, tags and metadata")),
        **each("description owner_contact", not_needed(_REVIEW)),
        **each("aws vault egress", handled(_NESTED)),
        "migration": not_needed("nothing is provisioned for it: `agentiam migrate` acts on legacy credentials")},
    model.MigrationPlan: {EVERY_FIELD: not_needed("see AgentPlan.migration")},
    model.LegacyCredentialPlan: {EVERY_FIELD: not_needed("see AgentPlan.migration")},
    model.AwsRolePlan: {
        "boundary_policy_name": derived("part of boundary_policy_arn, which is attached"),
        EVERY_FIELD: handled("AgentAwsRole: iam Role and RolePolicy")},
    model.VaultPlan: {
        **each("policy_rules login_policy_rules mint_policy_rules", derived(_RULES)),
        "kv_shares": not_needed("a grant of other agents' specs, checked by the guardrails; their own policies "
                                "hold the paths"),
        **each("approle token_role cert entity aws_secret_role rate_limit", handled(_NESTED)),
        EVERY_FIELD: handled("AgentVaultIdentity: vault Policy, database roles")},
    model.AppRolePlan: {EVERY_FIELD: handled("AgentVaultIdentity: approle AuthBackendRole")},
    model.TokenRolePlan: {EVERY_FIELD: handled("AgentVaultIdentity: tokenauth AuthBackendRole")},
    model.CertRolePlan: {EVERY_FIELD: handled("AgentVaultIdentity: CertAuthBackendRole")},
    model.EntityPlan: {
        **each("approle_alias_mount cert_alias_mount token_alias_mount",
               derived("the EntityAlias mount accessors, of the platform's mounts at these paths (PlatformRefs)")),
        EVERY_FIELD: handled("AgentVaultIdentity: identity Entity and EntityAlias")},
    model.DatabaseRolePlan: {
        **each("schemas privileges", derived("in creation_statements, which are deployed")),
        EVERY_FIELD: handled("AgentVaultIdentity: database SecretBackendRole")},
    model.AwsSecretRolePlan: {EVERY_FIELD: handled("AgentVaultIdentity: aws SecretBackendRole")},
    model.KvSharePlan: {EVERY_FIELD: not_needed("see VaultPlan.kv_shares")},
    model.EgressPlan: {EVERY_FIELD: handled("stack.py: the egress allow-list stack output")},
})
