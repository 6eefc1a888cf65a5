"""Every agent action lands in the real audit log with who, what, when and the result (PCI DSS 10.2, NIST AU-2).

Audit strings are HMAC'd (docs/facts.md#vault-audit); values we must recognise (a role id) are matched with
`sys/audit-hash`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest

from agentiam.client import AgentSession, LoginRefused, PermissionDenied
from agentiam.client.vault import VaultApi
from tests import servers
from tests.integration.world import World, reader_spec

AGENT = "ledger-reader"
OTHER = "audit-reader"


@pytest.fixture(scope="module")
def world(world_factory: Callable[[dict[str, str]], World]) -> World:
    return world_factory({AGENT: reader_spec(AGENT), OTHER: reader_spec(OTHER)})


def _response(entry: dict[str, Any], path: str) -> bool:
    return entry["type"] == "response" and entry.get("request", {}).get("path") == path


def test_reads_and_denials_carry_the_agents_entity_path_operation_time_and_result(world: World) -> None:
    v = world.agent(AGENT).vault
    own = f"{v.database_roles[0].mount}/creds/{v.database_roles[0].name}"
    other = f"{v.database_roles[0].mount}/creds/{world.agent(OTHER).vault.database_roles[0].name}"
    started = dt.datetime.now(dt.timezone.utc)
    with AgentSession(world.settings(AGENT)) as session:
        session.database(v.database_roles[0].name)
        with pytest.raises(PermissionDenied):
            session.read(other)
    entity_id = world.entity_id(AGENT)

    audit_log = world.server.audit_log_path
    granted = servers.audit_entries(audit_log, lambda e: _response(e, own) and e["auth"].get("entity_id") == entity_id,
                                    expected=1)[-1]
    assert granted["request"]["operation"] == "read"
    assert "error" not in granted and granted["auth"]["policy_results"]["allowed"] is True
    # The working token comes from the agent's token role: its display name is pinned to the identity's name.
    assert granted["auth"]["display_name"] == f"token-{v.token_role.name}"
    assert granted["auth"]["token_policies"] == [v.policy_name]
    assert granted["request"]["remote_address"] == "127.0.0.1"
    assert dt.datetime.fromisoformat(granted["time"].replace("Z", "+00:00")) >= started - dt.timedelta(seconds=1)

    denied = servers.audit_entries(audit_log, lambda e: _response(e, other) and e["auth"].get("entity_id") == entity_id,
                                   expected=1)[-1]
    assert denied["request"]["operation"] == "read"
    assert "permission denied" in denied["error"]
    assert denied["auth"]["policy_results"]["allowed"] is False

    # The credentials themselves never reach the log in clear.
    assert "hmac-sha256:" in granted["response"]["data"]["password"]


def test_logins_are_logged_with_the_entity_and_failed_logins_with_the_hashed_role_id(world: World) -> None:
    v = world.agent(AGENT).vault
    login_path = f"auth/{v.approle.mount}/login"
    with AgentSession(world.settings(AGENT)) as session:
        accessor = session.status().accessor
    ok = servers.audit_entries(world.server.audit_log_path, lambda e: _response(e, login_path)
                               and e.get("auth", {}).get("entity_id") == world.entity_id(AGENT), expected=1)
    assert ok and "error" not in ok[-1]
    assert accessor not in world.server.audit_log_path.read_text()  # accessors are HMAC'd too

    api = VaultApi(world.server.address, ca_cert=str(world.server.ca_cert_path))
    with pytest.raises(LoginRefused, match="invalid role or secret ID"):
        api.approle_login(v.approle.mount, world.role_id(AGENT), "00000000-0000-0000-0000-000000000000")
    hashed = world.client.write_data(f"sys/audit-hash/{world.server.audit_device}",
                                     data={"input": world.role_id(AGENT)})["data"]["hash"]
    failed = servers.audit_entries(world.server.audit_log_path, lambda e: _response(e, login_path) and "error" in e
                                   and e["request"].get("data", {}).get("role_id") == hashed, expected=1)
    assert failed, "the failed login is not in the audit log under the agent's hashed role id"
    assert failed[-1]["request"]["operation"] == "update"
    assert world.role_id(AGENT) not in world.server.audit_log_path.read_text()
