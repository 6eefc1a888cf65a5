"""`agentiam migrate status` and `revoke-legacy` with Vault or AWS down, hung or slow (the fault proxy in front of
the real OpenBao and moto): each answers within its deadline, says what failed, and never claims what it did not
read back. A server lost before anything is touched leaves everything as it was; one lost mid-way leaves the
steps done before it done (read back) and the rest FAILED, for a re-run to finish."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
from click.testing import CliRunner, Result

from agentiam.cli.main import cli
from agentiam.cli.migrate import EXIT_DONE, EXIT_FAILED
from agentiam.client import AgentSession
from agentiam.migrate.legacy import Step
from tests import servers
from tests.audit.cloudtrail_records import access_key_call, json_lines
from tests.faults import FaultProxy
from tests.integration.test_migrate import _exists
from tests.integration.world import World, reader_spec

AGENT = "ledger-reader"
REQUEST_TIMEOUT = 1.0
TIMEOUT = 6.0  # --timeout of the runs facing a hung server


@dataclass
class Setup:
    world: World
    key_user: str
    key_id: str
    accessor: str
    trail: Path
    start: dt.datetime


def _setup(world_factory: Callable[..., World], moto: servers.MotoServer, tmp_path: Path) -> Setup:
    """One agent, a legacy IAM key and a legacy Vault token used before its parallel run, its identity after."""
    world = world_factory({AGENT: reader_spec(AGENT)})
    iam = boto3.client("iam", **moto.client_kwargs())
    aws = world.agent(AGENT).aws
    iam.create_role(RoleName=aws.role_name, Path=aws.role_path, AssumeRolePolicyDocument=json.dumps(aws.trust_policy))
    user = f"{world.env}-legacy"
    iam.create_user(UserName=user)
    key = iam.create_access_key(UserName=user)["AccessKey"]["AccessKeyId"]
    token = world.client.auth.token.create(policies=["default"], ttl="768h")["auth"]
    legacy = world.client.__class__(url=world.server.address, token=token["client_token"],
                                    verify=str(world.server.ca_cert_path), timeout=10)
    legacy.auth.token.lookup_self()  # the legacy client at work, before the cutover
    legacy.adapter.close()
    used = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    trail = tmp_path / "cloudtrail.jsonl"
    trail.write_bytes(json_lines([access_key_call("123456789012", user, key, used, source_ip="127.0.0.1")]))
    start = used + dt.timedelta(seconds=2)
    while dt.datetime.now(dt.timezone.utc) < start + dt.timedelta(seconds=1):
        time.sleep(0.1)
    AgentSession(world.settings(AGENT)).token()  # the agent on its own identity, after the cutover
    world.write_spec(AGENT, reader_spec(AGENT) + (
        f"migration:\n  environments:\n    {world.env}:\n      parallel_run_started: {start:%Y-%m-%dT%H:%M:%SZ}\n"
        f"      legacy:\n        iam_access_keys:\n          - {{id: {key}, user: {user}}}\n"
        f"        vault_tokens:\n          - accessor: {token['accessor']}\n"))
    return Setup(world, user, key, token["accessor"], trail, start)


def _run(setup: Setup, moto: servers.MotoServer, monkeypatch: pytest.MonkeyPatch, *args: str,
         vault_addr: str | None = None, aws_endpoint: str | None = None) -> Result:
    monkeypatch.setattr("agentiam.cli.migrate.utcnow", lambda: setup.start + dt.timedelta(hours=49))
    world = setup.world
    env = {**moto.env, "VAULT_ADDR": vault_addr or world.server.address, "VAULT_TOKEN": world.server.root_token,
           "VAULT_CACERT": str(world.server.ca_cert_path)}
    return CliRunner().invoke(cli, ["migrate", *args, "--env", world.env, "--specs", str(world.specs_dir),
                                    "--stacks", str(world.stacks_dir), "--aws-endpoint-url",
                                    aws_endpoint or moto.endpoint_url, "--logs", str(world.server.audit_log_path),
                                    "--logs", str(setup.trail), "--request-timeout", str(REQUEST_TIMEOUT),
                                    "--timeout", str(TIMEOUT), "--format", "json"], env=env)


def _key_status(moto: servers.MotoServer, setup: Setup) -> str:
    iam = boto3.client("iam", **moto.client_kwargs())
    return iam.list_access_keys(UserName=setup.key_user)["AccessKeyMetadata"][0]["Status"]


def _token_exists(setup: Setup) -> bool:
    return _exists(setup.world, setup.accessor)  # only "Vault no longer knows it" counts as gone


def _proxied(proxy: FaultProxy, url: str) -> str:
    scheme = url.split("://", 1)[0]
    return f"{scheme}://{proxy.address}"


@pytest.mark.parametrize("fault", ["down", "hang"])
def test_vault_lost_before_anything_is_touched_leaves_everything_as_it_was(
        fault: str, world_factory: Callable[..., World], moto_server: servers.MotoServer,
        fault_proxy: Callable[[int], FaultProxy], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    setup = _setup(world_factory, moto_server, tmp_path)
    vault = fault_proxy(int(setup.world.server.address.rsplit(":", 1)[1]))
    getattr(vault, fault)()
    started = time.monotonic()
    result = _run(setup, moto_server, monkeypatch, "revoke-legacy", AGENT, "--yes",
                  vault_addr=_proxied(vault, setup.world.server.address))
    took = time.monotonic() - started
    assert result.exit_code == EXIT_FAILED, result.output
    report = json.loads(result.stdout)
    assert report["refused"] == "the new identity could not be read: nothing was touched"
    (step,) = report["steps"]
    assert step["outcome"] == "FAILED" and "identity/entity/name" in step["detail"]
    assert took < TIMEOUT + 4, took  # bounded by the deadline, a hung Vault included
    assert _key_status(moto_server, setup) == "Active" and _token_exists(setup)
    status = _run(setup, moto_server, monkeypatch, "status", vault_addr=_proxied(vault, setup.world.server.address))
    assert status.exit_code == EXIT_FAILED, status.output
    (agent,) = json.loads(status.stdout)["agents"]
    assert any(note.startswith("could not read the new identity") for note in agent["notes"]), agent
    vault.up()
    healed = _run(setup, moto_server, monkeypatch, "revoke-legacy", AGENT, "--yes",
                  vault_addr=_proxied(vault, setup.world.server.address))
    assert healed.exit_code == EXIT_DONE, healed.output
    assert _key_status(moto_server, setup) == "Inactive" and not _token_exists(setup)


@pytest.mark.parametrize("fault", ["down", "hang"])
def test_aws_lost_is_answered_within_the_deadline_and_touches_nothing(
        fault: str, world_factory: Callable[..., World], moto_server: servers.MotoServer,
        fault_proxy: Callable[[int], FaultProxy], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    setup = _setup(world_factory, moto_server, tmp_path)
    aws = fault_proxy(int(moto_server.endpoint_url.rsplit(":", 1)[1]))
    getattr(aws, fault)()
    started = time.monotonic()
    result = _run(setup, moto_server, monkeypatch, "revoke-legacy", AGENT, "--yes",
                  aws_endpoint=f"http://{aws.address}")
    took = time.monotonic() - started
    assert result.exit_code == EXIT_FAILED, result.output
    (step,) = json.loads(result.stdout)["steps"]
    assert step["outcome"] == "FAILED" and "iam:GetRole" in step["detail"], step
    assert took < TIMEOUT + 4, took
    assert _token_exists(setup), "nothing on Vault was touched either"
    assert _key_status(moto_server, setup) == "Active"
    status = _run(setup, moto_server, monkeypatch, "status", aws_endpoint=f"http://{aws.address}")
    assert status.exit_code == EXIT_FAILED, status.output
    (agent,) = json.loads(status.stdout)["agents"]
    assert any(note.startswith("could not read the new identity") for note in agent["notes"]), agent


def test_a_slow_vault_and_aws_still_complete(world_factory: Callable[..., World], moto_server: servers.MotoServer,
                                             fault_proxy: Callable[[int], FaultProxy],
                                             monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    setup = _setup(world_factory, moto_server, tmp_path)
    vault = fault_proxy(int(setup.world.server.address.rsplit(":", 1)[1]))
    aws = fault_proxy(int(moto_server.endpoint_url.rsplit(":", 1)[1]))
    vault.slow(0.05)
    aws.slow(0.05)
    result = _run(setup, moto_server, monkeypatch, "revoke-legacy", AGENT, "--yes",
                  vault_addr=_proxied(vault, setup.world.server.address), aws_endpoint=f"http://{aws.address}")
    assert result.exit_code == EXIT_DONE, result.output
    outcomes = {s["action"]: s["outcome"] for s in json.loads(result.stdout)["steps"]}
    assert outcomes == {"the new identity exists": "checked", "the parallel run has lasted": "checked",
                        "deactivate access key": "deactivated", "revoke token": "revoked"}


def test_vault_hung_mid_way_keeps_what_was_done_and_reports_the_rest_failed(
        world_factory: Callable[..., World], moto_server: servers.MotoServer,
        fault_proxy: Callable[[int], FaultProxy], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    setup = _setup(world_factory, moto_server, tmp_path)
    vault = fault_proxy(int(setup.world.server.address.rsplit(":", 1)[1]))

    def hang_after_aws(step: Step) -> None:  # Vault stops answering once the IAM key is done
        if step.system == "aws":
            vault.hang()

    monkeypatch.setattr("agentiam.cli.migrate._progress", hang_after_aws)
    started = time.monotonic()
    result = _run(setup, moto_server, monkeypatch, "revoke-legacy", AGENT, "--yes",
                  vault_addr=_proxied(vault, setup.world.server.address))
    took = time.monotonic() - started
    assert result.exit_code == EXIT_FAILED, result.output
    report = json.loads(result.stdout)
    outcomes = {s["action"]: s["outcome"] for s in report["steps"]}
    assert outcomes["deactivate access key"] == "deactivated" and outcomes["read"] == "FAILED", outcomes
    assert report["result"] == "failed"
    assert took < TIMEOUT + 4, took
    assert _key_status(moto_server, setup) == "Inactive"
    vault.up()
    assert _token_exists(setup), "the token step never completed: it must not be reported revoked"
    monkeypatch.setattr("agentiam.cli.migrate._progress", lambda step: None)
    again = _run(setup, moto_server, monkeypatch, "revoke-legacy", AGENT, "--yes",
                 vault_addr=_proxied(vault, setup.world.server.address))
    assert again.exit_code == EXIT_DONE, again.output
    outcomes = {s["action"]: s["outcome"] for s in json.loads(again.stdout)["steps"]}
    assert outcomes["read"] == "already retired" and outcomes["revoke token"] == "revoked"
