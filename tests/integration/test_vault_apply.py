"""What the Pulumi program registers for Vault is accepted by a real OpenBao and means there what the plan says.

The captured inputs are applied unchanged (`tests/vault_apply.py`), then read back from the server: a max TTL
silently capped or a field the server ignores shows up here. `status: suspended/revoked` in a spec reaches the
same end state as `agentiam revoke` through the components: entity disabled, existing tokens refused.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable

import pytest

from agentiam.client import AgentDisabled, AgentSession, PermissionDenied
from agentiam.plan import names
from tests.integration.world import World, reader_spec
from tests.pulumi_capture import ResourceRecord, capture_stack
from tests.vault_apply import AWS_SECRET_ROLE, ApplyError, apply_records

READER = "ledger-reader"
SYNC = "payout-sync"


def _integration_spec(name: str) -> str:
    return reader_spec(name, function="integration", access="write", token_ttl="15m", token_max_ttl="8h") + \
        textwrap.dedent("""\
            network:
              egress:
                - host: api.payments.example.com
                  port: 443
                  purpose: push settled payouts
              rate_limit:
                requests: 50
                interval: 1m
            """)


@pytest.fixture(scope="module")
def world(world_factory: Callable[[dict[str, str]], World]) -> World:
    return world_factory({READER: reader_spec(READER), SYNC: _integration_spec(SYNC)})


def test_every_captured_vault_resource_type_was_applied(world: World) -> None:
    types = {r.type_token for r in world.capture.resources if r.type_token.startswith("vault:")}
    assert {"vault:index/authBackend:AuthBackend", "vault:index/mount:Mount", "vault:index/policy:Policy",
            "vault:appRole/authBackendRole:AuthBackendRole", "vault:index/certAuthBackendRole:CertAuthBackendRole",
            "vault:tokenauth/authBackendRole:AuthBackendRole",
            "vault:identity/entity:Entity", "vault:identity/entityAlias:EntityAlias",
            "vault:database/secretBackendConnection:SecretBackendConnection",
            "vault:database/secretBackendRole:SecretBackendRole",
            "vault:index/quotaRateLimit:QuotaRateLimit"} <= types


def test_roles_read_back_as_planned(world: World) -> None:
    for agent in (READER, SYNC):
        v = world.agent(agent).vault
        role = world.client.read(f"auth/{v.approle.mount}/role/{v.approle.role_name}")["data"]
        assert (role["token_ttl"], role["token_max_ttl"], role["token_explicit_max_ttl"]) == (
            v.approle.token_ttl, v.approle.token_max_ttl, v.approle.token_explicit_max_ttl)
        assert role["token_explicit_max_ttl"] <= 86400
        assert role["token_policies"] == [v.mint_policy_name]  # the AppRole token only mints the working token
        assert (role["token_no_default_policy"], role["token_type"], role["token_num_uses"]) == (True, "service", 0)
        token_role = world.client.read(f"auth/token/roles/{v.token_role.name}")["data"]
        assert (token_role["token_period"], token_role["token_explicit_max_ttl"]) == (
            v.token_role.token_period, v.token_role.token_explicit_max_ttl)
        assert token_role["token_explicit_max_ttl"] <= 86400
        assert (token_role["allowed_policies"], token_role["allowed_entity_aliases"]) == (
            [v.policy_name], [v.entity.token_alias_name])
        assert (token_role["orphan"], token_role["renewable"], token_role["token_type"],
                token_role["token_no_default_policy"]) == (True, True, "service", True)
        assert (role["secret_id_ttl"], role["secret_id_num_uses"]) == (v.approle.secret_id_ttl, 1)
        cert = world.client.read(f"auth/{v.cert.mount}/certs/{v.cert.role_name}")["data"]
        assert cert["allowed_common_names"] == v.cert.allowed_common_names
        assert (cert["token_ttl"], cert["token_num_uses"]) == (v.cert.token_ttl, v.cert.token_num_uses)
        assert (cert["token_explicit_max_ttl"], cert["token_type"], cert["token_no_default_policy"]) == (
            v.cert.token_explicit_max_ttl, v.cert.token_type, True)
        assert cert["certificate"].strip() == world.ca.pem.strip()
        entity = world.client.read(f"identity/entity/name/{v.entity.name}")["data"]
        assert entity["metadata"] == v.entity.metadata and entity["disabled"] is False
        assert {a["mount_path"] for a in entity["aliases"]} == {f"auth/{v.approle.mount}/", f"auth/{v.cert.mount}/",
                                                                "auth/token/"}
        for db_role in v.database_roles:
            got = world.client.read(f"{db_role.mount}/roles/{db_role.name}")["data"]
            assert (got["default_ttl"], got["max_ttl"]) == (db_role.default_ttl, db_role.max_ttl)
            assert got["creation_statements"] == db_role.creation_statements


def test_the_rate_limit_quota_is_on_the_agents_approle_logins(world: World) -> None:
    limit = world.agent(SYNC).vault.rate_limit
    assert limit is not None
    quota = world.client.read(f"sys/quotas/rate-limit/{limit.name}")["data"]
    assert (quota["path"], quota["role"], quota["rate"], quota["interval"]) == (
        limit.path, limit.role, 50.0, 60)


def test_mount_ceilings_are_24h(world: World) -> None:
    for mount in world.plan.platform.mounts:
        prefix = "sys/auth" if mount.kind == "auth" else "sys/mounts"
        assert world.client.read(f"{prefix}/{mount.path}/tune")["data"]["max_lease_ttl"] == 86400


def test_a_write_agent_gets_write_credentials(world: World, billing_table: str) -> None:
    import psycopg

    with AgentSession(world.settings(SYNC)) as session:
        creds = session.database(world.agent(SYNC).vault.database_roles[0].name)
        pg = world.postgres
        with psycopg.connect(**creds.connect_kwargs(host=pg.host, port=pg.port, dbname="postgres")) as conn:
            conn.execute(f"UPDATE {billing_table} SET amount = amount WHERE id = 1")
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("CREATE TABLE public.not_allowed (x int)")


def test_an_unknown_vault_resource_type_fails_loudly(world: World) -> None:
    record = ResourceRecord(type_token="vault:kv/secretV2:SecretV2", name="x", inputs={}, parent=None, urn="u",
                            parent_urn=None, custom=True)
    with pytest.raises(ApplyError, match="unknown Vault resource type vault:kv/secretV2:SecretV2"):
        apply_records(world.client, [record])


def test_an_unknown_input_fails_loudly(world: World) -> None:
    policy = next(r for r in world.capture.resources if r.type_token == "vault:index/policy:Policy")
    changed = ResourceRecord(type_token=policy.type_token, name=policy.name, inputs={**policy.inputs, "newArg": 1},
                             parent=policy.parent, urn=policy.urn, parent_urn=policy.parent_urn, custom=True)
    with pytest.raises(ApplyError, match=r"\['newArg'\] are not handled"):
        apply_records(world.client, [changed])


def test_the_aws_engine_role_is_refused_unless_skipped_explicitly(world: World) -> None:
    # The project's own dev stack grants AWS actions, so its program registers AWS secrets engine roles,
    # which this OpenBao build cannot hold (FACTS.md): the applier must say so, not drop them silently.
    aws = capture_stack("dev").of_type(AWS_SECRET_ROLE)
    assert aws
    with pytest.raises(ApplyError, match="has no AWS secrets engine"):
        apply_records(world.client, aws)
    assert apply_records(world.client, aws, skip={AWS_SECRET_ROLE}).skipped == aws


@pytest.mark.parametrize("status", ["suspended", "revoked"])
def test_status_in_the_spec_disables_the_agent_through_the_components(world: World, status: str) -> None:
    name = f"{status[:4]}-reader"
    world.write_spec(name, reader_spec(name))
    world.provision()
    session = AgentSession(world.settings(name))
    token = session.token()
    session.database(world.agent(name).vault.database_roles[0].name)

    world.write_spec(name, reader_spec(name, status=status))
    world.provision()

    entry = world.agent(name)
    assert entry.status == status and entry.vault.entity.disabled is True
    ident = entry.identity_name
    entity = world.capture.get("vault:identity/entity:Entity", f"{ident}-vault-entity")
    assert entity.inputs["disabled"] is True
    kill = world.capture.get("aws:iam/rolePolicy:RolePolicy", f"{ident}-aws-kill-switch")
    assert kill.inputs["name"] == names.KILL_SWITCH_POLICY_NAME
    assert '"Deny"' in kill.inputs["policy"] and '"*"' in kill.inputs["policy"]
    assert not [r for r in world.capture.resources
                if r.type_token == "vault:database/secretBackendRole:SecretBackendRole" and r.parent
                and r.parent.startswith(ident)]

    # On the real server: the entity is disabled, so the existing token is refused and no login succeeds.
    assert world.client.read(f"identity/entity/name/{entry.vault.entity.name}")["data"]["disabled"] is True
    with pytest.raises(PermissionDenied):
        session._api.lookup_self(token)
    with pytest.raises(AgentDisabled, match=f"auth/{entry.vault.cert.mount}/login: the agent's identity is disabled"):
        AgentSession(world.settings(name)).login()
