"""Certificate + secret login against the real OpenBao, configured exactly as the Pulumi program registers it.

Neither factor alone yields a working token; wrong certificates and reused secret ids are refused; the AppRole token
can only create the working token through the agent's token role, exactly as the plan pins it; the working token
carries the agent's policy, entity and lifetimes from the spec, and renewals never pass its max TTL.
"""

from __future__ import annotations

from typing import Any

import logging
import time
from collections.abc import Callable

import hvac
import hvac.exceptions
import pytest

from agentiam.client import AgentSession, LoginRefused, PermissionDenied, VaultRequestError
from agentiam.client.vault import Login, VaultApi
from tests.integration.world import World, reader_spec

AGENT = "ledger-reader"
OTHER = "audit-reader"
DAY = 86400
# OpenBao's reasons for refusing a login. A typo'd mount path is refused as well, but with "permission denied":
# matching the reason makes each refusal the one the test is about.
INVALID_ROLE_OR_SECRET = "invalid role or secret ID"
INVALID_CERTIFICATE = "invalid certificate or no client certificate supplied"


@pytest.fixture(scope="module")
def world(world_factory: Callable[[dict[str, str]], World]) -> World:
    return world_factory({
        AGENT: reader_spec(AGENT, token_ttl="20m", token_max_ttl="2h"),
        OTHER: reader_spec(OTHER),
        "short-lived": reader_spec("short-lived", token_ttl="2s", token_max_ttl="5s"),
    })


def _api(world: World, name: str | None = None, cert: tuple[str, str] | None = None) -> VaultApi:
    """The client's adapter with the agent's certificate (or `cert`, or none)."""
    if cert is None and name is not None:
        issued = world.cert(name)
        cert = (str(issued.cert_path), str(issued.key_path))
    return VaultApi(world.server.address, ca_cert=str(world.server.ca_cert_path), client_cert=cert)


def _secret_id(world: World, name: str) -> str:
    """Certificate login, then mint and unwrap one secret id (the first factor's only power)."""
    api = _api(world, name)
    v = world.agent(name).vault
    cert = api.cert_login(v.cert.mount, v.cert.role_name)
    wrapping = api.wrapped_secret_id(cert.token, v.approle.mount, v.approle.role_name, 60)
    return api.unwrap_secret_id(wrapping)


def test_certificate_plus_secret_gives_a_token_with_the_agents_policy_and_lifetimes(world: World) -> None:
    plan = world.agent(AGENT)
    role = plan.vault.token_role
    with AgentSession(world.settings(AGENT)) as session:
        status = session.status()
        info = world.client.lookup_token(session.token())["data"]
    # Exactly the agent's own policy: the token role sets token_no_default_policy, so Vault's `default` is not there.
    assert status.policies == (plan.vault.policy_name,)
    assert info["policies"] == [plan.vault.policy_name]
    # Created through the agent's token role with its entity alias: the agent's entity, under the role's lease path.
    assert status.entity_id == info["entity_id"] == world.entity_id(AGENT)
    assert info["path"] == f"auth/token/create/{role.name}" and info["role"] == role.name
    assert info["orphan"] is True  # it outlives the AppRole token that created it
    # 20m TTL (the role's period) and 2h explicit max, as the spec says; never above 24h. The token itself shows
    # neither (Vault reads both from the role at each renewal): the client learns the max from the role.
    assert info["creation_ttl"] == 20 * 60 == role.token_period
    assert info["explicit_max_ttl"] == 0 and "period" not in info
    assert status.max_expires_in is not None and 2 * 3600 - 60 < status.max_expires_in <= 2 * 3600
    stored = world.client.read(f"auth/token/roles/{role.name}")["data"]
    assert stored["token_explicit_max_ttl"] == 2 * 3600 == role.token_explicit_max_ttl <= DAY
    approle = world.client.read(f"auth/{plan.vault.approle.mount}/role/{plan.vault.approle.role_name}")["data"]
    assert approle["secret_id_num_uses"] == 1 and approle["bind_secret_id"] is True


def test_the_approle_mount_caps_every_max_ttl_at_24h(world: World) -> None:
    mount = world.agent(AGENT).vault.approle.mount
    tune = world.client.read(f"sys/auth/{mount}/tune")["data"]
    assert tune["max_lease_ttl"] == DAY


def test_the_certificate_token_can_only_mint_a_wrapped_secret_id(world: World) -> None:
    api = _api(world, AGENT)
    v = world.agent(AGENT).vault
    cert = api.cert_login(v.cert.mount, v.cert.role_name)
    assert cert.policies == (v.login_policy_name,)
    assert cert.ttl <= 120
    # Its entity is the agent's: the cert alias (CN) hangs on the same entity as the AppRole alias.
    assert cert.entity_id == world.entity_id(AGENT)
    with pytest.raises(PermissionDenied):
        api.read_lease(cert.token, f"{v.database_roles[0].mount}/creds/{v.database_roles[0].name}")
    mint = f"auth/{v.approle.mount}/role/{v.approle.role_name}/secret-id"
    with pytest.raises(PermissionDenied):
        # An unwrapped secret id would leak into logs and proxies: the policy requires wrapping. (A refused request
        # spends one of the token's two uses too: this is its last, still a live token.)
        api.call("POST", mint, token=cert.token, idempotent=False)
    # The same path, wrapped, with a fresh certificate token: the refusal above was the policy's, not a wrong path.
    fresh = api.cert_login(v.cert.mount, v.cert.role_name)
    assert api.call("POST", mint, token=fresh.token, wrap_ttl="60s", idempotent=False)["wrap_info"]["token"]


def test_the_certificate_alone_cannot_log_in(world: World) -> None:
    secret_id = _secret_id(world, AGENT)
    v = world.agent(AGENT).vault
    with pytest.raises(LoginRefused, match=INVALID_ROLE_OR_SECRET):
        _api(world).approle_login(v.approle.mount, "not-the-role-id", secret_id)
    with pytest.raises(LoginRefused, match=INVALID_ROLE_OR_SECRET):
        _api(world).approle_login(v.approle.mount, world.role_id(OTHER), secret_id)


def test_the_secret_alone_cannot_log_in(world: World) -> None:
    v = world.agent(AGENT).vault
    api = _api(world)  # no client certificate
    with pytest.raises(LoginRefused, match="missing secret_id"):
        api.call("POST", f"auth/{v.approle.mount}/login", json={"role_id": world.role_id(AGENT)}, idempotent=False,
                 login=True)
    with pytest.raises(LoginRefused, match=INVALID_ROLE_OR_SECRET):
        api.approle_login(v.approle.mount, world.role_id(AGENT), "00000000-0000-0000-0000-000000000000")
    with pytest.raises(LoginRefused, match=f"auth/{v.cert.mount}/login: .*no client certificate found"):
        api.cert_login(v.cert.mount, v.cert.role_name)
    # The whole session with the role id but an adapter without the certificate stops at the first step.
    with pytest.raises(LoginRefused, match=f"auth/{v.cert.mount}/login: .*no client certificate found"):
        AgentSession(world.settings(AGENT), api=api).login()


def test_a_certificate_with_another_cn_or_from_another_ca_is_refused(world: World, tmp_path) -> None:
    from tests.integration.pki import TestCA

    v = world.agent(AGENT).vault
    other_cn = world.ca.issue(world.agent(OTHER).vault.entity.cert_alias_name)
    # The CA is trusted but the role pins another CN.
    with pytest.raises(LoginRefused, match="no chain matching all constraints could be found"):
        _api(world, cert=(str(other_cn.cert_path), str(other_cn.key_path))).cert_login(v.cert.mount, v.cert.role_name)
    rogue = TestCA(tmp_path, "rogue CA").issue(v.entity.cert_alias_name)  # the right CN, the wrong issuer
    with pytest.raises(LoginRefused, match=INVALID_CERTIFICATE):
        _api(world, cert=(str(rogue.cert_path), str(rogue.key_path))).cert_login(v.cert.mount, v.cert.role_name)
    with pytest.raises(LoginRefused, match=INVALID_CERTIFICATE):
        AgentSession(world.settings(AGENT, cert=rogue)).login()


def test_a_secret_id_is_single_use(world: World) -> None:
    v = world.agent(AGENT).vault
    api = _api(world)
    secret_id = _secret_id(world, AGENT)
    first = api.approle_login(v.approle.mount, world.role_id(AGENT), secret_id)
    assert first.entity_id == world.entity_id(AGENT)
    with pytest.raises(LoginRefused, match=INVALID_ROLE_OR_SECRET):
        api.approle_login(v.approle.mount, world.role_id(AGENT), secret_id)


def test_the_approle_token_can_only_create_the_working_token_as_the_plan_pins_it(world: World) -> None:
    """The mint token: one path, one parameter with one value. Without the alias the token would have no entity (a
    disabled entity would not block it); another spelling could create a new entity; a ttl, meta or policies of the
    caller's choosing would override the role's; and no other way to a token is open."""
    api = _api(world)
    v, other = world.agent(AGENT).vault, world.agent(OTHER).vault
    role, db = v.token_role.name, v.database_roles[0]
    mint = api.approle_login(v.approle.mount, world.role_id(AGENT), _secret_id(world, AGENT))
    assert mint.policies == (v.mint_policy_name,) and mint.entity_id == world.entity_id(AGENT)
    assert mint.ttl <= 60
    refused = [
        ("POST", f"auth/token/create/{role}", {}),
        ("POST", f"auth/token/create/{role}", {"display_name": role}),
        ("POST", f"auth/token/create/{role}", {"entity_alias": role}),
        ("POST", f"auth/token/create/{role}", {"entity_alias": role.upper(), "display_name": role}),
        ("POST", f"auth/token/create/{role}", {"entity_alias": role, "display_name": other.token_role.name}),
        ("POST", f"auth/token/create/{role}", {"entity_alias": role, "display_name": role, "ttl": "24h"}),
        ("POST", f"auth/token/create/{role}", {"entity_alias": role, "display_name": role,
                                               "meta": {"role_name": "someone-else"}}),
        ("POST", f"auth/token/create/{role}", {"entity_alias": role, "display_name": role,
                                               "policies": [v.policy_name]}),
        ("POST", f"auth/token/create/{other.token_role.name}", {"entity_alias": other.token_role.name}),
        ("POST", "auth/token/create", {}),
        ("POST", "auth/token/create-orphan", {}),
        ("POST", "auth/token/renew-self", {"increment": "1h"}),
        ("GET", f"{db.mount}/creds/{db.name}", None),
    ]
    for method, path, body in refused:
        with pytest.raises(PermissionDenied):
            api.call(method, path, token=mint.token, json=body, idempotent=False)
    # The same token, as the client uses it: the refusals above were the policy's, not a dead token's.
    working = api.create_role_token(mint.token, role, v.token_role.entity_alias)
    assert working.policies == (v.policy_name,) and working.entity_id == world.entity_id(AGENT)
    api.revoke_self(mint.token)
    assert api.lookup_self(working.token)["entity_id"] == world.entity_id(AGENT)  # an orphan: still alive


def test_a_wrapping_token_unwraps_once(world: World) -> None:
    api = _api(world, AGENT)
    v = world.agent(AGENT).vault
    cert = api.cert_login(v.cert.mount, v.cert.role_name)
    wrapping = api.wrapped_secret_id(cert.token, v.approle.mount, v.approle.role_name, 60)
    api.unwrap_secret_id(wrapping)
    with pytest.raises(LoginRefused, match="wrapping token is not valid or does not exist"):
        api.unwrap_secret_id(wrapping)


def _working_token(world: World, name: str) -> Login:
    """The client's login by hand: secret id, AppRole login (the mint token), the token role's working token."""
    api = _api(world)
    v = world.agent(name).vault
    mint = api.approle_login(v.approle.mount, world.role_id(name), _secret_id(world, name))
    return api.create_role_token(mint.token, v.token_role.name, v.token_role.entity_alias)


def test_renewals_cannot_push_a_token_past_its_max_ttl(world: World) -> None:
    v = world.agent("short-lived").vault
    assert (v.token_role.token_period, v.token_role.token_explicit_max_ttl) == (2, 5)
    api = _api(world)
    login = _working_token(world, "short-lived")
    started = time.monotonic()
    granted = [login.ttl]
    # Renew every 0.5 s a token that lives 2 s (4x margin on a loaded machine), for 3 s (2 s before the 5 s ceiling).
    while time.monotonic() - started < 3.0:
        time.sleep(0.5)
        elapsed = time.monotonic() - started  # before the call: the token is at least this old when Vault answers
        granted.append(api.renew_self(login.token, 3600).ttl)
    # Asked for an hour each time; got the 2 s period at most, never past the 5 s ceiling.
    assert all(ttl <= 2 for ttl in granted), granted
    assert granted[-1] <= max(0, 5 - int(elapsed)) + 1, granted
    time.sleep(max(0.0, 5.5 - (time.monotonic() - started)))
    with pytest.raises(PermissionDenied):
        api.lookup_self(login.token)


def test_a_renewal_applies_the_token_roles_current_explicit_max(world: World) -> None:
    """Vault reads a role token's period and explicit max from the role at each renewal, not from the token: a
    tightened spec shortens live tokens at the next renewal, a loosened one lengthens them (docs/vault.md: what an agent
    token can do). Only a reviewed spec change applied by `pulumi up` can change the role."""
    v = world.agent(AGENT).vault
    api = _api(world)
    login = _working_token(world, AGENT)
    role_path = f"auth/token/roles/{v.token_role.name}"
    world.client.write_data(role_path, data={"token_explicit_max_ttl": 60})
    try:
        assert api.renew_self(login.token, 3600).ttl <= 60
    finally:
        world.client.write_data(role_path, data={"token_explicit_max_ttl": v.token_role.token_explicit_max_ttl})
    assert api.renew_self(login.token, 3600).ttl == v.token_role.token_period  # 20 min again, under the 2 h max


class _RememberingApi(VaultApi):
    """The real adapter, remembering the accessor of every certificate and mint token it obtained."""

    def __init__(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.cert_accessors: list[str] = []
        self.mint_accessors: list[str] = []

    def cert_login(self, mount: str, role: str, **kwargs: Any) -> Login:
        login = super().cert_login(mount, role, **kwargs)
        self.cert_accessors.append(login.accessor)
        return login

    def approle_login(self, mount: str, role_id: str, secret_id: str, **kwargs: Any) -> Login:
        login = super().approle_login(mount, role_id, secret_id, **kwargs)
        self.mint_accessors.append(login.accessor)
        return login


def _accessor_alive(world: World, accessor: str) -> bool:
    """Whether the server still knows a token by its accessor (root lookup; 400 once revoked)."""
    try:
        world.client.write_data("auth/token/lookup-accessor", data={"accessor": accessor})
    except hvac.exceptions.InvalidRequest:
        return False
    return True


def test_without_the_default_policy_every_token_still_does_its_whole_job(world: World, caplog) -> None:
    # Every self-service path the client uses is in the agent's own policies: the certificate token revokes itself
    # after minting, the mint token reads its role, creates the working token and revokes itself, the working token
    # looks itself up, renews itself and its lease, and revokes itself on close.
    caplog.set_level(logging.WARNING, logger="agentiam.client")
    issued = world.cert(AGENT)
    api = _RememberingApi(world.server.address, ca_cert=str(world.server.ca_cert_path),
                          client_cert=(str(issued.cert_path), str(issued.key_path)))
    v = world.agent(AGENT).vault
    session = AgentSession(world.settings(AGENT), api=api)
    session.login()  # ends with the login tokens revoking themselves
    (cert_accessor,) = api.cert_accessors
    (mint_accessor,) = api.mint_accessors
    assert not _accessor_alive(world, cert_accessor)  # spent its second use on auth/token/revoke-self
    assert not _accessor_alive(world, mint_accessor)  # done within a second, not left for its 60 s
    working = session.status().accessor
    assert _accessor_alive(world, working)  # an orphan: the mint token's revocation did not take it along
    token = session.token()
    creds = session.database(v.database_roles[0].name)
    assert 0 < api.renew_lease(token, creds.lease_id, 300) <= 300  # sys/leases/renew
    assert api.renew_self(token, 600).ttl == v.token_role.token_period  # auth/token/renew-self: the role's period
    session.close()  # auth/token/revoke-self
    assert not _accessor_alive(world, working)
    assert not [r.getMessage() for r in caplog.records], "a self-service call was refused"


@pytest.mark.parametrize("path, method, body", [
    ("cubbyhole/x", "POST", {"note": "x"}),
    ("cubbyhole/x", "GET", None),
    ("sys/tools/hash", "POST", {"input": "aGVsbG8="}),
    ("sys/wrapping/wrap", "POST", {"x": "y"}),
    ("sys/capabilities-self", "POST", {"paths": ["sys/mounts"]}),
])
def test_the_working_token_is_refused_on_the_default_policys_paths(world: World, path: str, method: str,
                                                                   body: dict[str, str] | None) -> None:
    with AgentSession(world.settings(AGENT)) as session:
        token = session.token()
        with pytest.raises(PermissionDenied):
            session._api.call(method, path, token=token, json=body, idempotent=False)
        # Still a live token: the refusal is the policy's, not a dead token's.
        assert session._api.lookup_self(token)["policies"] == [world.agent(AGENT).vault.policy_name]


def test_the_certificate_token_is_refused_on_the_default_policys_paths(world: World) -> None:
    api = _api(world, AGENT)
    v = world.agent(AGENT).vault
    for path, body in (("cubbyhole/x", {"note": "x"}), ("sys/tools/hash", {"input": "aGVsbG8="})):
        cert = api.cert_login(v.cert.mount, v.cert.role_name)
        with pytest.raises(PermissionDenied):
            api.call("POST", path, token=cert.token, json=body, idempotent=False)


def test_a_certificate_token_cannot_be_renewed_past_its_120s_ceiling(world: World) -> None:
    v = world.agent(AGENT).vault
    api = _api(world, AGENT)
    cert = api.cert_login(v.cert.mount, v.cert.role_name)
    info = world.client.lookup_token(cert.token)["data"]
    assert (info["explicit_max_ttl"], info["creation_ttl"]) == (120, 120) == (
        v.cert.token_explicit_max_ttl, v.cert.token_ttl)
    # The token itself has no renew-self: the login policy does not list it (and `default` is gone).
    with pytest.raises(PermissionDenied):
        api.renew_self(cert.token, 3600)
    # Not even an operator can extend it, even after the role's max TTL is loosened: the explicit max is fixed
    # on the token at login. (The cert method re-checks the client certificate on renewal, hence the cert.)
    issued = world.cert(AGENT)
    operator = hvac.Client(url=world.server.address, token=world.server.root_token,
                           verify=str(world.server.ca_cert_path), cert=(str(issued.cert_path), str(issued.key_path)))
    role_path = f"auth/{v.cert.mount}/certs/{v.cert.role_name}"
    second = api.cert_login(v.cert.mount, v.cert.role_name)
    started = time.monotonic()
    world.client.write_data(role_path, data={"token_max_ttl": 3600})
    try:
        time.sleep(2.0)
        # Measured before the call: the token is at least this old when Vault computes the renewal (a slow
        # answer on a loaded machine must not shrink the bound).
        elapsed = time.monotonic() - started
        renewed = operator.write_data("auth/token/renew", data={"token": second.token, "increment": 3600})
    finally:
        world.client.write_data(role_path, data={"token_max_ttl": v.cert.token_max_ttl})
        operator.adapter.close()
    assert renewed["auth"]["lease_duration"] <= 120 - int(elapsed) + 1, renewed["auth"]["lease_duration"]
    assert world.client.read(role_path)["data"]["token_max_ttl"] == 120  # restored for the other tests


def test_why_the_certificate_token_is_a_service_token_not_a_batch_token(world: World) -> None:
    # A batch token would be cheaper (no storage write), but on OpenBao 2.7 it cannot carry a use count, so it could
    # mint any number of wrapped secret ids for 120 s, and it cannot be revoked (no accessor, no revoke-self): the
    # kill switch could not find it. Response wrapping itself would work with it.
    v = world.agent(AGENT).vault
    probe = f"auth/{v.cert.mount}/certs/{v.cert.role_name}-batch-probe"
    role = {"certificate": world.ca.pem, "allowed_common_names": v.cert.allowed_common_names,
            "token_policies": v.cert.token_policies, "token_ttl": 120, "token_no_default_policy": True,
            "token_type": "batch"}
    with pytest.raises(hvac.exceptions.InvalidRequest, match="limited use count"):
        world.client.write_data(probe, data={**role, "token_num_uses": v.cert.token_num_uses})
    world.client.write_data(probe, data=role)
    try:
        api = _api(world, AGENT)
        batch = api.cert_login(v.cert.mount, f"{v.cert.role_name}-batch-probe")
        assert batch.accessor == "" and batch.renewable is False
        minted = [api.wrapped_secret_id(batch.token, v.approle.mount, v.approle.role_name, 60) for _ in range(3)]
        assert len(set(minted)) == 3  # no use limit: one certificate login, three secret ids
        with pytest.raises(VaultRequestError, match="batch tokens cannot be revoked"):
            api.revoke_self(batch.token)
        for wrapping in minted:  # leave no usable secret id behind
            secret_id = api.unwrap_secret_id(wrapping)
            world.client.write_data(f"auth/{v.approle.mount}/role/{v.approle.role_name}/secret-id/destroy",
                                    data={"secret_id": secret_id})
    finally:
        world.client.delete(probe)
