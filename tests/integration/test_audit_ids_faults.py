"""`agentiam audit-ids` against the real OpenBao through a fault proxy: the HMACs match what the audit device
writes, and a down, hung or slow Vault gives a clear answer within the deadline, never a hang or a traceback."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from click.testing import CliRunner

from agentiam.audit.vault_ids import fetch_audit_ids
from agentiam.cli.main import cli
from agentiam.client.errors import VaultTimeout, VaultUnavailable
from tests.faults import FaultProxy
from tests.integration.world import World, reader_spec

AGENT = "hash-reader"


@pytest.fixture(scope="module")
def world(world_factory: Callable[..., World]) -> World:
    return world_factory({AGENT: reader_spec(AGENT)})


def _url(proxy: FaultProxy) -> str:
    return f"https://{proxy.address}"


def test_the_ids_are_what_the_audit_device_writes(world: World, fault_proxy: Callable[[int], FaultProxy]) -> None:
    proxy = fault_proxy(int(world.server.address.rsplit(":", 1)[1]))
    result = fetch_audit_ids(world.plan, _url(proxy), world.server.root_token, ca_cert=str(world.server.ca_cert_path))
    ids = result.ids[world.agent(AGENT).identity_name]
    expected = world.client.write_data(f"sys/audit-hash/{world.server.audit_device}",
                                       data={"input": world.role_id(AGENT)})["data"]["hash"]
    assert ids.role_id_hmac == expected and ids.entity_id == world.entity_id(AGENT)
    assert ids.name_hmac.startswith("hmac-sha256:") and result.missing == []


def test_down_hung_and_slow_vaults_answer_within_the_deadline(world: World,
                                                              fault_proxy: Callable[[int], FaultProxy]) -> None:
    proxy = fault_proxy(int(world.server.address.rsplit(":", 1)[1]))
    ca = str(world.server.ca_cert_path)
    proxy.down()
    started = time.monotonic()
    with pytest.raises(VaultUnavailable, match="cannot reach Vault"):
        fetch_audit_ids(world.plan, _url(proxy), world.server.root_token, ca_cert=ca, deadline_s=3)
    assert time.monotonic() - started < 6  # three attempts with short backoff, never the socket's default
    proxy.hang()
    started = time.monotonic()
    with pytest.raises(VaultTimeout):
        fetch_audit_ids(world.plan, _url(proxy), world.server.root_token, ca_cert=ca, deadline_s=3)
    assert time.monotonic() - started < 3 * 2  # the deadline, with a margin for a loaded machine
    proxy.slow(0.05)
    result = fetch_audit_ids(world.plan, _url(proxy), world.server.root_token, ca_cert=ca, deadline_s=30)
    assert list(result.ids) == [world.agent(AGENT).identity_name]


def test_the_command_says_what_failed_in_one_line(world: World, fault_proxy: Callable[[int], FaultProxy],
                                                 tmp_path) -> None:
    proxy = fault_proxy(int(world.server.address.rsplit(":", 1)[1]))
    proxy.down()
    result = CliRunner().invoke(cli, ["audit-ids", "--env", world.env, "--output", str(tmp_path / "ids.json"),
                                      "--timeout", "3", "--specs", str(world.specs_dir), "--stacks",
                                      str(world.stacks_dir)],
                                env={"VAULT_ADDR": _url(proxy), "VAULT_TOKEN": world.server.root_token,
                                     "VAULT_CACERT": str(world.server.ca_cert_path)})
    assert result.exit_code == 2 and not (tmp_path / "ids.json").exists()
    assert result.stderr.startswith("error: identity/entity/name/") and "cannot reach Vault" in result.stderr
    assert "Traceback" not in result.output
