"""Certificate + secret login against the real OpenBao, configured exactly as the Pulumi program registers it.

Neither factor alone yields a working token; wrong certificates and reused secret ids are refused; the token
carries the agent's policy and lifetimes from the spec, and renewals never pass its max TTL.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from agentiam.client import AgentSession, LoginRefused, PermissionDenied
from agentiam.client.vault import VaultApi
from tests.integration.world import World, reader_spec

AGENT = "ledger-reader"
OTHER = "audit-reader"
DAY = 86400


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
    with AgentSession(world.settings(AGENT)) as session:
        status = session.status()
        info = world.client.lookup_token(session.token())["data"]
    assert set(status.policies) == {plan.vault.policy_name, "default"}
    assert status.entity_id == world.entity_id(AGENT)
    assert info["entity_id"] == world.entity_id(AGENT)
    assert info["meta"] == {"role_name": plan.vault.approle.role_name}
    # 20m TTL and 2h explicit max, as the spec says; never above 24h.
    assert info["creation_ttl"] == 20 * 60 == plan.vault.approle.token_ttl
    assert info["explicit_max_ttl"] == 2 * 3600 == plan.vault.approle.token_explicit_max_ttl
    role = world.client.read(f"auth/{plan.vault.approle.mount}/role/{plan.vault.approle.role_name}")["data"]
    assert role["token_max_ttl"] == 2 * 3600 and role["token_explicit_max_ttl"] <= DAY
    assert role["secret_id_num_uses"] == 1 and role["bind_secret_id"] is True


def test_the_approle_mount_caps_every_max_ttl_at_24h(world: World) -> None:
    mount = world.agent(AGENT).vault.approle.mount
    tune = world.client.read(f"sys/auth/{mount}/tune")["data"]
    assert tune["max_lease_ttl"] == DAY


def test_the_certificate_token_can_only_mint_a_wrapped_secret_id(world: World) -> None:
    api = _api(world, AGENT)
    v = world.agent(AGENT).vault
    cert = api.cert_login(v.cert.mount, v.cert.role_name)
    assert set(cert.policies) == {v.login_policy_name, "default"}
    assert cert.ttl <= 120
    # Its entity is the agent's: the cert alias (CN) hangs on the same entity as the AppRole alias.
    assert cert.entity_id == world.entity_id(AGENT)
    with pytest.raises(PermissionDenied):
        api.read_lease(cert.token, f"{v.database_roles[0].mount}/creds/{v.database_roles[0].name}")
    with pytest.raises(PermissionDenied):
        # An unwrapped secret id would leak into logs and proxies: the policy requires wrapping.
        api.call("POST", f"auth/{v.approle.mount}/role/{v.approle.role_name}/secret-id", token=cert.token,
                 idempotent=False)


def test_the_certificate_alone_cannot_log_in(world: World) -> None:
    secret_id = _secret_id(world, AGENT)
    v = world.agent(AGENT).vault
    with pytest.raises(LoginRefused):
        _api(world).approle_login(v.approle.mount, "not-the-role-id", secret_id)
    with pytest.raises(LoginRefused):
        _api(world).approle_login(v.approle.mount, world.role_id(OTHER), secret_id)


def test_the_secret_alone_cannot_log_in(world: World) -> None:
    v = world.agent(AGENT).vault
    api = _api(world)  # no client certificate
    with pytest.raises(LoginRefused):
        api.call("POST", f"auth/{v.approle.mount}/login", json={"role_id": world.role_id(AGENT)}, idempotent=False,
                 login=True)
    with pytest.raises(LoginRefused):
        api.approle_login(v.approle.mount, world.role_id(AGENT), "00000000-0000-0000-0000-000000000000")
    with pytest.raises(LoginRefused):
        api.cert_login(v.cert.mount, v.cert.role_name)
    with pytest.raises(LoginRefused):
        AgentSession(world.settings(AGENT, cert=world.ca.issue("nobody.example")), api=api).login()


def test_a_certificate_with_another_cn_or_from_another_ca_is_refused(world: World, tmp_path) -> None:
    from tests.integration.pki import TestCA

    v = world.agent(AGENT).vault
    other_cn = world.ca.issue(world.agent(OTHER).vault.entity.cert_alias_name)
    with pytest.raises(LoginRefused):
        _api(world, cert=(str(other_cn.cert_path), str(other_cn.key_path))).cert_login(v.cert.mount, v.cert.role_name)
    rogue = TestCA(tmp_path, "rogue CA").issue(v.entity.cert_alias_name)  # the right CN, the wrong issuer
    with pytest.raises(LoginRefused):
        _api(world, cert=(str(rogue.cert_path), str(rogue.key_path))).cert_login(v.cert.mount, v.cert.role_name)
    with pytest.raises(LoginRefused):
        AgentSession(world.settings(AGENT, cert=rogue)).login()


def test_a_secret_id_is_single_use(world: World) -> None:
    v = world.agent(AGENT).vault
    api = _api(world)
    secret_id = _secret_id(world, AGENT)
    first = api.approle_login(v.approle.mount, world.role_id(AGENT), secret_id)
    assert first.entity_id == world.entity_id(AGENT)
    with pytest.raises(LoginRefused):
        api.approle_login(v.approle.mount, world.role_id(AGENT), secret_id)


def test_a_wrapping_token_unwraps_once(world: World) -> None:
    api = _api(world, AGENT)
    v = world.agent(AGENT).vault
    cert = api.cert_login(v.cert.mount, v.cert.role_name)
    wrapping = api.wrapped_secret_id(cert.token, v.approle.mount, v.approle.role_name, 60)
    api.unwrap_secret_id(wrapping)
    with pytest.raises(LoginRefused):
        api.unwrap_secret_id(wrapping)


def test_renewals_cannot_push_a_token_past_its_max_ttl(world: World) -> None:
    v = world.agent("short-lived").vault
    assert (v.approle.token_ttl, v.approle.token_explicit_max_ttl) == (2, 5)
    api = _api(world)
    login = api.approle_login(v.approle.mount, world.role_id("short-lived"), _secret_id(world, "short-lived"))
    started = time.monotonic()
    granted = [login.ttl]
    while time.monotonic() - started < 3.0:  # keep 2 s of margin before the 5 s ceiling on a loaded machine
        time.sleep(1.0)
        granted.append(api.renew_self(login.token, 3600).ttl)
    elapsed = time.monotonic() - started
    # Asked for an hour each time; got at most what is left before the 5 s ceiling.
    assert all(ttl <= 5 for ttl in granted), granted
    assert granted[-1] <= max(0, 5 - int(elapsed)) + 1, granted
    time.sleep(max(0.0, 5.5 - (time.monotonic() - started)))
    with pytest.raises(PermissionDenied):
        api.lookup_self(login.token)
