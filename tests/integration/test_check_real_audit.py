"""`agentiam check` on audit lines the real OpenBao wrote during this test: logins, a burst of failed logins, a
permission-denied read, normal reads, and agents whose reviewed spec no longer matches what they do (suspended,
expired, moved). Every planted condition is found; the clean agent gives nothing; failed logins are attributed
through `sys/audit-hash` (`agentiam audit-ids`), and without those ids they are reported per mount instead."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from agentiam.audit.model import format_time, parse_time
from agentiam.cli.main import cli
from agentiam.client import AgentSession, LoginRefused, PermissionDenied
from agentiam.client.vault import VaultApi
from tests import servers
from tests.check.history_repo import commit_all
from tests.integration.world import EXPIRES, World, reader_spec

CLEAN, IDLE, TARGET, GHOST, EXPIRED, MOVED = "clean-reader", "idle-reader", "brute-target", "ghost", "lapsed", "moved"
FAILED_LOGINS = 6


def _run(world: World, *args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(cli, [*args, "--specs", str(world.specs_dir), "--stacks", str(world.stacks_dir)],
                                env=env)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.stdout


@pytest.fixture(scope="module")
def scenario(world_factory: Callable[..., World], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    world = world_factory({name: reader_spec(name) for name in (CLEAN, IDLE, TARGET, GHOST, EXPIRED, MOVED)})
    now = dt.datetime.now(dt.timezone.utc)
    commit_all(world.root, now - dt.timedelta(days=40), "reviewed agents")
    started = time.time()
    own = world.agent(CLEAN).vault.database_roles[0]
    other = world.agent(IDLE).vault.database_roles[0]
    with AgentSession(world.settings(CLEAN)) as session:
        session.database(own.name)
        with pytest.raises(PermissionDenied):
            session.read(f"{other.mount}/creds/{other.name}")
    for name in (GHOST, EXPIRED, MOVED):  # still provisioned as active: they work
        with AgentSession(world.settings(name)) as session:
            session.database(world.agent(name).vault.database_roles[0].name)
    api = VaultApi(world.server.address, ca_cert=str(world.server.ca_cert_path))
    for i in range(FAILED_LOGINS):
        with pytest.raises(LoginRefused):
            api.approle_login(world.agent(TARGET).vault.approle.mount, world.role_id(TARGET), f"bad-secret-{i}")
    api.close()
    # The reviewed specs change an hour ago, and nobody deployed them: the agents above did not stop.
    world.write_spec(GHOST, reader_spec(GHOST, status="suspended"))
    yesterday = (now - dt.timedelta(days=1)).date().isoformat()
    world.write_spec(EXPIRED, reader_spec(EXPIRED).replace(f"expires: {EXPIRES}", f"expires: {yesterday}"))
    world.write_spec(MOVED, reader_spec(MOVED).replace("credentials:", "authentication:\n  bound_cidrs: "
                                                                        "[10.99.0.0/16]\ncredentials:"))
    commit_all(world.root, now - dt.timedelta(hours=1), "suspend, expire, move")
    login_path = f"auth/{world.agent(TARGET).vault.approle.mount}/login"
    servers.audit_entries(world.server.audit_log_path, lambda e: e["type"] == "response"
                          and e["request"]["path"] == login_path and "error" in e, expected=FAILED_LOGINS)
    ids = tmp_path_factory.mktemp("ids") / "ids.json"
    code, _ = _run(world, "audit-ids", "--env", world.env, "--output", str(ids),
                   env={"VAULT_ADDR": world.server.address, "VAULT_TOKEN": world.server.root_token,
                        "VAULT_CACERT": str(world.server.ca_cert_path)})
    assert code == 0
    first_line = world.server.audit_log_path.open().readline()
    since = min(started - 1, parse_time(json.loads(first_line)["time"]))  # what the log covers
    until = time.time() + 0.5
    return {"world": world, "ids": ids, "since": format_time(since), "until": format_time(until)}


def _check(scenario: dict[str, Any], *extra: str) -> tuple[int, dict[str, Any]]:
    world = scenario["world"]
    code, out = _run(world, "check", str(world.server.audit_log_path), "--env", world.env, "--since",
                     scenario["since"], "--until", scenario["until"], "--format", "json", *extra)
    return code, json.loads(out)


def test_every_planted_condition_is_found_and_the_clean_agent_gives_none(scenario: dict[str, Any]) -> None:
    code, report = _check(scenario, "--audit-ids", str(scenario["ids"]))
    world = scenario["world"]
    other = world.agent(IDLE).vault.database_roles[0]
    found = {(f["rule_id"], f["agent"], f["severity"]) for f in report["findings"]}
    assert found == {
        ("CHK011", CLEAN, "high"),  # another agent's database credentials
        ("CHK003", IDLE, "low"),  # never asked for its credentials
        ("CHK003", TARGET, "low"),  # never logged in at all
        ("CHK020", TARGET, "medium"),  # six failed logins with its role id
        ("CHK031", GHOST, "high"),  # allowed while its spec says suspended
        ("CHK030", EXPIRED, "high"),  # used after its expiry date
        ("CHK032", MOVED, "high"),  # used from outside its bound networks
    }, report["findings"]
    assert code == 1
    denied = next(f for f in report["findings"] if f["rule_id"] == "CHK011")
    assert denied["subject"] == f"read {other.mount}/creds/{other.name}" and denied["count"] == 1
    assert all(line.startswith(f"{world.server.audit_log_path}:") for line in denied["evidence"][0]["lines"])
    assert len(denied["evidence"][0]["lines"]) == 2  # request and response lines, paired by request.id
    burst = next(f for f in report["findings"] if f["rule_id"] == "CHK020")
    assert burst["count"] == FAILED_LOGINS and burst["field"] == "authentication"
    moved = next(f for f in report["findings"] if f["rule_id"] == "CHK032")
    assert moved["subject"] == "127.0.0.1"
    unused = next(f for f in report["findings"] if f["agent"] == IDLE)
    assert unused["field"] == "permissions.databases[billing]"
    assert unused["suggestion"].startswith("remove permissions.databases[billing]")
    activity = {a["agent"]: a for a in report["agents"]}
    assert activity[CLEAN]["logins"] >= 1 and activity[CLEAN]["denied"] == 1 and activity[CLEAN]["unused"] == 0
    assert activity[TARGET]["failed_logins"] == FAILED_LOGINS


def test_without_audit_ids_failed_logins_are_reported_per_auth_mount(scenario: dict[str, Any]) -> None:
    _, report = _check(scenario)
    rules = {(f["rule_id"], f["agent"]) for f in report["findings"]}
    assert ("CHK020", TARGET) not in rules and ("CHK021", None) in rules
    unattributed = next(f for f in report["findings"] if f["rule_id"] == "CHK021")
    assert unattributed["count"] >= FAILED_LOGINS and "127.0.0.1" in unattributed["subject"]
    assert any("no audit ids loaded" in note for note in report["notes"])


def test_events_exports_the_agents_records_as_json_lines(scenario: dict[str, Any], tmp_path: Path) -> None:
    world = scenario["world"]
    out = tmp_path / "events.jsonl"
    code, _ = _run(world, "events", str(world.server.audit_log_path), "--since", scenario["since"], "--until",
                   scenario["until"], "--audit-ids", str(scenario["ids"]), "--env", world.env, "--output", str(out))
    assert code == 0
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert {r["environment"] for r in records} == {world.env}
    failed = [r for r in records if r["agent"] == TARGET and r["result"] == "denied"]
    assert len(failed) == FAILED_LOGINS and {r["recognised_by"] for r in failed} == {"role-id-hash"}
    assert {r["category"] for r in failed} == {"authentication"}
    own = "/creds/" + world.agent(CLEAN).vault.database_roles[0].name
    read = next(r for r in records if r["agent"] == CLEAN and r["resource"].endswith(own))
    assert read["result"] == "allowed" and read["source"] == "vault" and read["action"] == "read"
    assert read["recognised_by"] == "entity" and len(read["ids"]) == 1 and len(read["lines"]) == 2
    assert world.role_id(TARGET) not in out.read_text()
