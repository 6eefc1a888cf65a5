"""`agentiam inventory --live` when a server is down, hung or slow (a fault-injecting proxy in front of the real
OpenBao and moto): a down or hung server ends its part of the scan within the request timeout and the report (exit 2)
says exactly what was and was not checked; the other server is still read; a slow server only makes the scan slower;
the scan's own deadline bounds the whole run.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from click.testing import Result

from tests import servers
from tests.faults import FaultProxy
from tests.integration.test_inventory_live import inventory, provision_aws, s3_spec
from tests.integration.world import World, reader_spec

TIMEOUT = 1.0  # --request-timeout in these tests; each hung server may cost two attempts of it


@pytest.fixture(scope="module")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[servers.MotoServer]:
    with servers.run_moto(tmp_path_factory.mktemp("moto-faults")) as server:
        yield server


@pytest.fixture(scope="module")
def world(world_factory: Callable[[dict[str, str]], World], moto: servers.MotoServer) -> World:
    made = world_factory({"ledger-reader": reader_spec("ledger-reader"), "s3-reader": s3_spec("s3-reader")})
    provision_aws(made, moto)
    return made


@pytest.fixture
def vault_proxy(world: World) -> Iterator[FaultProxy]:
    host, port = world.server.address.removeprefix("https://").split(":")
    with FaultProxy(host, int(port)) as proxy:
        yield proxy


@pytest.fixture
def aws_proxy(moto: servers.MotoServer) -> Iterator[FaultProxy]:
    host, port = moto.endpoint_url.removeprefix("http://").split(":")
    with FaultProxy(host, int(port)) as proxy:
        yield proxy


def run(world: World, moto: servers.MotoServer, *args: str, vault: FaultProxy | None = None,
        aws: FaultProxy | None = None) -> tuple[Result, dict[str, Any], float]:
    """`inventory` through the proxies given, with the tests' request timeout; also how long it took."""
    started = time.monotonic()
    result, report = inventory(world, moto, "--request-timeout", str(TIMEOUT), *args,
                               vault_addr=f"https://{vault.address}" if vault else None,
                               aws_endpoint=f"http://{aws.address}" if aws else None)
    return result, report, time.monotonic() - started


def outcomes(report: dict[str, Any], system: str) -> list[str]:
    return [c["outcome"] for c in report["checks"] if c["system"] == system]


def assert_cut_off(report: dict[str, Any], system: str, first_detail: str) -> None:
    """The first part of `system` FAILED with `first_detail`, the rest of it was not checked, the other system was."""
    checks = [c for c in report["checks"] if c["system"] == system]
    assert checks[0]["outcome"] == "FAILED" and first_detail in checks[0]["detail"], checks[0]
    assert {c["outcome"] for c in checks[1:]} == {"not checked"}
    assert all(f"{system} could not be reached" in c["detail"] for c in checks[1:])
    assert set(outcomes(report, "aws" if system == "vault" else "vault")) == {"checked"}
    assert report["complete"] is False


def test_through_the_proxies_the_world_is_in_sync(world: World, moto: servers.MotoServer, vault_proxy: FaultProxy,
                                                   aws_proxy: FaultProxy) -> None:
    result, report, _ = run(world, moto, vault=vault_proxy, aws=aws_proxy)
    assert result.exit_code == 0, result.output
    assert report["findings"] == []


def test_vault_down_fails_the_vault_parts_reads_aws_and_exits_2(world: World, moto: servers.MotoServer,
                                                                vault_proxy: FaultProxy) -> None:
    vault_proxy.down()
    result, report, took = run(world, moto, vault=vault_proxy)
    assert result.exit_code == 2
    assert_cut_off(report, "vault", "cannot reach Vault at https://")
    assert report["findings"] == []
    assert took < 30  # refused at once; no retry storm
    text, _ = inventory(world, moto, "--no-aws", "--request-timeout", "1", vault_addr=f"https://{vault_proxy.address}",
                        fmt="text")
    assert text.exit_code == 2
    assert "INCOMPLETE: some parts could not be read" in text.stdout
    assert re.search(r"\n  aws +every AWS part \(--no-aws\) +skipped +not requested\n", text.stdout), text.stdout


def test_vault_hung_ends_within_the_request_timeout_and_exits_2(world: World, moto: servers.MotoServer,
                                                                vault_proxy: FaultProxy) -> None:
    vault_proxy.hang()
    result, report, took = run(world, moto, vault=vault_proxy)
    assert result.exit_code == 2
    assert_cut_off(report, "vault", f"did not answer within {TIMEOUT:g} s (hung?)")
    # Two attempts of TIMEOUT on the first read, then nothing more is sent to Vault; the margin is for a loaded
    # machine (the compile and the AWS part run too).
    assert vault_proxy.accepted <= 2
    assert took < 2 * TIMEOUT + 25


def test_aws_hung_fails_the_aws_parts_and_still_reads_vault(world: World, moto: servers.MotoServer,
                                                            aws_proxy: FaultProxy) -> None:
    aws_proxy.hang()
    result, report, _ = run(world, moto, aws=aws_proxy)
    assert result.exit_code == 2
    assert_cut_off(report, "aws", "iam:ListRoles")


def test_a_slow_vault_only_makes_the_scan_slower(world: World, moto: servers.MotoServer,
                                                 vault_proxy: FaultProxy) -> None:
    vault_proxy.slow(0.05)  # every chunk each way: well under the request timeout
    result, report, _ = run(world, moto, vault=vault_proxy)
    assert result.exit_code == 0, result.output
    assert report["findings"] == [] and report["complete"] is True


def test_the_scan_deadline_bounds_the_whole_run(world: World, moto: servers.MotoServer,
                                                vault_proxy: FaultProxy) -> None:
    vault_proxy.slow(0.3)  # each request answers, slowly: only the scan's own deadline stops it
    result, report, took = run(world, moto, "--scan-timeout", "2", vault=vault_proxy)
    assert result.exit_code == 2
    skipped = [c for c in report["checks"] if c["outcome"] == "not checked"]
    assert skipped and all("deadline (2 s) passed" in c["detail"] for c in skipped)
    assert {c["system"] for c in skipped} == {"vault", "aws"}
    assert took < 2 + 2 * TIMEOUT + 25
