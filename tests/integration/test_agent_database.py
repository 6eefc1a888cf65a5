"""Dynamic database credentials through the agent client against real OpenBao + PostgreSQL.

The token reads its own credentials and nothing else; a data-retrieval agent's user can SELECT and nothing more;
leases are at most 24h; revoking a lease drops the PostgreSQL role.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import psycopg
import pytest

from agentiam.client import AgentSession, PermissionDenied
from tests.integration.world import World, reader_spec

READER = "ledger-reader"
OTHER = "audit-reader"
DAY = 86400


@pytest.fixture(scope="module")
def world(world_factory: Callable[[dict[str, str]], World]) -> World:
    return world_factory({READER: reader_spec(READER, database_ttl="10m", database_max_ttl="1h"),
                          OTHER: reader_spec(OTHER)})


@pytest.fixture
def session(world: World) -> Iterator[AgentSession]:
    with AgentSession(world.settings(READER)) as agent:
        yield agent


def _role(world: World, agent: str) -> str:
    return world.agent(agent).vault.database_roles[0].name


def _connect(world: World, creds) -> psycopg.Connection:  # type: ignore[no-untyped-def]
    pg = world.postgres
    return psycopg.connect(**creds.connect_kwargs(host=pg.host, port=pg.port, dbname="postgres"), autocommit=True)


def test_a_data_retrieval_agent_can_select_and_nothing_else(world: World, session: AgentSession,
                                                            billing_table: str) -> None:
    creds = session.database(_role(world, READER))
    with _connect(world, creds) as conn:
        assert conn.execute("SELECT current_user").fetchone() == (creds.username,)
        assert conn.execute(f"SELECT id, amount FROM {billing_table}").fetchall() == [(1, 42.50)]
        for statement in (f"INSERT INTO {billing_table} VALUES (2, 1)",
                          f"UPDATE {billing_table} SET amount = 0",
                          f"DELETE FROM {billing_table}",
                          "CREATE TABLE public.exfiltrate (x int)"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)


def test_the_connection_string_connects(world: World, session: AgentSession) -> None:
    creds = session.database(_role(world, READER))
    pg = world.postgres
    with psycopg.connect(creds.conninfo(host=pg.host, port=pg.port, dbname="postgres", sslmode="disable")) as conn:
        assert conn.execute("SELECT current_user").fetchone() == (creds.username,)


def test_the_token_reads_its_own_credentials_and_not_another_agents(world: World, session: AgentSession) -> None:
    mount = world.agent(OTHER).vault.database_roles[0].mount
    # The other agent's credentials, the connection's root credentials, another agent's policy.
    for path in (f"{mount}/creds/{_role(world, OTHER)}", f"{mount}/config/billing",
                 "sys/policies/acl/" + world.agent(OTHER).vault.policy_name):
        with pytest.raises(PermissionDenied, match=f"^{path}: "):
            session.read(path)
        answer = world.client.read(path)  # root can: the path exists, so the refusal was the policy's
        assert answer is not None, f"{path} does not exist: the refusal proves nothing"
        if answer.get("lease_id"):
            world.client.sys.revoke_lease(answer["lease_id"])  # root's own database user: drop it again


def test_the_lease_is_at_most_24h_and_as_specified(world: World, session: AgentSession) -> None:
    creds = session.database(_role(world, READER))
    assert creds.ttl == 600
    lease = world.client.sys.read_lease(creds.lease_id)["data"]
    assert 0 < lease["ttl"] <= 600 and lease["renewable"] is True
    role = world.client.read(f"{world.agent(READER).vault.database_roles[0].mount}/roles/{_role(world, READER)}")
    assert role["data"]["max_ttl"] == 3600 <= DAY


def test_the_same_credentials_are_handed_out_until_renewal_is_due(world: World, session: AgentSession) -> None:
    first = session.database(_role(world, READER))
    assert session.database(_role(world, READER)) is first


def test_revoking_the_lease_drops_the_database_role(world: World, session: AgentSession) -> None:
    creds = session.database(_role(world, READER))
    conn = _connect(world, creds)
    assert world.postgres.role_exists(creds.username)
    world.client.sys.revoke_lease(creds.lease_id)
    assert not world.postgres.role_exists(creds.username)
    # The revocation statements terminate the user's open sessions too.
    with pytest.raises(psycopg.OperationalError):
        conn.execute("SELECT 1")
    conn.close()
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        _connect(world, creds)
