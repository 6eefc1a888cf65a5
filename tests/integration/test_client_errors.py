"""Clear errors from the agent client when Vault is down or sealed: the project's exceptions, never hvac's."""

from __future__ import annotations

from pathlib import Path

import hvac
import pytest

from agentiam.client import AgentSession, AgentSettings, VaultSealed, VaultUnavailable
from agentiam.client.vault import Backoff, VaultApi
from tests import servers

SETTINGS = dict(client_cert="unused.pem", client_key="unused-key.pem", cert_mount="cert", cert_role="agent-t-x",
                approle_mount="approle", approle_role="agent-t-x", role_id="role-id")


def test_a_sealed_vault_is_reported_as_sealed(tmp_path: Path) -> None:
    with servers.run_openbao(tmp_path) as server:
        root = hvac.Client(url=server.address, token=server.root_token)
        root.sys.seal()
        api = VaultApi(server.address)
        with pytest.raises(VaultSealed, match="auth/token/lookup-self: Vault is sealed"):
            api.lookup_self(server.root_token)
        session = AgentSession(AgentSettings(vault_addr=server.address, **SETTINGS), api=api)
        with pytest.raises(VaultSealed, match="auth/cert/login"):
            session.login()
        root.adapter.close()


def test_a_vault_that_is_down_is_reported_with_its_address_after_retries() -> None:
    address = f"http://127.0.0.1:{servers.free_port()}"
    slept: list[float] = []
    api = VaultApi(address, backoff=Backoff(attempts=3, base=0.01), sleep=slept.append)
    session = AgentSession(AgentSettings(vault_addr=address, **SETTINGS), api=api)
    with pytest.raises(VaultUnavailable, match=f"auth/cert/login: cannot reach Vault at {address}"):
        session.token()
    assert len(slept) == 2  # the certificate login is safe to retry


def test_a_wrong_vault_ca_is_a_tls_error_not_retried(openbao_tls: servers.OpenBaoServer, tmp_path: Path) -> None:
    from tests.integration.pki import TestCA

    other = TestCA(tmp_path, "not vault's CA")
    slept: list[float] = []
    api = VaultApi(openbao_tls.address, ca_cert=str(other.pem_path), sleep=slept.append)
    with pytest.raises(VaultUnavailable, match="TLS handshake with .* failed"):
        api.lookup_self("hvs.x")
    assert slept == []
