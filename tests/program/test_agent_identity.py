"""Program tests: what `AgentIdentity` registers for every agent of each bundled stack, input by input."""

from __future__ import annotations

import json

from tests.program.conftest import StackRun
from tests.pulumi_capture import PROJECT_DIR, mount_accessor

DAY = 86400


def _children(run: StackRun, identity_name: str) -> dict[tuple[str, str], dict]:
    """Custom resources below one AgentIdentity, keyed by (type, logical name)."""
    capture = run.capture
    identity = capture.get("agentiam:index:AgentIdentity", identity_name)
    return {(r.type_token, r.name): r.inputs for r in capture.descendants(identity.urn) if r.custom}


def test_every_agent_of_the_plan_gets_one_identity_component(run: StackRun) -> None:
    identities = run.capture.of_type("agentiam:index:AgentIdentity")
    assert sorted(r.name for r in identities) == sorted(a.identity_name for a in run.plan.agents)
    assert all(r.parent is None for r in identities)


def test_component_anatomy_children_are_parented_and_named_after_the_component(run: StackRun) -> None:
    for agent in run.plan.agents:
        identity = run.capture.get("agentiam:index:AgentIdentity", agent.identity_name)
        for record in run.capture.descendants(identity.urn):
            assert record.name.startswith(agent.identity_name + "-"), record.name
            assert record.parent_urn is not None and record.parent is not None


def test_iam_role_inputs_come_from_the_plan(run: StackRun) -> None:
    for agent in run.plan.agents:
        name = agent.identity_name
        role = _children(run, name)[("aws:iam/role:Role", f"{name}-aws-role")]
        assert role["name"] == agent.aws.role_name
        assert role["path"] == f"/agentiam/{run.stack}/"
        assert role["maxSessionDuration"] == agent.aws.max_session_duration
        assert 3600 <= role["maxSessionDuration"] <= 43200
        assert role["permissionsBoundary"] == agent.aws.boundary_policy_arn
        assert role["tags"] == agent.tags
        assert "inlinePolicies" not in role  # exclusive inline policies would delete the revoke kill switch


def test_trust_policy_trusts_only_the_secrets_engine_principal(run: StackRun) -> None:
    for agent in run.plan.agents:
        name = agent.identity_name
        trust = json.loads(_children(run, name)[("aws:iam/role:Role", f"{name}-aws-role")]["assumeRolePolicy"])
        assert trust == agent.aws.trust_policy
        principals = {s["Principal"]["AWS"] for s in trust["Statement"]}
        assert principals == {run.environment.aws_secrets_engine_principal_arn}


def test_inline_policy_statements_equal_the_plan(run: StackRun) -> None:
    for agent in run.plan.agents:
        name = agent.identity_name
        policy = _children(run, name)[("aws:iam/rolePolicy:RolePolicy", f"{name}-aws-least-privilege")]
        assert policy["name"] == "agentiam-least-privilege"
        assert policy["role"] == agent.aws.role_name
        assert json.loads(policy["policy"])["Statement"] == agent.aws.inline_policy["Statement"]


def test_boundary_attached_to_each_role_is_a_policy_of_this_stack(run: StackRun) -> None:
    # The mocks compute each IAM policy's ARN from its name and path as AWS would.
    policies = {r.inputs["name"]: r for r in run.capture.of_type("aws:iam/policy:Policy")}
    arns = {f"arn:aws:iam::{run.environment.account_id}:policy{p.inputs['path']}{name}" for name, p in policies.items()}
    for agent in run.plan.agents:
        assert agent.aws.boundary_policy_arn in arns
    for boundary in run.plan.platform.boundaries:
        assert json.loads(policies[boundary.policy_name].inputs["policy"]) == boundary.policy


def test_the_approle_token_is_a_one_minute_mint_token(run: StackRun) -> None:
    for agent in run.plan.agents:
        name = agent.identity_name
        role = _children(run, name)[("vault:appRole/authBackendRole:AuthBackendRole", f"{name}-vault-approle")]
        plan = agent.vault.approle
        assert role["backend"] == run.environment.vault.approle_mount
        assert role["roleName"] == name
        assert (role["tokenTtl"], role["tokenMaxTtl"], role["tokenExplicitMaxTtl"]) == (
            plan.token_ttl, plan.token_max_ttl, plan.token_explicit_max_ttl) == (60, 60, 60)
        assert role["tokenNumUses"] == plan.token_num_uses == 0  # a use-limited token cannot create child tokens
        assert role["tokenPolicies"] == [agent.vault.mint_policy_name] == [f"{name}-mint"]
        assert role["tokenNoDefaultPolicy"] is plan.token_no_default_policy is True  # exactly its own policy
        assert role["tokenType"] == plan.token_type == "service"
        assert role["bindSecretId"] is True
        assert role["secretIdNumUses"] == plan.secret_id_num_uses
        assert role["secretIdTtl"] == plan.secret_id_ttl
        assert "roleId" not in role  # left to Vault: the second secret
        record = run.capture.get("vault:appRole/authBackendRole:AuthBackendRole", f"{name}-vault-approle")
        assert record.additional_secret_outputs == {"roleId"}  # secret in the state too


def test_the_token_role_mints_the_working_token_with_the_specs_lifetimes(run: StackRun) -> None:
    for agent in run.plan.agents:
        name = agent.identity_name
        role = _children(run, name)[("vault:tokenauth/authBackendRole:AuthBackendRole", f"{name}-vault-token-role")]
        plan = agent.vault.token_role
        # Exactly these inputs: a token role ignores token_ttl / token_max_ttl, so none is sent (docs/facts.md).
        assert role == {"roleName": name, "allowedPolicies": [agent.vault.policy_name], "allowedEntityAliases": [name],
                        "orphan": True, "renewable": True, "tokenPeriod": plan.token_period,
                        "tokenExplicitMaxTtl": plan.token_explicit_max_ttl, "tokenType": "service",
                        "tokenNoDefaultPolicy": True, "tokenBoundCidrs": plan.token_bound_cidrs}
        assert plan.token_period <= plan.token_explicit_max_ttl <= DAY


def test_cert_role_pins_the_common_name_and_the_environment_ca(run: StackRun) -> None:
    pem = (PROJECT_DIR / run.environment.vault.agent_ca_pem_file).read_text(encoding="utf-8")
    for agent in run.plan.agents:
        name = agent.identity_name
        cert = _children(run, name)[("vault:index/certAuthBackendRole:CertAuthBackendRole", f"{name}-vault-cert")]
        assert cert["backend"] == run.environment.vault.cert_mount
        assert cert["certificate"] == pem
        assert cert["allowedCommonNames"] == agent.vault.cert.allowed_common_names
        assert cert["tokenPolicies"] == [agent.vault.login_policy_name]
        assert cert["tokenTtl"] == agent.vault.cert.token_ttl <= DAY
        assert cert["tokenNumUses"] == agent.vault.cert.token_num_uses
        assert cert["tokenExplicitMaxTtl"] == agent.vault.cert.token_explicit_max_ttl == cert["tokenTtl"]
        assert cert["tokenType"] == agent.vault.cert.token_type == "service"
        assert cert["tokenNoDefaultPolicy"] is agent.vault.cert.token_no_default_policy is True


def test_vault_policies_are_the_plans_hcl(run: StackRun) -> None:
    for agent in run.plan.agents:
        name = agent.identity_name
        children = _children(run, name)
        assert children[("vault:index/policy:Policy", f"{name}-vault-policy")] == {
            "name": agent.vault.policy_name, "policy": agent.vault.policy_hcl}
        assert children[("vault:index/policy:Policy", f"{name}-vault-login-policy")] == {
            "name": agent.vault.login_policy_name, "policy": agent.vault.login_policy_hcl}
        assert children[("vault:index/policy:Policy", f"{name}-vault-mint-policy")] == {
            "name": agent.vault.mint_policy_name, "policy": agent.vault.mint_policy_hcl}


def test_entity_metadata_and_its_three_aliases(run: StackRun) -> None:
    capture = run.capture
    for agent in run.plan.agents:
        name = agent.identity_name
        children = _children(run, name)
        entity = children[("vault:identity/entity:Entity", f"{name}-vault-entity")]
        assert entity["name"] == name
        assert entity["disabled"] is (agent.status != "active")
        assert entity["metadata"] == {
            "kind": "ai-agent", "agent": agent.agent, "environment": run.stack, "function": agent.function,
            "owner": agent.owner_team, "sponsor": agent.owner_sponsor, "expires": agent.expires,
            "spec_digest": agent.spec_digest}
        approle_alias = children[("vault:identity/entityAlias:EntityAlias", f"{name}-vault-approle-alias")]
        cert_alias = children[("vault:identity/entityAlias:EntityAlias", f"{name}-vault-cert-alias")]
        # The AppRole alias is named by the role id Vault generated (the mocks return a realistic one).
        role_id = capture.outputs["approle_role_ids"][agent.agent]
        assert approle_alias["name"] == role_id
        alias_record = capture.get("vault:identity/entityAlias:EntityAlias", f"{name}-vault-approle-alias")
        assert "name" in alias_record.secret_inputs
        assert approle_alias["mountAccessor"] == mount_accessor(run.environment.vault.approle_mount)
        assert cert_alias["name"] == agent.vault.entity.cert_alias_name == agent.vault.cert.allowed_common_names[0]
        assert cert_alias["mountAccessor"] == mount_accessor(run.environment.vault.cert_mount)
        token_alias = children[("vault:identity/entityAlias:EntityAlias", f"{name}-vault-token-alias")]
        # On Vault's own token mount, looked up by path (no stack creates it): the working token's identity.
        assert token_alias["name"] == agent.vault.entity.token_alias_name == agent.vault.token_role.entity_alias
        assert token_alias["mountAccessor"] == mount_accessor("token")
        entity_id = capture.outputs["agents"][agent.agent]["entity_id"]
        assert approle_alias["canonicalId"] == cert_alias["canonicalId"] == token_alias["canonicalId"] == entity_id


def test_dynamic_secret_roles_carry_the_plans_statements_and_ttls(run: StackRun) -> None:
    for agent in run.plan.agents:
        name = agent.identity_name
        children = _children(run, name)
        for role in agent.vault.database_roles:
            inputs = children[("vault:database/secretBackendRole:SecretBackendRole",
                               f"{name}-vault-db-{role.database}-{role.access}")]
            assert inputs == {"backend": role.mount, "name": role.name, "dbName": role.database,
                              "creationStatements": role.creation_statements,
                              "revocationStatements": role.revocation_statements,
                              "defaultTtl": role.default_ttl, "maxTtl": role.max_ttl}
            assert role.default_ttl <= role.max_ttl <= DAY
        aws_role = agent.vault.aws_secret_role
        inputs = children.get(("vault:aws/secretBackendRole:SecretBackendRole", f"{name}-vault-aws-creds"))
        if aws_role is None:
            assert inputs is None
            continue
        expected = {"backend": aws_role.mount, "name": aws_role.name, "credentialType": "assumed_role",
                    "roleArns": [agent.aws.role_arn], "defaultStsTtl": aws_role.default_sts_ttl,
                    "maxStsTtl": aws_role.max_sts_ttl}
        # Session tags only where the server sends them: never an empty field, nor one the server would ignore.
        if run.plan.platform.vault_server.aws_session_tags:
            expected["sessionTags"] = aws_role.session_tags
        assert inputs == expected
        # STS credentials cannot outlive what the role allows (FACTS.md: 900 s .. MaxSessionDuration).
        assert aws_role.max_sts_ttl <= agent.aws.max_session_duration


def test_rate_limit_quota_only_for_agents_with_a_rate(run: StackRun) -> None:
    for agent in run.plan.agents:
        name = agent.identity_name
        quota = _children(run, name).get(("vault:index/quotaRateLimit:QuotaRateLimit", f"{name}-vault-rate-limit"))
        if agent.vault.rate_limit is None:
            assert quota is None
        else:
            limit = agent.vault.rate_limit
            assert quota == {"name": limit.name, "path": f"auth/{run.environment.vault.approle_mount}/",
                             "role": name, "rate": limit.rate, "interval": limit.interval}


def test_agents_registry_and_egress_outputs(run: StackRun) -> None:
    outputs = run.capture.outputs
    assert set(outputs["agents"]) == {a.agent for a in run.plan.agents}
    for agent in run.plan.agents:
        entry = outputs["agents"][agent.agent]
        assert entry["role_arn"] == agent.aws.role_arn  # computed by the mocks from the registered role
        assert (entry["owner"], entry["function"], entry["status"], entry["spec_digest"], entry["expires"]) == (
            agent.owner_team, agent.function, agent.status, agent.spec_digest, agent.expires)
        assert entry["vault_approle_role"] == entry["vault_cert_role"] == entry["vault_token_role"] == \
            agent.identity_name
        egress = outputs["egress_allowlists"][agent.agent]
        assert egress == {"hosts": agent.egress.endpoints, "rate_limit_requests": agent.egress.rate_limit_requests,
                          "rate_limit_interval": agent.egress.rate_limit_interval}
    assert outputs["egress_allowlists"]["payment-gateway-sync"]["hosts"] == [
        {"host": "api.stripe.com", "port": 443, "purpose": "create and confirm payouts"}]


def test_agent_resources_wait_for_the_platform_resources_they_use(run: StackRun) -> None:
    # A parent's depends_on does not reach its children: each resource must depend on what it names.
    capture = run.capture
    urns = {(r.type_token, r.inputs.get("name") or r.inputs.get("path")): r.urn for r in capture.resources}
    vault = run.environment.vault
    for agent in run.plan.agents:
        name = agent.identity_name
        identity = capture.get("agentiam:index:AgentIdentity", name)
        below = {(r.type_token, r.name): r for r in capture.descendants(identity.urn)}
        role = below[("aws:iam/role:Role", f"{name}-aws-role")]
        assert urns[("aws:iam/policy:Policy", agent.aws.boundary_policy_name)] in role.dependencies
        approle = below[("vault:appRole/authBackendRole:AuthBackendRole", f"{name}-vault-approle")]
        assert urns[("vault:index/authBackend:AuthBackend", vault.approle_mount)] in approle.dependencies
        cert = below[("vault:index/certAuthBackendRole:CertAuthBackendRole", f"{name}-vault-cert")]
        assert urns[("vault:index/authBackend:AuthBackend", vault.cert_mount)] in cert.dependencies
        for db in agent.vault.database_roles:
            record = below[("vault:database/secretBackendRole:SecretBackendRole",
                            f"{name}-vault-db-{db.database}-{db.access}")]
            assert urns[("vault:database/secretBackendConnection:SecretBackendConnection", db.database)] \
                in record.dependencies
            assert urns[("vault:index/mount:Mount", vault.database_mount)] in record.dependencies
