"""`agentiam migrate` against the real OpenBao and a moto server that refuses inactive keys as AWS does: one agent
walked through the whole migration.

The agent ran on shared credentials (two IAM access keys of service users, a long-lived Vault token, a shared
AppRole role); one key is shared with another agent, one belongs to another team. It switches to its own identity,
declares its parallel run, and then: revoke-legacy refuses before 48 hours; `--force` needs a reason, records it and
acts, but its operator token may not delete the legacy role, so the run fails mid-way and says so; after 48 hours a
normal run finishes the rest; the keys and the token are refused from then on; the shared key is kept until the
other agent has migrated, the other team's never (no evidence it is this agent's); every re-run changes nothing.
Time is moved by replacing the command's clock; everything else is real, the logs included (the OpenBao audit log,
and CloudTrail records in the documented format for the calls moto made, which it does not log).
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import botocore.exceptions
import hvac
import pytest
from click.testing import CliRunner, Result

from agentiam.cli.main import cli
from agentiam.cli.migrate import EXIT_DONE, EXIT_FAILED, EXIT_KEPT, EXIT_NOTHING
from agentiam.client import AgentSession, LoginRefused
from agentiam.client.vault import VaultApi
from agentiam.migrate.policy import vault_policy
from agentiam.migrate.state import operator as run_operator
from agentiam.project import compile_plan
from tests import servers
from tests.audit.cloudtrail_records import access_key_call, json_lines
from tests.integration.world import World, reader_spec
from tests.migrate.docs import Capture, Scrub, console, section

MIGRANT = "report-reader"
SHARER = "finance-exporter"
ACCOUNT = "123456789012"  # moto's
OWN_ADDRESS = "127.0.0.1"  # where the tests' agents and legacy clients run from
FOREIGN_ADDRESS = "10.20.30.40"  # another team's service, using its own key


@pytest.fixture(scope="module")
def strict_moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[servers.MotoServer]:
    with servers.run_moto(tmp_path_factory.mktemp("moto-strict"), strict_keys=True) as server:
        yield server


@dataclass
class Key:
    user: str
    id: str
    secret: str


@dataclass
class Legacy:
    """The shared credentials the agent ran on, and the other team's key."""

    own: Key  # this agent's service user
    batch: Key  # a user all of whose keys are legacy
    shared: Key  # also declared by SHARER
    foreign: Key  # another team's: listed by mistake
    token: str
    accessor: str
    mount: str
    role: str
    role_id: str
    role_token: str


def _key(iam: object, user: str) -> Key:
    iam.create_user(UserName=user)  # type: ignore[attr-defined]
    key = iam.create_access_key(UserName=user)["AccessKey"]  # type: ignore[attr-defined]
    return Key(user, key["AccessKeyId"], key["SecretAccessKey"])


def _sts(moto: servers.MotoServer, key: Key) -> object:
    return boto3.client("sts", endpoint_url=moto.endpoint_url, region_name=moto.region,
                        aws_access_key_id=key.id, aws_secret_access_key=key.secret)


def _refused(moto: servers.MotoServer, key: Key) -> bool:
    try:
        _sts(moto, key).get_caller_identity()  # type: ignore[attr-defined]
    except botocore.exceptions.ClientError as exc:
        return exc.response["Error"]["Code"] == "InvalidClientTokenId"
    return False


def _token_alive(world: World, token: str) -> bool:
    client = hvac.Client(url=world.server.address, token=token, verify=str(world.server.ca_cert_path), timeout=10)
    try:
        client.auth.token.lookup_self()
        return True
    except hvac.exceptions.Forbidden:
        return False
    finally:
        client.adapter.close()


def _status(iam: object, key: Key) -> str:
    """The key's status as IAM lists it (reading it does not count as a use of the key, signing with it would)."""
    keys = iam.list_access_keys(UserName=key.user)["AccessKeyMetadata"]  # type: ignore[attr-defined]
    return next(k["Status"] for k in keys if k["AccessKeyId"] == key.id)


def _exists(world: World, accessor: str) -> bool:
    try:
        world.client.auth.token.lookup_accessor(accessor)
        return True
    except hvac.exceptions.InvalidRequest:
        return False


def _legacy(world: World, moto: servers.MotoServer) -> Legacy:
    """The legacy credentials, each used once (now), as the agent and the other team used them."""
    iam = boto3.client("iam", **moto.client_kwargs())
    for name in (MIGRANT, SHARER):  # the agents' own roles, as the components create them
        aws = world.agent(name).aws
        iam.create_role(RoleName=aws.role_name, Path=aws.role_path,
                        AssumeRolePolicyDocument=json.dumps(aws.trust_policy))
    own, batch, shared, foreign = (_key(iam, user) for user in (f"{world.env}-reporting", f"{world.env}-batch",
                                                                f"{world.env}-shared", f"{world.env}-payments"))
    for key in (own, batch, shared, foreign):
        _sts(moto, key).get_caller_identity()  # type: ignore[attr-defined]  # moto records the key's last use
    root = world.client
    created = root.auth.token.create(policies=["default"], ttl="768h", renewable=True)["auth"]
    mount = f"{world.env}-legacy"
    root.sys.enable_auth_method("approle", path=mount)
    root.write(f"auth/{mount}/role/shared-reporting", token_policies=["default"], token_ttl="768h")
    role_id = root.read(f"auth/{mount}/role/shared-reporting/role-id")["data"]["role_id"]
    secret_id = root.write(f"auth/{mount}/role/shared-reporting/secret-id")["data"]["secret_id"]
    login = root.write(f"auth/{mount}/login", role_id=role_id, secret_id=secret_id)["auth"]
    for token in (created["client_token"], login["client_token"]):  # the legacy clients at work
        assert _token_alive(world, token)
    return Legacy(own, batch, shared, foreign, created["client_token"], created["accessor"], mount,
                  "shared-reporting", role_id, login["client_token"])


def _migration(world: World, legacy: Legacy, start: str | None, keys: list[Key], *, vault: bool = True,
               users: tuple[Key, ...] = ()) -> str:
    started = f"      parallel_run_started: {start}\n" if start else ""
    text = (f"migration:\n  wave: 1\n  environments:\n    {world.env}:\n{started}"
            "      note: the shared reporting account of the finance dashboards\n      legacy:\n"
            "        iam_access_keys:\n" + "".join(f"          - {{id: {k.id}, user: {k.user}}}\n" for k in keys))
    if users:
        text += "        iam_users: [" + ", ".join(k.user for k in users) + "]\n"
    if vault:
        text += (f"        vault_roles:\n          - {{mount: {legacy.mount}, role: {legacy.role}}}\n"
                 f"        vault_tokens:\n          - accessor: {legacy.accessor}\n")
    return text


def _write(world: World, name: str, migration: str) -> None:
    world.write_spec(name, reader_spec(name) + migration)


def _stamp(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Runner:
    world: World
    moto: servers.MotoServer
    trail: Path
    monkeypatch: pytest.MonkeyPatch
    outputs: list[str] = field(default_factory=list)  # everything the commands printed, checked for secrets
    token: str | None = None  # the operator's Vault token (None: root)

    def __call__(self, *args: str, clock: dt.datetime, token: str | None = None, logs: bool = True,
                 vault_addr: str | None = None, aws_endpoint: str | None = None) -> Result:
        self.monkeypatch.setattr("agentiam.cli.migrate.utcnow", lambda: clock)
        world = self.world
        env = {**self.moto.env, "VAULT_ADDR": vault_addr or world.server.address,
               "VAULT_TOKEN": token or self.token or world.server.root_token,
               "VAULT_CACERT": str(world.server.ca_cert_path)}
        extra = ["--logs", str(world.server.audit_log_path), "--logs", str(self.trail)] if logs else []
        result = CliRunner().invoke(cli, ["migrate", *args, "--env", world.env, "--specs", str(world.specs_dir),
                                          "--stacks", str(world.stacks_dir), "--aws-endpoint-url",
                                          aws_endpoint or self.moto.endpoint_url, *extra], env=env)
        self.outputs.append(result.output)
        return result

    def json(self, *args: str, clock: dt.datetime, expect: int, **kwargs: object) -> dict:
        result = self(*args, "--format", "json", clock=clock, **kwargs)  # type: ignore[arg-type]
        assert result.exit_code == expect, result.output
        return json.loads(result.stdout)


def _outcomes(report: dict) -> dict[str, str]:
    return {f"{s['action']}: {s['target']}": s["outcome"] for s in report["steps"]}


@pytest.fixture(scope="module")
def migration(world_factory: Callable[..., World], strict_moto: servers.MotoServer,
              tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[World, Legacy, Path, dt.datetime]]:
    """The world after the legacy credentials were used and the agent switched: (world, legacy, CloudTrail file,
    the declared start of the parallel run)."""
    world = world_factory({MIGRANT: reader_spec(MIGRANT), SHARER: reader_spec(SHARER)})
    legacy = _legacy(world, strict_moto)
    used = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    trail = tmp_path_factory.mktemp("trail") / "cloudtrail.jsonl"
    # CloudTrail delivers the calls moto made a minute earlier than IAM's last use, so the status shows IAM's as
    # the latest whatever second the calls fell in (docs/migrate.md shows it).
    logged = used - dt.timedelta(minutes=1)
    trail.write_bytes(json_lines(
        [access_key_call(ACCOUNT, k.user, k.id, logged, source_ip=OWN_ADDRESS)
         for k in (legacy.own, legacy.batch, legacy.shared)]
        + [access_key_call(ACCOUNT, legacy.foreign.user, legacy.foreign.id, logged, source_ip=FOREIGN_ADDRESS)]))
    start = used + dt.timedelta(seconds=2)
    while dt.datetime.now(dt.timezone.utc) < start + dt.timedelta(seconds=1):  # the agent switches after `start`
        time.sleep(0.1)
    yield world, legacy, trail, start


def test_one_agent_walks_through_the_migration(migration: tuple[World, Legacy, Path, dt.datetime],
                                               strict_moto: servers.MotoServer, monkeypatch: pytest.MonkeyPatch,
                                               tmp_path: Path) -> None:
    world, legacy, trail, start = migration
    run = Runner(world, strict_moto, trail, monkeypatch)
    capture = Capture()
    capture.install(monkeypatch)
    keys = [legacy.own, legacy.shared, legacy.foreign]
    users = (legacy.batch,)  # a legacy IAM user: every key of it
    iam = boto3.client("iam", **strict_moto.client_kwargs())

    # 1. Declared, not started: the new identity exists, the parallel run has not begun. The other agent declares
    #    the shared key too, its own migration not started.
    _write(world, MIGRANT, _migration(world, legacy, None, keys, users=users))
    _write(world, SHARER, _migration(world, legacy, None, [legacy.shared], vault=False))
    (status,) = run.json("status", MIGRANT, clock=start, expect=EXIT_DONE)["agents"]
    assert (status["agent"], status["stage"], status["live"]) == (MIGRANT, "parallel run not started", True)
    refused = run("revoke-legacy", MIGRANT, "--yes", clock=start)
    assert refused.exit_code == EXIT_NOTHING and "has not started its parallel run" in refused.output

    # 2. The agent runs on its own identity from `start`; the spec says so. Two hours later: in parallel run.
    _write(world, MIGRANT, _migration(world, legacy, _stamp(start), keys, users=users))
    session = AgentSession(world.settings(MIGRANT))
    session.token()
    api = VaultApi(world.server.address, ca_cert=str(world.server.ca_cert_path))
    with pytest.raises(LoginRefused):  # a failed login after the cutover: counted by status
        api.approle_login(world.agent(MIGRANT).vault.approle.mount, world.role_id(MIGRANT), "not-the-secret-id")
    two_hours = start + dt.timedelta(hours=2)
    (status,) = run.json("status", MIGRANT, clock=two_hours, expect=EXIT_DONE)["agents"]
    assert status["stage"] == "in parallel run" and status["start"] == _stamp(start)
    assert status["ready_at"] == _stamp(start + dt.timedelta(hours=48))
    # Live state: IAM's last use of each legacy key (the calls before the cutover), read with GetAccessKeyLastUsed.
    creds = {c["credential"]: c for c in status["credentials"]}
    for key in (legacy.own, legacy.shared, legacy.foreign):
        own_key = creds[f"IAM access key {key.id} (user {key.user})"]
        assert own_key["state"] == "active" and own_key["last_used_from"] == "IAM", own_key
        assert start - dt.timedelta(minutes=5) <= dt.datetime.fromisoformat(own_key["last_used"]) < start
    assert creds[f"IAM user {legacy.batch.user} (every access key)"]["last_used"] is not None
    status_in_run = len(capture.statuses) - 1

    # 3. Refused before 48 hours, nothing touched.
    early = run.json("revoke-legacy", MIGRANT, "--yes", clock=two_hours, expect=EXIT_NOTHING)
    refused_early = len(capture.revocations) - 1
    assert early["refused"].startswith("the parallel run has lasted 2h of 48h: revoke-legacy may act from "
                                       f"{_stamp(start + dt.timedelta(hours=48))}")
    # (checked from the side: using a legacy credential now would be a use since the cutover, which keeps it)
    assert _status(iam, legacy.own) == "Active" and _exists(world, legacy.accessor)

    # 4. --force needs a reason; with one, it is printed, recorded first, and acts. Its operator token may not delete
    #    the legacy role: the run fails mid-way and says so, claiming nothing it did not read back.
    assert run("revoke-legacy", MIGRANT, "--yes", "--force", clock=two_hours).exit_code == EXIT_NOTHING
    plan, _ = compile_plan(world.env, world.specs_dir, world.stacks_dir)
    policy = vault_policy(plan).replace('capabilities = ["delete", "read"]', 'capabilities = ["read"]')
    assert policy != vault_policy(plan)
    world.client.sys.create_or_update_policy("migrate-no-delete", policy)
    limited = world.client.auth.token.create(policies=["migrate-no-delete"], ttl="1h")["auth"]["client_token"]
    reason = "INC-4711: the shared reporting key leaked; the agent runs on its identity"
    forced = run("revoke-legacy", MIGRANT, "--yes", "--force", "--reason", reason, clock=two_hours, token=limited)
    forced_run_report = len(capture.revocations) - 1
    assert forced.exit_code == EXIT_FAILED, forced.output
    assert f"FORCED by request: {reason}" in forced.output and f": {reason}" in forced.stdout
    assert "FAILED" in forced.stdout and "Every legacy credential is retired" not in forced.stdout
    assert "1 step(s) FAILED: the legacy credentials are not all retired" in forced.stdout
    assert _refused(strict_moto, legacy.own), "deactivated: AWS refuses the key"
    assert _refused(strict_moto, legacy.batch), "the legacy user's keys too"
    assert _status(iam, legacy.own) == _status(iam, legacy.batch) == "Inactive", "deactivated, never deleted"
    assert not _token_alive(world, legacy.token), "revoked: Vault refuses the token"
    assert world.client.read(f"auth/{legacy.mount}/role/{legacy.role}"), "the role could not be deleted"
    assert any(f"AppRole role {legacy.role}" in line and "FAILED" in line and "permission denied" in line
               for line in forced.stdout.splitlines()), forced.stdout
    assert _status(iam, legacy.shared) == "Active" and _status(iam, legacy.foreign) == "Active"
    record = json.loads((Path(tmp_path / "revocations") / world.env / f"{MIGRANT}.migration.json").read_text())
    refused_run, forced_run = record["runs"]  # the refused run of step 3 is recorded too
    assert (refused_run["forced"], refused_run["result"]) == (False, "refused")
    assert (forced_run["forced"], forced_run["reason"], forced_run["result"]) == (True, reason, "failed")
    assert forced_run["operator"] and forced_run["steps"]

    # 5. After 48 hours, a normal run finishes: the role and the tokens it issued; what the forced run did is found
    #    done. The shared key is kept (the other agent has not migrated), the other team's too (no evidence).
    later = start + dt.timedelta(hours=49)
    # From here on with exactly the generated operator policy (docs/migrate.md): it is enough for every step.
    world.client.sys.create_or_update_policy("migrate-operator", vault_policy(plan))
    operator_token = world.client.auth.token.create(policies=["migrate-operator"], ttl="1h")["auth"]["client_token"]
    run.token = operator_token
    report = run.json("revoke-legacy", MIGRANT, "--yes", clock=later, expect=EXIT_KEPT)
    after_48h = len(capture.revocations) - 1
    outcomes = _outcomes(report)
    assert outcomes[f"read: IAM access key {legacy.own.id} (user {legacy.own.user})"] == "already retired"
    assert outcomes[f"read: Vault token with accessor {legacy.accessor}"] == "already retired"
    assert outcomes[f"revoke role: AppRole role {legacy.role} on auth/{legacy.mount}"] == "revoked"
    details = {s["target"]: s["detail"] for s in report["steps"]}
    shared = f"IAM access key {legacy.shared.id} (user {legacy.shared.user})"
    assert outcomes[f"keep: {shared}"] == "kept"
    assert details[shared].startswith(f"shared: {SHARER} ({world.env}) has not started its parallel run")
    foreign = f"IAM access key {legacy.foreign.id} (user {legacy.foreign.user})"
    assert outcomes[f"keep: {foreign}"] == "kept"
    assert f"used from {FOREIGN_ADDRESS}, but {MIGRANT}'s own identity has not been used from any of them" in \
        details[foreign]
    assert not _token_alive(world, legacy.role_token)
    assert world.client.read(f"auth/{legacy.mount}/role/{legacy.role}") is None
    with pytest.raises(LoginRefused):
        api.approle_login(legacy.mount, legacy.role_id, "anything")
    assert _status(iam, legacy.shared) == "Active" and _status(iam, legacy.foreign) == "Active"
    record = json.loads((Path(tmp_path / "revocations") / world.env / f"{MIGRANT}.migration.json").read_text())
    settings = record["retired"][f"AppRole role {legacy.role} on auth/{legacy.mount}"]["settings"]
    assert settings["token_policies"] == ["default"] and legacy.role_id not in json.dumps(record)

    # 6. Idempotent: a re-run finds everything as the last one left it and changes nothing.
    again = run.json("revoke-legacy", MIGRANT, "--yes", clock=later, expect=EXIT_KEPT)
    assert set(_outcomes(again).values()) <= {"checked", "already retired", "kept"}
    assert _outcomes(again)[f"read: AppRole role {legacy.role} on auth/{legacy.mount}"] == "already retired"

    # 7. The other agent migrates: the shared key goes too (used from an address both identities use).
    _write(world, SHARER, _migration(world, legacy, _stamp(start), [legacy.shared], vault=False))
    shared_run = run.json("revoke-legacy", MIGRANT, "--yes", clock=later, expect=EXIT_KEPT)
    assert _outcomes(shared_run)[f"deactivate access key: {legacy.shared.id} (user {legacy.shared.user})"] == \
        "deactivated"
    assert _refused(strict_moto, legacy.shared)

    # 8. The other team's key was listed by mistake: out of the spec, the agent's migration is complete; the key
    #    itself was never touched. Status shows the failed login since the cutover.
    _write(world, MIGRANT, _migration(world, legacy, _stamp(start), [legacy.own, legacy.shared], users=users))
    (status,) = run.json("status", MIGRANT, clock=later, expect=EXIT_DONE)["agents"]
    status_done = len(capture.statuses) - 1
    assert status["stage"] == "legacy revoked", status
    assert status["auth_failures_since_cutover"] == 1
    done = run.json("revoke-legacy", MIGRANT, "--yes", clock=later, expect=EXIT_DONE)
    assert done["result"] == "retired"
    assert _status(iam, legacy.foreign) == "Active"
    session.close()
    api.close()

    # 9. No secret was printed or recorded: not a key's secret part, a token, a role id or a secret id.
    records = "".join(p.read_text() for p in (tmp_path / "revocations").rglob("*.json"))
    secrets = [k.secret for k in (legacy.own, legacy.batch, legacy.shared, legacy.foreign)] + [
        legacy.token, legacy.role_token, legacy.role_id, world.server.root_token, limited, operator_token]
    for text in [*run.outputs, records]:
        assert not [s for s in secrets if s in text]

    # 10. docs/migrate.md shows these runs, drawn by the tool's renderer (names and times made stable).
    scrub = Scrub(start, {
        world.server.address: "https://vault.internal:8200", str(tmp_path / "revocations"):
        "~/.local/state/agentiam/revocations", legacy.own.id: "AKIA3REPORTING0EXAMP", legacy.shared.id:
        "AKIA3SHAREDEXPORT0EX", legacy.foreign.id: "AKIA3PAYMENTS00EXAMP", legacy.batch.id: "AKIA3BATCHJOBS00EXAM",
        legacy.accessor: "hq2yoPVaVHwW1fr9ZXAdcEdj", world.env: "prod", OWN_ADDRESS: "10.0.4.17"},
        {run_operator(): "maria.keller"})
    logs = "--logs /var/log/openbao/audit.log --logs cloudtrail/"
    section("migrate-status-parallel", console(f"agentiam migrate status {MIGRANT} --env prod {logs}",
                                               capture.status_text(status_in_run, scrub)))
    section("migrate-refused", console(f"agentiam migrate revoke-legacy {MIGRANT} --env prod {logs}",
                                       capture.revocation_text(refused_early, scrub)))
    section("migrate-forced", console(f"agentiam migrate revoke-legacy {MIGRANT} --env prod {logs} --force "
                                      f"--reason \"{reason}\"", capture.revocation_text(forced_run_report, scrub)))
    section("migrate-after-48h", console(f"agentiam migrate revoke-legacy {MIGRANT} --env prod {logs}",
                                         capture.revocation_text(after_48h, scrub)))
    section("migrate-status-done", console(f"agentiam migrate status {MIGRANT} --env prod {logs}",
                                           capture.status_text(status_done, scrub)))

