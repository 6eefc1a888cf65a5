"""The agent client under faults, on the real OpenBao and PostgreSQL (issue: cases 3 and 4).

A revoked token is noticed and replaced together with the credentials obtained under it; each permanent refusal
has its own error and stops the keep-alive; a policy denial costs no login; a down Vault sees a handful of
attempts, not one per call; a hung Vault holds no other thread and no call past its deadline.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from agentiam.client import (
    AgentDisabled,
    AgentSession,
    LoginRefused,
    PermissionDenied,
    ServerStateLost,
    UnknownRole,
    VaultTimeout,
    VaultUnavailable,
)
from agentiam.client.vault import Login, VaultApi
from tests import servers
from tests.faults import FaultProxy
from tests.integration.world import World, reader_spec

AGENT = "ledger-reader"
OTHER = "audit-reader"
CHECK = 1.0  # check_interval of the sessions here: how stale a revoked token may be before it is noticed


class CountingApi(VaultApi):
    """The real adapter, counting certificate logins (each is the start of a full login)."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.logins = 0

    def cert_login(self, mount: str, role: str, **kwargs: Any) -> Login:
        self.logins += 1
        return super().cert_login(mount, role, **kwargs)


@pytest.fixture(scope="module")
def world(world_factory: Callable[..., World]) -> World:
    return world_factory({AGENT: reader_spec(AGENT), OTHER: reader_spec(OTHER)})


def _session(world: World, name: str = AGENT, *, vault_addr: str | None = None, **kwargs: Any
             ) -> tuple[AgentSession, CountingApi]:
    cert = world.cert(name)
    api = CountingApi(vault_addr or world.server.address, ca_cert=str(world.server.ca_cert_path),
                      client_cert=(str(cert.cert_path), str(cert.key_path)))
    return AgentSession(world.settings(name, vault_addr=vault_addr), api=api, check_interval=CHECK, **kwargs), api


def _role(world: World, name: str = AGENT) -> str:
    return world.agent(name).vault.database_roles[0].name


def _wait_until(condition: Callable[[], bool], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"not within {seconds} s"
        time.sleep(0.05)


def _revoke_token(world: World, accessor: str) -> None:
    world.client.write_data("auth/token/revoke-accessor", data={"accessor": accessor})


def test_a_revoked_token_is_replaced_by_one_login_with_new_database_credentials(world: World) -> None:
    session, api = _session(world)
    creds = session.database(_role(world))
    _revoke_token(world, session.status().accessor)  # an operator revokes the token: its database user is dropped
    _wait_until(lambda: not world.postgres.role_exists(creds.username))  # Vault revokes a token's leases behind it
    # A 403 on a read: the token is checked, found dead, one fresh login, and the read succeeds.
    path = f"{world.agent(AGENT).vault.database_roles[0].mount}/creds/{_role(world)}"
    assert session.read(path)["username"]
    assert api.logins == 2
    fresh = session.database(_role(world))
    assert fresh.username != creds.username, "credentials of a dropped user were handed out"
    pg = world.postgres
    with psycopg.connect(**fresh.connect_kwargs(host=pg.host, port=pg.port, dbname="postgres")) as conn:
        assert conn.execute("SELECT current_user").fetchone() == (fresh.username,)
    session.close()


def test_without_any_read_a_revoked_token_is_noticed_within_the_check_interval(world: World) -> None:
    session, _api = _session(world)
    creds = session.database(_role(world))
    token = session.token()
    _revoke_token(world, session.status().accessor)
    stale = 0
    started = time.monotonic()
    while time.monotonic() - started < 3 * CHECK:
        if session.database(_role(world)).username == creds.username:
            stale += 1
        time.sleep(0.05)
    assert session.token() != token
    assert stale <= (CHECK + 0.5) / 0.05, stale  # only until the next check, not until the renewal point
    session.close()


def test_a_policy_denial_is_permission_denied_and_costs_no_login(world: World) -> None:
    session, api = _session(world)
    other = f"{world.agent(OTHER).vault.database_roles[0].mount}/creds/{_role(world, OTHER)}"
    with pytest.raises(PermissionDenied, match="denied by the agent's policy \\(its token is valid\\)"):
        session.read(other)
    assert api.logins == 1 and session.status().generation == 1
    session.close()


def test_a_revoked_agent_gets_agent_disabled_everywhere_and_the_keepalive_stops(
        world_factory: Callable[..., World], moto_server: servers.MotoServer,
        caplog: pytest.LogCaptureFixture) -> None:
    from click.testing import CliRunner

    from agentiam.cli.main import cli

    own = world_factory({AGENT: reader_spec(AGENT)})
    session, api = _session(own)
    creds = session.database(_role(own))
    session.start_keepalive(interval=0.1)
    result = CliRunner().invoke(cli, ["revoke", AGENT, "--env", own.env, "--yes", "--no-aws", "--specs",
                                      str(own.specs_dir), "--stacks", str(own.stacks_dir)],
                                env={"VAULT_ADDR": own.server.address, "VAULT_TOKEN": own.server.root_token,
                                     "VAULT_CACERT": str(own.server.ca_cert_path)})
    assert result.exit_code == 0, result.output
    caplog.set_level(logging.WARNING, logger="agentiam")
    thread = session._keepalive
    assert thread is not None
    thread.join(timeout=10 * CHECK)
    assert not thread.is_alive(), "the keep-alive goes on against a revoked agent"
    assert isinstance(session.refused, AgentDisabled)
    logins = api.logins
    for call in (session.token, lambda: session.database(_role(own)), lambda: session.read("secret/data/x")):
        with pytest.raises(AgentDisabled, match="identity is disabled"):
            call()
    assert api.logins == logins, "a refused agent keeps logging in"
    _wait_until(lambda: not own.postgres.role_exists(creds.username))
    time.sleep(1)
    assert len([r for r in caplog.records if r.name.startswith("agentiam")]) <= 3, caplog.text  # not one per second
    session.close()


def test_a_role_id_that_is_not_the_roles_is_unknown_role(world: World) -> None:
    session, _ = _session(world)
    bad = AgentSession(world.settings(AGENT, role_id="00000000-0000-0000-0000-000000000000"))
    with pytest.raises(UnknownRole, match="the AppRole role does not accept this role id"):
        bad.token()
    assert isinstance(bad.refused, UnknownRole)
    session.close()


class MintRevokedApi(CountingApi):
    """The real adapter, whose mint tokens an operator revokes the moment they are issued (or that expire while the
    process stalls): the agent's policy still allows everything it is about to ask."""

    def __init__(self, world: World, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.world = world

    def approle_login(self, mount: str, role_id: str, secret_id: str, **kwargs: Any) -> Login:
        login = super().approle_login(mount, role_id, secret_id, **kwargs)
        _revoke_token(self.world, login.accessor)
        return login


def test_a_mint_token_dead_before_it_created_the_working_token_is_retried_not_a_refusal(world: World) -> None:
    cert = world.cert(AGENT)
    api = MintRevokedApi(world, world.server.address, ca_cert=str(world.server.ca_cert_path),
                         client_cert=(str(cert.cert_path), str(cert.key_path)))
    session = AgentSession(world.settings(AGENT), api=api, check_interval=CHECK)
    with pytest.raises(LoginRefused, match=f"auth/token/roles/{world.agent(AGENT).vault.token_role.name}: the "
                                           "AppRole token expired or was revoked"):
        session.login()
    assert session.refused is None  # transient: the next attempt (after the backoff) logs in from the start
    healthy, _ = _session(world)
    assert healthy.status().entity_id == world.entity_id(AGENT)
    healthy.close()


def test_a_deleted_cert_role_is_unknown_role_and_lost_mounts_are_server_state_lost(
        world_factory: Callable[..., World]) -> None:
    own = world_factory({AGENT: reader_spec(AGENT), OTHER: reader_spec(OTHER)})
    v = own.agent(OTHER).vault
    own.client.delete(f"auth/{v.cert.mount}/certs/{v.cert.role_name}")
    with pytest.raises(UnknownRole, match=f"cert role {v.cert.role_name} does not accept this certificate"):
        AgentSession(own.settings(OTHER)).token()

    session, _ = _session(own)
    session.token()
    # Vault loses its state (a dev server restarted, a restore from before the agent): the mounts are gone, and
    # with them the tokens. The working token is the token mount's (created through the agent's token role), so
    # disabling the AppRole mount alone would leave it alive: the lost state takes the role and its tokens too.
    mine = own.agent(AGENT).vault.token_role.name
    own.client.write_data(f"sys/leases/revoke-prefix/auth/token/create/{mine}/")
    own.client.delete(f"auth/token/roles/{mine}")
    for mount in (v.cert.mount, v.approle.mount):
        own.client.sys.disable_auth_method(mount)
    time.sleep(CHECK)
    with pytest.raises(ServerStateLost, match=f"has no auth mount {v.cert.mount}: it lost its state"):
        session.token()
    session.close()


def test_a_down_vault_gets_a_handful_of_login_attempts_not_one_per_call_then_recovers(
        world: World, fault_proxy: Callable[[int], FaultProxy]) -> None:
    proxy = fault_proxy(int(world.server.address.rsplit(":", 1)[1]))
    session, api = _session(world, vault_addr=f"https://{proxy.address}")
    proxy.down()
    calls = 0
    started = time.monotonic()
    while time.monotonic() - started < 6:
        with pytest.raises(VaultUnavailable):
            session.database(_role(world))
        calls += 1
        time.sleep(0.02)
    assert calls > 100 and api.logins <= 8, (calls, api.logins)  # backoff 0.5 s doubling, jittered
    proxy.up()
    back = time.monotonic()
    while True:  # the next attempt comes when the backoff allows: within the last delay (at most 8 s here)
        try:
            assert session.database(_role(world)).username
            break
        except VaultUnavailable:
            assert time.monotonic() - back < 10, "no recovery after Vault came back"
            time.sleep(0.1)
    session.close()


def test_a_hung_vault_holds_no_other_thread_and_no_call_past_its_deadline(
        world: World, fault_proxy: Callable[[int], FaultProxy]) -> None:
    proxy = fault_proxy(int(world.server.address.rsplit(":", 1)[1]))
    session, _ = _session(world, vault_addr=f"https://{proxy.address}", call_timeout=2.0)
    token = session.token()
    proxy.hang()
    time.sleep(CHECK)  # a check is due: the next caller asks Vault, which never answers

    checking: list[float] = []

    def check() -> None:
        started = time.monotonic()
        assert session.token() == token  # the check failed (no answer): the still-valid token is handed out
        checking.append(time.monotonic() - started)

    thread = threading.Thread(target=check)
    thread.start()
    time.sleep(0.3)  # the check is in flight, stuck on the hung Vault
    started = time.monotonic()
    assert session.token() == token
    assert time.monotonic() - started < 0.2, "a second thread waited for the first one's network call"
    thread.join(timeout=10)
    assert checking and checking[0] < 2.0 + 1.0, checking  # its own deadline, not 40 s

    fresh, _ = _session(world, vault_addr=f"https://{proxy.address}", call_timeout=2.0)
    started = time.monotonic()
    with pytest.raises(VaultTimeout):
        fresh.token()  # no token at all: the login gives up at the call's deadline
    assert time.monotonic() - started < 2.0 + 1.0
    proxy.up()
    session.close()
