"""Knowing an agent's role id is not enough to lock it out (issue: case 1), and guessing stays slow and visible.

The AppRole mount comes from the real program through `tests/vault_apply.py`: the lockout setting and the login
rate limit tested here are the provisioned ones, not set by hand. The control test tunes Vault's default lockout
back on, to show the attack works there and what the client then says.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
import requests

from agentiam.client import AgentSession, LockedOut, LoginRefused, RateLimited
from agentiam.client.vault import VaultApi
from tests import servers
from tests.integration.world import World, reader_spec

AGENT = "ledger-reader"
ATTEMPTS = 10  # Vault's default lockout threshold is 5


@pytest.fixture(scope="module")
def world(world_factory: Callable[..., World]) -> World:
    return world_factory({AGENT: reader_spec(AGENT)})


def _guess(world: World, role_id: str, n: int) -> list[int]:
    """`n` AppRole logins with the role id and made-up secret ids, without any client certificate: HTTP statuses."""
    v = world.agent(AGENT).vault
    with requests.Session() as http:
        return [http.post(f"{world.server.address}/v1/auth/{v.approle.mount}/login", timeout=10,
                          json={"role_id": role_id, "secret_id": f"00000000-0000-0000-0000-{i:012d}"},
                          verify=str(world.server.ca_cert_path)).status_code for i in range(n)]


def _locked_role_ids(world: World) -> list[str]:
    listing = world.client.read("sys/locked-users") or {}
    return [alias for namespace in (listing.get("data") or {}).get("by_namespace") or []
            for mount in namespace.get("mount_accessors") or [] for alias in mount.get("alias_identifiers") or []]


def test_the_provisioned_approle_mount_has_lockout_off_and_a_per_address_login_rate_limit(world: World) -> None:
    mount = next(m for m in world.plan.platform.mounts if m.type == "approle")
    tune = world.client.read(f"sys/auth/{mount.path}/tune")["data"]
    assert tune["user_lockout_disable"] is True
    assert mount.login_rate_limit is not None
    quota = world.client.read(f"sys/quotas/rate-limit/{mount.login_rate_limit.name}")["data"]
    assert (quota["path"], quota["rate"], quota["interval"], quota["role"]) == (
        f"auth/{mount.path}/login", mount.login_rate_limit.rate, 1, "")


def test_failed_logins_with_the_role_id_do_not_lock_the_agent_out_and_stay_in_the_audit_log(world: World) -> None:
    role_id = world.role_id(AGENT)
    assert _guess(world, role_id, ATTEMPTS) == [400] * ATTEMPTS  # refused as wrong, never "locked"
    assert role_id not in _locked_role_ids(world)
    time.sleep(1.1)  # the login rate limit is per second and per address; the agent shares 127.0.0.1 here
    with AgentSession(world.settings(AGENT)) as session:
        assert session.status().entity_id == world.entity_id(AGENT)

    # Continuous validation alerts on these: every failure is an audit line under the hashed role id.
    hashed = world.client.write_data(f"sys/audit-hash/{world.server.audit_device}", data={"input": role_id})["data"]
    login_path = f"auth/{world.agent(AGENT).vault.approle.mount}/login"
    failed = servers.audit_entries(
        world.server.audit_log_path,
        lambda e: e["type"] == "response" and e["request"].get("path") == login_path and "error" in e
        and e["request"].get("data", {}).get("role_id") == hashed["hash"], expected=ATTEMPTS)
    assert len(failed) >= ATTEMPTS
    assert {entry["error"] for entry in failed} == {"invalid credentials"}


def test_guessing_from_one_address_is_throttled(world: World) -> None:
    limit = next(m for m in world.plan.platform.mounts if m.type == "approle").login_rate_limit
    assert limit is not None
    started = time.monotonic()
    statuses = _guess(world, world.role_id(AGENT), 60)
    elapsed = time.monotonic() - started
    assert set(statuses) == {400, 429}, statuses
    assert statuses.count(400) <= limit.rate * (elapsed + 1), (elapsed, statuses)  # the quota's token bucket
    # The client reads a 429 as transient (RateLimited: back off), not as a refusal of the agent.
    api = VaultApi(world.server.address, ca_cert=str(world.server.ca_cert_path))
    with pytest.raises(RateLimited, match="rate limit exceeded"):
        for _ in range(int(limit.rate) * 3):
            try:
                api.approle_login(world.agent(AGENT).vault.approle.mount, world.role_id(AGENT), "x")
            except LoginRefused:
                continue
    time.sleep(1.1)


def test_with_vaults_default_lockout_the_same_attack_locks_the_agent_out_and_the_client_says_so(
        world_factory: Callable[..., World]) -> None:
    # The control: proves the tests above would catch the setting's loss, and shows the client's LockedOut.
    other = world_factory({AGENT: reader_spec(AGENT)})
    mount = other.agent(AGENT).vault.approle.mount
    other.client.write_data(f"sys/auth/{mount}/tune", data={"user_lockout_config": {"lockout_disable": False}})
    statuses = _guess(other, other.role_id(AGENT), ATTEMPTS)
    assert 403 in statuses, statuses  # "permission denied": locked
    assert other.role_id(AGENT) in _locked_role_ids(other)
    time.sleep(1.1)
    session = AgentSession(other.settings(AGENT))
    with pytest.raises(LockedOut, match="the role id is locked out after failed logins") as refused:
        session.token()
    assert isinstance(refused.value, LoginRefused)
    assert session.refused is refused.value
