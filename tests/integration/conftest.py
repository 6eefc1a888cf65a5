"""Session-scoped real servers (OpenBao, PostgreSQL, moto) for the integration tests, started on loopback."""

from __future__ import annotations

import contextlib

from collections.abc import Callable, Iterator
from pathlib import Path

import hvac
import psycopg
import pytest

from tests import servers
from tests.faults import FaultProxy
from tests.integration.world import World, build_world

_HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test under tests/integration with `integration` (deselect with -m 'not integration')."""
    for item in items:
        if _HERE in item.path.parents:
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def openbao(tmp_path_factory: pytest.TempPathFactory) -> Iterator[servers.OpenBaoServer]:
    """An OpenBao dev server with the file audit device `agentiam-test` writing to `audit_log_path`."""
    with servers.run_openbao(tmp_path_factory.mktemp("openbao")) as server:
        yield server


@pytest.fixture(scope="session")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[servers.PostgresServer]:
    """A throwaway PostgreSQL cluster; the superuser logs in over TCP with its password."""
    with servers.run_postgres(tmp_path_factory.mktemp("postgres")) as server:
        yield server


@pytest.fixture(scope="session")
def moto_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[servers.MotoServer]:
    """A moto server; reach it with `boto3.client(service, **moto_server.client_kwargs())`."""
    with servers.run_moto(tmp_path_factory.mktemp("moto")) as server:
        yield server


@pytest.fixture
def vault_client(openbao: servers.OpenBaoServer) -> Iterator[hvac.Client]:
    """An hvac client on the OpenBao fixture, authenticated with the root token."""
    client = hvac.Client(url=openbao.address, token=openbao.root_token, timeout=10)
    yield client
    client.adapter.close()


@pytest.fixture(scope="session")
def openbao_tls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[servers.OpenBaoServer]:
    """An OpenBao dev server on HTTPS (`-dev-tls`, CA at `ca_cert_path`), so TLS certificate auth works."""
    with servers.run_openbao(tmp_path_factory.mktemp("openbao-tls"), tls=True) as server:
        yield server


@pytest.fixture
def vault_tls_client(openbao_tls: servers.OpenBaoServer) -> Iterator[hvac.Client]:
    """An hvac client on the TLS OpenBao fixture, authenticated with the root token."""
    client = hvac.Client(url=openbao_tls.address, token=openbao_tls.root_token, verify=str(openbao_tls.ca_cert_path),
                         timeout=10)
    yield client
    client.adapter.close()


@pytest.fixture(scope="session")
def billing_table(postgres: servers.PostgresServer) -> str:
    """`public.invoices` with one row, created before any credentials are issued (grants cover existing tables)."""
    with psycopg.connect(postgres.dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS public.invoices (id int PRIMARY KEY, amount numeric NOT NULL)")
        conn.execute("INSERT INTO public.invoices VALUES (1, 42.50) ON CONFLICT DO NOTHING")
    return "public.invoices"


@pytest.fixture(autouse=True)
def _private_state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`agentiam revoke` records unfinished revocations: in the test's own folder, never the operator's."""
    monkeypatch.setenv("AGENTIAM_STATE_DIR", str(tmp_path / "revocations"))


@pytest.fixture
def fault_proxy() -> Iterator[Callable[[int], FaultProxy]]:
    """`fault_proxy(port)`: a FaultProxy in front of 127.0.0.1:port, closed after the test."""
    proxies: list[FaultProxy] = []

    def make(port: int) -> FaultProxy:
        proxy = FaultProxy("127.0.0.1", port)
        proxies.append(proxy)
        return proxy

    yield make
    for proxy in proxies:
        proxy.close()


@pytest.fixture(scope="session")
def world_factory(openbao_tls: servers.OpenBaoServer, postgres: servers.PostgresServer, billing_table: str,
                  tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., World]]:
    """Build a throwaway environment of agents on the TLS OpenBao: `world_factory({name: spec_text})`.

    `database_port=`: Vault reaches PostgreSQL there (a fault proxy) instead of directly.
    """
    with worlds_on(openbao_tls, postgres, tmp_path_factory) as make:
        yield make


@contextlib.contextmanager
def worlds_on(server: servers.OpenBaoServer, postgres: servers.PostgresServer,
              tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., World]]:
    """`world_factory`'s maker on a given OpenBao (a module that counts what the whole server holds has its own)."""
    clients: list[hvac.Client] = []

    def make(specs: dict[str, str], *, database_port: int | None = None) -> World:
        client = hvac.Client(url=server.address, token=server.root_token, verify=str(server.ca_cert_path),
                             timeout=10)
        clients.append(client)
        return build_world(tmp_path_factory.mktemp("world"), server, postgres, client, specs,
                           database_port=database_port)

    try:
        yield make
    finally:
        for client in clients:
            client.adapter.close()
