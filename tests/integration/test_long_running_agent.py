"""A long-running agent stays authenticated across several token TTLs and past the max TTL, without leaking secrets.

Short lifetimes (token TTL 3 s, max 10 s) make hours of agent life fit in seconds; the server enforces them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from agentiam.client import AgentSession
from agentiam.client.vault import Login, VaultApi
from tests.integration.world import World, reader_spec

AGENT = "night-reader"
IDLER = "idle-reader"


class RecordingApi(VaultApi):
    """The real adapter, remembering every secret it handled so the test can grep the logs for them."""

    def __init__(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.secrets: list[str] = []

    def unwrap_secret_id(self, wrapping_token: str, **kwargs: Any) -> str:
        secret_id = super().unwrap_secret_id(wrapping_token, **kwargs)
        self.secrets += [wrapping_token, secret_id]
        return secret_id

    def cert_login(self, mount: str, role: str, **kwargs: Any) -> Login:
        login = super().cert_login(mount, role, **kwargs)
        self.secrets.append(login.token)
        return login

    def approle_login(self, mount: str, role_id: str, secret_id: str, **kwargs: Any) -> Login:
        login = super().approle_login(mount, role_id, secret_id, **kwargs)
        self.secrets += [role_id, login.token]
        return login

    def create_role_token(self, token: str, role: str, entity_alias: str, **kwargs: Any) -> Login:
        login = super().create_role_token(token, role, entity_alias, **kwargs)
        self.secrets.append(login.token)
        return login


@pytest.fixture(scope="module")
def world(world_factory: Callable[[dict[str, str]], World]) -> World:
    short = {"token_ttl": "3s", "token_max_ttl": "10s", "database_ttl": "4s", "database_max_ttl": "8s"}
    return world_factory({AGENT: reader_spec(AGENT, **short), IDLER: reader_spec(IDLER, **short)})


def _api(world: World, name: str) -> RecordingApi:
    cert = world.cert(name)
    return RecordingApi(world.server.address, ca_cert=str(world.server.ca_cert_path),
                        client_cert=(str(cert.cert_path), str(cert.key_path)))


def test_an_agent_stays_authenticated_across_ttls_and_max_ttls_and_logs_no_secret(
        world: World, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)  # every logger, hvac and urllib3 included
    api = _api(world, AGENT)
    role = world.agent(AGENT).vault.database_roles[0].name
    pg = world.postgres
    session = AgentSession(world.settings(AGENT), api=api)
    passwords: list[str] = []
    accessors: list[str] = []
    started = time.monotonic()
    while time.monotonic() - started < 14.0:
        token = session.token()
        # The token handed out works right now on the real server, with the agent's identity.
        info = api.lookup_self(token)
        assert info["entity_id"] == world.entity_id(AGENT)
        assert info["path"] == f"auth/token/create/{world.agent(AGENT).vault.token_role.name}"
        assert 0 < session.status().max_expires_in <= 10  # the role's explicit max, from the role
        accessors.append(info["accessor"])
        creds = session.database(role)
        passwords.append(creds.password)
        with psycopg.connect(**creds.connect_kwargs(host=pg.host, port=pg.port, dbname="postgres")) as conn:
            assert conn.execute("SELECT current_user").fetchone() == (creds.username,)
        # The token is renewed at 2 s of its 3 s TTL: a loop turn must stay well under the 1 s left (2x+ margin
        # on a loaded machine), or the token expires between two calls and a fresh login replaces the renewal.
        time.sleep(0.2)
    logins = len(dict.fromkeys(accessors))
    status = session.status()
    session.close()

    # 14 s with a 10 s ceiling: at least one fresh login; with a 3 s TTL: renewals in between.
    assert logins >= 2 and status.generation == logins
    assert len(accessors) > 3 * logins, "the same token served several TTLs: it was renewed, not replaced"
    assert "renewed token" in caplog.text and "nears its max TTL; logging in again" in caplog.text

    leaked = [s for s in {*api.secrets, *passwords} if s and s in caplog.text]
    assert not leaked, "a token, secret id, role id or password reached the logs"
    assert world.role_id(AGENT) in api.secrets  # the check above did look for the role id


def test_the_keepalive_thread_renews_an_idle_agents_token(world: World) -> None:
    api = _api(world, IDLER)
    session = AgentSession(world.settings(IDLER), api=api)
    token = session.token()
    session.start_keepalive(interval=0.25)  # 4 chances within the 1 s between renewal point and expiry
    try:
        time.sleep(4.5)  # longer than the 3 s TTL; the agent itself makes no call
        assert api.lookup_self(token)["ttl"] > 0
    finally:
        session.close()  # stops the thread even when the assertion fails
