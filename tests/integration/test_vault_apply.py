"""What the Pulumi program registers for Vault, replayed into a real OpenBao as strictly as the real provider would
(`tests/vault_apply.py`) and with the deployer's token of `agentiam bootstrap`, means there what the plan says.

Read back from the server: a max TTL silently capped or a field the server ignores shows up here. Change is
exercised too: program A then program B (an agent added, one changed, one removed, the agent CA rotated) ends in
the same server state as B applied to an empty server, and the unchanged agent keeps its secret ids and leases.
The replay is strict enough to catch the program's mistakes: a dependency not recorded, a replacement created
before its predecessor's deletion, a protected mount deleted, a field the server would ignore.
"""

from __future__ import annotations

import dataclasses
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import hvac
import hvac.exceptions
import pytest

from agentiam.client import AgentDisabled, AgentSession, PermissionDenied
from agentiam.deploy import requirements
from agentiam.plan import names
from tests import servers
from tests.integration.pki import TestCA
from tests.integration.world import World, build_world, deployer_token, reader_spec
from tests.pulumi_capture import Capture, ResourceRecord, capture_stack
from tests.vault_apply import AUDIT, AWS_SECRET_ROLE, CERT_ROLE, KINDS, MOUNT, PROVIDER, RATE_LIMIT, ApplyError, Replay

PROVIDER_TYPE = PROVIDER

READER = "ledger-reader"
SYNC = "payout-sync"


def _integration_spec(name: str) -> str:
    return reader_spec(name, function="integration", access="write", token_ttl="15m", token_max_ttl="8h") + \
        textwrap.dedent("""\
            network:
              egress:
                - host: api.payments-partner.io
                  port: 443
                  purpose: push settled payouts
              rate_limit:
                requests: 50
                interval: 1m
            """)


@pytest.fixture(scope="module")
def world(world_factory: Callable[[dict[str, str]], World]) -> World:
    return world_factory({READER: reader_spec(READER), SYNC: _integration_spec(SYNC)})


def test_every_vault_resource_type_the_program_registers_was_applied_with_the_deployers_child_token(
        world: World) -> None:
    types = {r.type_token for r in world.capture.resources if r.type_token.startswith("vault:")}
    assert types == {*KINDS} - {AUDIT, AWS_SECRET_ROLE}  # this stack: config-file audit device, no AWS grants
    applied = {live.record.type_token for live in world.applied.state.values()}
    assert applied == types
    # The provider's first requests: its token looked up, then a child token of the stack's lifetime.
    assert world.applied.requests[:2] == [("GET", "auth/token/lookup-self"), ("POST", "auth/token/create")]
    child = world.applied._token  # noqa: SLF001 - what every write used
    info = world.client.auth.token.lookup(child)["data"]
    assert info["policies"] == [requirements.deployer_policy_name(world.env)]
    assert info["explicit_max_ttl"] == world.plan.deploy.vault_token_ttl and info["renewable"] is False


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
        # the provider's defaults reached the server (resource_cert_auth_backend_role.go; OpenBao has no
        # `ocsp_max_retries`, which the replay knows as ignored there)
        assert (cert["ocsp_enabled"], cert["ocsp_fail_open"], cert["ocsp_query_all_servers"]) == (False, False, False)
        assert "ocsp_max_retries" not in cert
        entity = world.client.read(f"identity/entity/name/{v.entity.name}")["data"]
        assert entity["metadata"] == v.entity.metadata and entity["disabled"] is False
        assert {a["mount_path"] for a in entity["aliases"]} == {f"auth/{v.approle.mount}/", f"auth/{v.cert.mount}/",
                                                                "auth/token/"}
        for db_role in v.database_roles:
            got = world.client.read(f"{db_role.mount}/roles/{db_role.name}")["data"]
            assert (got["default_ttl"], got["max_ttl"]) == (db_role.default_ttl, db_role.max_ttl)
            assert got["creation_statements"] == db_role.creation_statements
    connection = world.client.read(f"{world.env}-database/config/billing")["data"]
    assert connection["connection_details"]["max_open_connections"] == 2  # the provider's pool default


def test_the_rate_limit_quota_is_on_the_agents_approle_logins(world: World) -> None:
    limit = world.agent(SYNC).vault.rate_limit
    assert limit is not None
    quota = world.client.read(f"sys/quotas/rate-limit/{limit.name}")["data"]
    assert (quota["path"], quota["role"], quota["rate"], quota["interval"]) == (limit.path, limit.role, 50.0, 60)


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


def _record(record: ResourceRecord, **changes: Any) -> ResourceRecord:
    return dataclasses.replace(record, **changes)


def _capture(capture: Capture, resources: list[ResourceRecord]) -> Capture:
    return dataclasses.replace(capture, resources=resources)


def test_an_unknown_type_or_input_fails_loudly(world: World) -> None:
    replay = world.applied
    unknown = ResourceRecord(type_token="vault:kv/secretV2:SecretV2", name="x", inputs={}, parent=None, urn="u",
                             parent_urn=None, custom=True)
    with pytest.raises(ApplyError, match="unknown Vault resource type vault:kv/secretV2:SecretV2"):
        replay.apply(_capture(world.capture, [*world.capture.resources, unknown]))
    policy = next(r for r in world.capture.resources if r.type_token == "vault:index/policy:Policy")
    changed = [_record(r, inputs={**r.inputs, "newArg": 1}) if r is policy else r for r in world.capture.resources]
    with pytest.raises(ApplyError, match=r"\['newArg'\] are not handled"):
        replay.apply(_capture(world.capture, changed))


def test_the_aws_engine_role_is_checked_against_the_target_servers_engine() -> None:
    # prod's server is HashiCorp Vault 1.18: its roles carry session tags, which that engine has.
    prod = capture_stack("prod")
    roles = prod.of_type(AWS_SECRET_ROLE)
    assert roles and all("sessionTags" in r.inputs for r in roles)
    hashicorp = Replay("http://127.0.0.1:1", "unused", flavor="hashicorp")
    openbao = Replay("http://127.0.0.1:1", "unused", flavor="openbao")
    for record in roles:
        fields = {"backend": "aws", "name": record.inputs["name"], "session_tags": record.inputs["sessionTags"]}
        KINDS[AWS_SECRET_ROLE].create(hashicorp, record, fields)
        # The program before this fix sent session tags to every server: OpenBao's plugin would drop them.
        with pytest.raises(ApplyError, match=r"the openbao AWS engine has no \['session_tags'\]"):
            KINDS[AWS_SECRET_ROLE].create(openbao, record, fields)
    for record in capture_stack("dev").of_type(AWS_SECRET_ROLE):  # dev's OpenBao: no tags sent
        assert "sessionTags" not in record.inputs


@pytest.fixture
def fresh(world_factory: Callable[..., World], openbao_tls: servers.OpenBaoServer, postgres: servers.PostgresServer,
          tmp_path: Path) -> Iterator[World]:
    """A new environment on the TLS OpenBao, captured but not applied: the deployer's policy and token only."""
    client = hvac.Client(url=openbao_tls.address, token=openbao_tls.root_token, verify=str(openbao_tls.ca_cert_path),
                         timeout=10)
    world = build_world(tmp_path, openbao_tls, postgres, client, {SYNC: _integration_spec(SYNC)}, apply=False)
    world.capture = capture_stack(world.env, specs_dir=world.specs_dir, stacks_dir=world.stacks_dir,
                                  secrets={"billingDbPassword": postgres.password})
    yield world
    world.applied.close()
    client.adapter.close()


def test_a_dependency_the_program_forgot_is_a_refusal_as_on_a_first_up(fresh: World) -> None:
    # The program before this fix: the agent's quota named its AppRole mount as text, without waiting for it.
    stripped = [_record(r, dependencies=frozenset()) if r.type_token == RATE_LIMIT else r
                for r in fresh.capture.resources]
    with pytest.raises(ApplyError, match=r"sys/quotas/rate-limit/.*refused: .*invalid mount path"):
        fresh.applied.apply(_capture(fresh.capture, stripped))


def test_creates_are_creates_an_existing_mount_or_entity_is_an_error(fresh: World) -> None:
    fresh.applied.apply(fresh.capture)
    second = Replay(fresh.server.address, deployer_token(fresh.client, fresh.env, fresh.plan),
                    ca_cert=str(fresh.server.ca_cert_path), account_id=fresh.plan.account_id)
    try:
        mounts = [r for r in fresh.capture.resources if r.type_token in (MOUNT, "vault:index/authBackend:AuthBackend")
                  or r.type_token == PROVIDER_TYPE]
        with pytest.raises(ApplyError, match="path is already in use"):  # Vault refuses a mount on a used path
            second.apply(_capture(fresh.capture, mounts))
        entity = fresh.capture.of_type("vault:identity/entity:Entity")[0]
        aliases = {r.urn for r in fresh.capture.of_type("vault:identity/entityAlias:EntityAlias")}
        # Everything else known (as if imported): the entity's create is the provider's refusal.
        second.state = {urn: live for urn, live in fresh.applied.state.items() if urn != entity.urn
                        and urn not in aliases}
        with pytest.raises(ApplyError, match=r"Identity Entity '.*' already exists \(the provider refuses\)"):
            second.apply(fresh.capture)
        second.state[entity.urn] = fresh.applied.state[entity.urn]
        with pytest.raises(ApplyError, match="entity alias .* already exists for mount accessor"):
            second.apply(fresh.capture)
    finally:
        second.close()


def test_the_deployer_policy_refuses_what_the_program_never_does(world: World) -> None:
    token = deployer_token(world.client, world.env, world.plan, pinned=world.applied.accessors)
    deployer = hvac.Client(url=world.server.address, token=token, verify=str(world.server.ca_cert_path), timeout=10)
    agent = world.agent(READER).vault
    entity_id = world.entity_id(READER)
    ci_mount = f"{world.env}-ci"  # another auth method: the deployer's own CI login, say
    if f"{ci_mount}/" not in world.client.sys.list_auth_methods()["data"]:
        world.client.sys.enable_auth_method("userpass", path=ci_mount)
    ci_accessor = world.client.sys.list_auth_methods()["data"][f"{ci_mount}/"]["accessor"]
    refused: list[tuple[str, Callable[[], Any]]] = [
        ("mint an agent's secret id", lambda: deployer.write_data(
            f"auth/{agent.approle.mount}/role/{agent.approle.role_name}/secret-id", data={})),
        ("read an agent's database credentials", lambda: deployer.read(
            f"{agent.database_roles[0].mount}/creds/{agent.database_roles[0].name}")),
        ("write a policy outside the environment", lambda: deployer.sys.create_or_update_acl_policy(
            "admin", 'path "*" { capabilities = ["sudo"] }')),
        ("write another environment's policy", lambda: deployer.sys.create_or_update_acl_policy(
            "agent-other-x", 'path "x" { capabilities = ["read"] }')),
        ("give an entity policies", lambda: deployer.write_data(f"identity/entity/id/{entity_id}",
                                                               data={"policies": ["admin"]})),
        ("alias an entity on another auth mount", lambda: deployer.write_data(
            "identity/entity-alias", data={"name": "ci", "mount_accessor": ci_accessor, "canonical_id": entity_id})),
        ("mint an agent's working token", lambda: deployer.write_data(
            f"auth/token/create/{world.agent(READER).vault.token_role.name}", data={})),
        ("enable another auth mount", lambda: deployer.sys.enable_auth_method("userpass", path="x-userpass")),
    ]
    try:
        for what, attempt in refused:
            with pytest.raises(hvac.exceptions.Forbidden):
                attempt()
                pytest.fail(f"the deployer could {what}")
    finally:
        deployer.adapter.close()


# ---- change: program A, then program B ----------------------------------------------------------------------

KEEP, CHANGE, GONE, NEW = "keep-reader", "change-reader", "gone-reader", "new-reader"


def _dump(client: hvac.Client, world: World, replay: Replay) -> dict[str, Any]:
    """What the server holds for the environment, ids replaced by the names they stand for."""
    env = world.env
    ids = {v: f"<role id of {k}>" for k, v in replay.role_ids.items()}
    ids |= {v: f"<entity {k}>" for k, v in replay.entity_ids.items()}
    auth = client.sys.list_auth_methods()["data"]
    ids |= {m["accessor"]: f"<mount {p}>" for p, m in auth.items() if isinstance(m, dict)}

    def read(path: str) -> Any:
        try:
            return _named(client.read(path)["data"], ids)
        except hvac.exceptions.InvalidPath:
            return None

    def listed(path: str) -> list[str]:
        try:
            return sorted(client.list(path)["data"]["keys"])
        except (hvac.exceptions.InvalidPath, TypeError):
            return []

    dump: dict[str, Any] = {"policies": {p: read(f"sys/policies/acl/{p}")["policy"] for p in listed("sys/policies/acl")
                                         if p.startswith(f"agent-{env}-")}}
    for mount, section in ((f"auth/{env}-approle/role", "approle"), (f"auth/{env}-cert/certs", "cert"),
                           (f"{env}-database/roles", "database roles"), (f"{env}-database/config", "connections")):
        dump[section] = {name: _without(read(f"{mount}/{name}"), "role_id", "verify_connection")
                         for name in listed(mount)}
    dump["entities"] = {n: _without(read(f"identity/entity/name/{n}"), "id", "creation_time", "last_update_time",
                                    "aliases") for n in listed("identity/entity/name") if n.startswith(f"agent-{env}-")}
    dump["aliases"] = sorted((ids.get(a["mount_accessor"]), ids.get(a["name"], a["name"]), ids[e["id"]])
                             for n in dump["entities"] for e in [client.read(f"identity/entity/name/{n}")["data"]]
                             for a in e["aliases"])
    dump["quotas"] = {q: _without(read(f"sys/quotas/rate-limit/{q}"), "name") for q in listed("sys/quotas/rate-limit")
                      if env in q}
    dump["tunes"] = {p: read(f"sys/auth/{p}/tune") for p in (f"{env}-approle", f"{env}-cert")}
    return dump


def _without(data: Any, *keys: str) -> Any:
    return {k: v for k, v in data.items() if k not in keys} if isinstance(data, dict) else data


def _named(value: Any, ids: dict[str, str]) -> Any:
    if isinstance(value, dict):
        return {k: _named(v, ids) for k, v in value.items()}
    if isinstance(value, list):
        return [_named(v, ids) for v in value]
    return ids.get(value, value) if isinstance(value, str) else value


@pytest.fixture(scope="module")
def second_openbao(tmp_path_factory: pytest.TempPathFactory) -> Iterator[servers.OpenBaoServer]:
    """Another OpenBao (TLS) to apply program B to from nothing, and compare."""
    with servers.run_openbao(tmp_path_factory.mktemp("openbao-b"), tls=True) as server:
        yield server


def test_program_b_over_program_a_ends_where_b_alone_does_and_keeps_what_did_not_change(
        openbao_tls: servers.OpenBaoServer, second_openbao: servers.OpenBaoServer, postgres: servers.PostgresServer,
        billing_table: str, tmp_path: Path) -> None:
    client = hvac.Client(url=openbao_tls.address, token=openbao_tls.root_token, verify=str(openbao_tls.ca_cert_path),
                         timeout=10)
    world = build_world(tmp_path / "a", openbao_tls, postgres, client, {
        KEEP: reader_spec(KEEP), CHANGE: reader_spec(CHANGE), GONE: reader_spec(GONE)})
    try:
        # What must survive B: the unchanged agent's logged-in session with a lease, and a secret id minted for it.
        session = AgentSession(world.settings(KEEP))
        role = world.agent(KEEP).vault.database_roles[0].name
        lease = session.database(role)
        keep = world.agent(KEEP).vault.approle
        spare = client.write_data(f"auth/{keep.mount}/role/{keep.role_name}/secret-id")["data"]["secret_id_accessor"]

        # Program B: one agent changed (TTLs and write access), one removed, one added, the agent CA rotated.
        world.write_spec(CHANGE, reader_spec(CHANGE, token_ttl="10m", database_ttl="20m", database_max_ttl="2h"))
        (world.specs_dir / f"{GONE}.yaml").unlink()
        world.write_spec(NEW, reader_spec(NEW))
        rotated = TestCA(tmp_path / "pki-b", f"{world.env} agents CA 2")
        world.ca.pem_path.write_text(rotated.pem)
        world.ca = rotated
        world.certs.clear()
        world.provision()
        changes = world.changes
        assert changes is not None
        ident = {a: names.identity_name(a, world.env) for a in (KEEP, CHANGE, GONE, NEW)}
        assert set(changes.replaced) == {f"{ident[KEEP]}-vault-cert", f"{ident[CHANGE]}-vault-cert"}  # the new CA
        # the working token's lifetimes live in the token role since per-agent token roles
        assert {f"{ident[CHANGE]}-vault-token-role", f"{ident[CHANGE]}-vault-entity",
                f"{ident[CHANGE]}-vault-db-billing-read"} <= set(changes.updated)
        assert not [n for n in changes.updated + changes.replaced if n.startswith(ident[KEEP]) and
                    not n.endswith("-vault-cert")]
        assert {f"{ident[GONE]}-vault-approle", f"{ident[GONE]}-vault-entity"} <= set(changes.deleted)
        assert {f"{ident[NEW]}-vault-approle", f"{ident[NEW]}-vault-entity"} <= set(changes.created)

        # Nothing of the unchanged agent was lost: its secret id, its lease, and it logs in with a new certificate.
        accessors = client.list(f"auth/{keep.mount}/role/{keep.role_name}/secret-id")["data"]["keys"]
        assert spare in accessors
        assert client.write_data("sys/leases/lookup", data={"lease_id": lease.lease_id})["data"]["id"]
        with AgentSession(world.settings(KEEP)) as again:
            again.database(role)

        # B alone, on another server: the same state.
        client_b = hvac.Client(url=second_openbao.address, token=second_openbao.root_token,
                               verify=str(second_openbao.ca_cert_path), timeout=10)
        replay_b = Replay(second_openbao.address, deployer_token(client_b, world.env, world.plan),
                          ca_cert=str(second_openbao.ca_cert_path), account_id=world.plan.account_id)
        try:
            replay_b.apply(world.capture)
            assert _dump(client, world, world.applied) == _dump(client_b, world, replay_b)
        finally:
            replay_b.close()
            client_b.adapter.close()
        session.close()
    finally:
        world.applied.close()
        client.adapter.close()


def test_a_replacement_created_before_its_predecessors_deletion_deletes_what_it_wrote(fresh: World) -> None:
    """Why cert roles delete first: the agent CA forces a new role on the same path (docs/facts.md)."""
    fresh.applied.apply(fresh.capture)
    rotated = TestCA(fresh.root / "pki-b", f"{fresh.env} agents CA 2")
    fresh.ca.pem_path.write_text(rotated.pem)
    capture = capture_stack(fresh.env, specs_dir=fresh.specs_dir, stacks_dir=fresh.stacks_dir,
                            secrets={"billingDbPassword": fresh.postgres.password})
    created_first = [_record(r, options={**r.options, "deleteBeforeReplace": False}) if r.type_token == CERT_ROLE
                     else r for r in capture.resources]
    changes = fresh.applied.apply(_capture(capture, created_first))
    cert = fresh.plan.agent(SYNC).vault.cert
    assert changes.replaced == [f"{fresh.plan.agent(SYNC).identity_name}-vault-cert"]
    # Gone: the agent could no longer log in with any certificate (hvac answers None for a 404).
    assert fresh.client.read(f"auth/{cert.mount}/certs/{cert.role_name}") is None


def test_a_protected_mount_is_never_deleted_nor_replaced(fresh: World) -> None:
    fresh.applied.apply(fresh.capture)
    retyped = [_record(r, inputs={**r.inputs, "type": "kv"}) if r.type_token == MOUNT else r
               for r in fresh.capture.resources]
    with pytest.raises(ApplyError, match="is protected: Pulumi refuses to replace it"):
        fresh.applied.apply(_capture(fresh.capture, retyped))
    without = [r for r in fresh.capture.resources if r.type_token != MOUNT]
    with pytest.raises(ApplyError, match="is protected: Pulumi refuses to delete it"):
        fresh.applied.apply(_capture(fresh.capture, without))
    assert fresh.client.read(f"sys/mounts/{fresh.env}-database")  # still there


@pytest.fixture(scope="module")
def openbao_api_audit(tmp_path_factory: pytest.TempPathFactory) -> Iterator[servers.OpenBaoServer]:
    """An OpenBao accepting audit devices through the API, as HashiCorp Vault does (and OpenBao 2.3.x must)."""
    with servers.run_openbao(tmp_path_factory.mktemp("openbao-api-audit"),
                             extra_config="unsafe_allow_api_audit_creation = true\n") as server:
        yield server


def test_an_api_managed_audit_device_is_created_by_the_deployer(openbao_api_audit: servers.OpenBaoServer,
                                                                postgres: servers.PostgresServer,
                                                                billing_table: str, tmp_path: Path) -> None:
    client = hvac.Client(url=openbao_api_audit.address, token=openbao_api_audit.root_token, timeout=10)
    audit = {"path": "agentiam-api", "file_path": str(tmp_path / "api-audit.log"), "api_managed": True}
    world = build_world(tmp_path / "w", openbao_api_audit, postgres, client, {READER: reader_spec(READER)},
                        audit=audit)
    try:
        assert AUDIT in {live.record.type_token for live in world.applied.state.values()}
        device = client.sys.list_enabled_audit_devices()["data"]["agentiam-api/"]
        assert (device["type"], device["options"]["file_path"]) == ("file", audit["file_path"])
        rules = {r.path for r in requirements.deployer_vault_rules(world.plan)}
        assert "sys/audit/agentiam-api" in rules
    finally:
        world.applied.close()
        client.adapter.close()


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
    # Applied as an update of the entity (the replay deleted the agent's database roles: no longer registered).
    assert f"{ident}-vault-entity" in world.changes.updated

    # On the real server: the entity is disabled, so the existing token is refused and no login succeeds.
    assert world.client.read(f"identity/entity/name/{entry.vault.entity.name}")["data"]["disabled"] is True
    with pytest.raises(PermissionDenied):
        session._api.lookup_self(token)
    with pytest.raises(AgentDisabled, match=f"auth/{entry.vault.cert.mount}/login: the agent's identity is disabled"):
        AgentSession(world.settings(name)).login()


def test_an_entity_disabled_out_of_band_is_re_enabled_only_by_a_refreshing_up(world: World) -> None:
    """Pulumi compares the program with its state, not the server: `agentiam revoke` survives a plain `up` and is
    undone by `up --refresh` (the deploy pipeline's) while the spec still says active."""
    entity = world.agent(READER).vault.entity.name
    world.client.write_data(f"identity/entity/name/{entity}", data={"disabled": True})
    plain = world.applied.apply(world.capture)
    assert plain.updated == [] and world.client.read(f"identity/entity/name/{entity}")["data"]["disabled"] is True
    refreshed = world.applied.apply(world.capture, refresh=True)
    assert refreshed.updated == [f"{world.agent(READER).identity_name}-vault-entity"]
    assert world.client.read(f"identity/entity/name/{entity}")["data"]["disabled"] is False
