"""`agentiam doctor` against the real OpenBao (TLS), PostgreSQL and moto: a correct environment passes, each
misconfiguration planted once fails or warns with its fix, and a Vault or AWS that is down, hung or slow costs the
run its deadline, never more. Doctor only reads: its audit lines are reads.

What OpenBao's PyPI build cannot show, its AWS secrets engine, is answered by `EngineVault` with the shapes the
engines return (HashiCorp Vault's roles carry `session_tags`, OpenBao's AWS plugin's do not): docs/deploy.md lists
the commands that check it on a real server.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import hvac
import pytest
from click.testing import CliRunner

from agentiam.cli.main import cli
from agentiam.deploy import requirements
from agentiam.deploy.bootstrap import vault_policy_hcl
from agentiam.deploy.doctor import Report, Status, run_doctor
from agentiam.deploy.doctor_aws import DoctorAws
from agentiam.deploy.doctor_vault import DoctorVault
from agentiam.plan.model import AwsSecretRolePlan, IdentityPlan
from tests import servers
from tests.aws_apply import apply_aws
from tests.faults import FaultProxy
from tests.integration import pki
from tests.integration.world import World, build_world, reader_spec

READER = "ledger-reader"
PAUSED = "paused-reader"
ENGINE_PRINCIPAL = "vault-aws-secrets-engine"  # world.py's aws_secrets_engine_principal_arn


class EngineVault:
    """The real OpenBao reader, with an AWS secrets engine at `aws/` answered the way the engines answer.

    `roles` maps a role name to what reading it returns; `mounted=False` leaves the engine out entirely."""

    def __init__(self, inner: DoctorVault, *, mounted: bool = True, configured: bool = True,
                 roles: dict[str, dict[str, Any]] | None = None):
        self.inner, self.mounted, self.configured, self.roles = inner, mounted, configured, roles or {}
        self.address = inner.address

    def health(self) -> dict[str, Any]:
        return self.inner.health()

    def lookup_self(self) -> dict[str, Any]:
        return self.inner.lookup_self()

    def capabilities(self, paths: list[str]) -> dict[str, list[str]]:
        return self.inner.capabilities(paths)

    def read(self, path: str) -> dict[str, Any] | None:
        if path == "sys/mounts":
            mounts = dict(self.inner.read(path) or {})
            if self.mounted:
                mounts["aws/"] = {"type": "aws", "options": None, "accessor": "aws_0000"}
            return mounts
        if path == "aws/config/root":
            return {"region": "us-east-1", "access_key": ""} if self.mounted and self.configured else None
        if path.startswith("aws/roles/"):
            return self.roles.get(path.removeprefix("aws/roles/"))
        return self.inner.read(path)


@pytest.fixture(scope="module")
def world(openbao_tls: servers.OpenBaoServer, postgres: servers.PostgresServer, billing_table: str,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """One active reader and one suspended, applied to the TLS OpenBao; a CA valid for a year (no expiry warning)."""
    client = hvac.Client(url=openbao_tls.address, token=openbao_tls.root_token, verify=str(openbao_tls.ca_cert_path),
                         timeout=10)
    saved, pki.VALIDITY = pki.VALIDITY, dt.timedelta(days=365)
    try:
        world = build_world(tmp_path_factory.mktemp("doctor"), openbao_tls, postgres, client,
                            {READER: reader_spec(READER), PAUSED: reader_spec(PAUSED, status="suspended")})
    finally:
        pki.VALIDITY = saved
    yield world
    client.adapter.close()


def _deployer_policy(world: World, *, pinned: bool = True, plan: IdentityPlan | None = None) -> str:
    plan = plan or world.plan
    accessors = ({path: world.applied.accessors[path] for path in requirements.alias_mount_paths(plan)}
                 if pinned else None)
    return vault_policy_hcl(plan, requirements.deployer_vault_rules(plan, accessors))


def _token(world: World, policy_text: str, *, name: str, ttl: str = "4h") -> str:
    world.client.sys.create_or_update_acl_policy(name, policy_text)
    return world.client.auth.token.create(policies=[name], ttl=ttl, no_default_policy=True)["auth"]["client_token"]


@pytest.fixture(scope="module")
def deployer(world: World) -> str:
    """A token of the deployer policy, as `agentiam bootstrap` writes it (alias mounts pinned)."""
    return _token(world, _deployer_policy(world), name=requirements.deployer_policy_name(world.env))


@pytest.fixture(scope="module")
def aws_world(world: World, moto_server: servers.MotoServer) -> Iterator[Any]:
    """moto: the engine principal with the bootstrap's policy, the agents' roles as the program creates them."""
    iam = boto3.client("iam", **moto_server.client_kwargs())
    trust = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service":
                                                                "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
    iam.create_role(RoleName=ENGINE_PRINCIPAL, AssumeRolePolicyDocument=trust)
    iam.put_role_policy(RoleName=ENGINE_PRINCIPAL, PolicyName="assume-agent-roles", PolicyDocument=json.dumps(
        requirements.iam_policy(requirements.engine_principal_grants(world.plan))))
    apply_aws(iam, world.capture.resources)
    yield iam


def _doctor(world: World, token: str, *, plan: IdentityPlan | None = None, aws: Any = "moto",
            moto: servers.MotoServer | None = None, engine: dict[str, Any] | None = None, address: str | None = None,
            timeout: float = 30.0, today: dt.date | None = None, ca: Path | None = None) -> Report:
    deadline = time.monotonic() + timeout
    reader = DoctorVault(address or world.server.address, token, ca_cert=str(ca or world.server.ca_cert_path),
                         deadline=deadline)
    vault = EngineVault(reader, **(engine or {}))
    if aws == "moto":
        assert moto is not None
        aws = DoctorAws(region="us-east-1", endpoint_url=moto.endpoint_url)
    try:
        return run_doctor(plan or world.plan, world.env, vault, aws, deadline=deadline, today=today)
    finally:
        reader.close()


def _by_id(report: Report) -> dict[str, Any]:
    return {c.id: c for c in report.checks}


@pytest.fixture(autouse=True)
def _moto_credentials(moto_server: servers.MotoServer, monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in moto_server.env.items():
        if key != "AWS_ENDPOINT_URL":
            monkeypatch.setenv(key, value)


def test_a_correct_environment_passes_every_check(world: World, deployer: str, aws_world: Any,
                                                  moto_server: servers.MotoServer) -> None:
    report = _doctor(world, deployer, moto=moto_server)
    assert {c.id: c.status for c in report.checks} == {c.id: Status.PASS for c in report.checks}, \
        "\n".join(f"{c.id} {c.status.value}: {c.detail} / {c.fix}" for c in report.checks)
    assert [c.id for c in report.checks] == [f"V{i:02d}" for i in range(1, 14)] + ["A01", "A02", "A03"]


def test_the_command_reports_and_exits_with_the_result(world: World, deployer: str, aws_world: Any,
                                                       moto_server: servers.MotoServer,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    # The real command against this OpenBao, which has no AWS engine: V07 and V09 fail with the bootstrap's script.
    monkeypatch.setenv("VAULT_TOKEN", deployer)
    result = CliRunner().invoke(cli, ["doctor", "--env", world.env, "--specs", str(world.specs_dir), "--stacks",
                                      str(world.stacks_dir), "--vault-addr", world.server.address, "--vault-ca-cert",
                                      str(world.server.ca_cert_path), "--aws-endpoint-url", moto_server.endpoint_url])
    assert result.exit_code == 1, result.output
    lines = result.output.splitlines()
    assert lines[0] == f"agentiam doctor: stack {world.env} (environment {world.env}) on {world.server.address}"
    failed = [line.split()[1] for line in lines if line.startswith("  FAIL")]
    assert failed == ["V07", "V09"]
    assert "      no aws mount at aws" in lines
    assert "      fix: sh vault-aws-secrets-engine.sh (agentiam bootstrap)" in lines
    assert lines[-1] == "16 check(s): 2 failed, 0 warning(s), 0 not run."
    as_json = CliRunner().invoke(cli, ["doctor", "--env", world.env, "--specs", str(world.specs_dir), "--stacks",
                                       str(world.stacks_dir), "--vault-addr", world.server.address, "--vault-ca-cert",
                                       str(world.server.ca_cert_path), "--no-aws", "--format", "json"])
    document = json.loads(as_json.output)
    assert document["summary"] == {"pass": 11, "warn": 0, "FAIL": 2, "not run": 0}


def _plant(world: World, **changes: Any) -> IdentityPlan:
    """The world's plan with platform fields replaced (what another stack config would have said)."""
    platform = world.plan.platform.model_copy(update=changes)
    return world.plan.model_copy(update={"platform": platform})


def _server(flavor: str, version: str) -> Callable[[World], IdentityPlan]:
    return lambda world: _plant(world, vault_server=world.plan.platform.vault_server.model_copy(
        update={"flavor": flavor, "version": version, "aws_session_tags": flavor == "hashicorp"}))


@pytest.mark.parametrize(("make_plan", "check", "status", "detail", "fix"), [
    (_server("hashicorp", "1.18.3"), "V02", Status.FAIL, "looks like openbao", "set vault.flavor and vault.version"),
    (_server("openbao", "9.0.0"), "V02", Status.FAIL, "older than the 9.0.0 the plan relies on", "vault.version"),
    (lambda w: _plant(w, expected_mounts=[m.model_copy(update={"path": "nokv"}) if m.type == "kv" else m
                                          for m in w.plan.platform.expected_mounts]),
     "V07", Status.FAIL, "no kv mount at nokv", "-version=2"),
    (lambda w: _plant(w, mounts=[m.model_copy(update={"path": "secret"}) if m.type == "database" else m
                                 for m in w.plan.platform.mounts]),
     "V07", Status.FAIL, "secret is taken by a kv mount", "move what occupies"),
    (lambda w: _plant(w, log_routing=w.plan.platform.log_routing.model_copy(update={"audit": w.plan.platform.log_routing
                                                                             .audit.model_copy(update={"path": "gone"})})),
     "V08", Status.FAIL, "no audit device gone", "vault-audit-device.hcl"),
], ids=["flavor", "version", "kv-missing", "path-taken", "audit-missing"])
def test_a_stack_config_that_does_not_match_the_server_fails_with_its_fix(
        world: World, deployer: str, make_plan: Callable[[World], IdentityPlan], check: str, status: Status,
        detail: str, fix: str) -> None:
    found = _by_id(_doctor(world, deployer, plan=make_plan(world), aws=None))[check]
    assert (found.status, detail in found.detail, fix in found.fix) == (status, True, True), found


def test_an_expired_or_expiring_agent_ca(world: World, deployer: str) -> None:
    expiry = dt.date.fromisoformat(world.plan.platform.agent_ca.certificates[0].not_after[:10])
    expired = _by_id(_doctor(world, deployer, aws=None, today=expiry + dt.timedelta(days=1)))["V10"]
    assert expired.status is Status.FAIL and "expired" in expired.detail and "issue a new agent CA" in expired.fix
    soon = _by_id(_doctor(world, deployer, aws=None, today=expiry - dt.timedelta(days=10)))["V10"]
    assert soon.status is Status.WARN and "rotate the agent CA now" in soon.fix


def test_deployer_tokens_too_short_lived_too_weak_too_strong(world: World, deployer: str) -> None:
    short = _token(world, _deployer_policy(world), name=f"{world.env}-short", ttl="60s")
    found = _by_id(_doctor(world, short, aws=None))["V04"]
    assert found.status is Status.FAIL and f"lives {world.plan.deploy.vault_token_ttl} s" in found.detail
    root = _by_id(_doctor(world, world.server.root_token, aws=None))["V04"]
    assert root.status is Status.WARN and "root token" in root.detail
    weak_text = _deployer_policy(world).replace(f'path "sys/quotas/rate-limit/agent-{world.env}-*"',
                                                'path "sys/quotas/rate-limit/nothing-*"')
    weak = _by_id(_doctor(world, _token(world, weak_text, name=f"{world.env}-weak"), aws=None))["V05"]
    assert weak.status is Status.FAIL
    assert f"sys/quotas/rate-limit/agent-{world.env}-* [create, delete, read, update]" in weak.detail
    assert f"agentiam bootstrap --env {world.env}" in weak.fix
    strong_text = _deployer_policy(world) + (f'path "auth/{world.env}-approle/role/+/secret-id" '
                                             '{ capabilities = ["update"] }\n')
    strong = _by_id(_doctor(world, _token(world, strong_text, name=f"{world.env}-strong"), aws=None))["V05"]
    assert strong.status is Status.WARN and "mint an agent's secret id" in strong.detail


def test_unpinned_alias_mounts_print_the_bootstrap_command_with_the_accessors(world: World) -> None:
    token = _token(world, _deployer_policy(world, pinned=False), name=requirements.deployer_policy_name(world.env))
    try:
        found = _by_id(_doctor(world, token, aws=None))["V06"]
    finally:  # the module's other tests rely on the pinned policy under that name
        world.client.sys.create_or_update_acl_policy(requirements.deployer_policy_name(world.env),
                                                     _deployer_policy(world))
    assert found.status is Status.WARN
    for path in requirements.alias_mount_paths(world.plan):
        assert f"--alias-mount-accessor {path}={world.applied.accessors[path]}" in found.fix


def test_an_aws_engine_missing_unconfigured_or_without_session_tags(world: World, deployer: str) -> None:
    missing = _by_id(_doctor(world, deployer, aws=None, engine={"mounted": False}))["V09"]
    assert missing.status is Status.FAIL and missing.fix == "sh vault-aws-secrets-engine.sh (agentiam bootstrap)"
    bare = _by_id(_doctor(world, deployer, aws=None, engine={"configured": False}))["V09"]
    assert bare.status is Status.FAIL and "not configured" in bare.detail
    # A stack config claiming HashiCorp Vault 1.18 (session tags) in front of a server whose AWS roles read back
    # without them: every credential read would be AccessDenied.
    plan = _server("hashicorp", "1.18.3")(world)
    agent = plan.agents[0]
    name = agent.identity_name
    role = AwsSecretRolePlan(mount="aws", name=name, credential_type="assumed_role", role_arns=[agent.aws.role_arn],
                             default_sts_ttl=900, max_sts_ttl=900,
                             session_tags={"agentiam-agent": agent.agent, "agentiam-environment": world.env})
    plan = plan.model_copy(update={"agents": [agent.model_copy(update={"vault": agent.vault.model_copy(update={
        "aws_secret_role": role})}), *plan.agents[1:]]})
    # What OpenBao's AWS plugin reads back (it has no session_tags field: openbao-plugins, secrets/aws).
    stored = {"credential_type": "assumed_role", "role_arns": [agent.aws.role_arn], "default_sts_ttl": 900}
    no_tags = _by_id(_doctor(world, deployer, plan=plan, aws=None, engine={"roles": {name: stored}}))["V09"]
    assert no_tags.status is Status.FAIL and "does not send the tags" in no_tags.detail
    assert "HashiCorp Vault 1.17.2 or later" in no_tags.fix


def test_lockout_back_on_and_a_suspended_identity_re_enabled_fail(world: World, deployer: str) -> None:
    mount = f"{world.env}-approle"
    paused = world.agent(PAUSED).vault.entity.name
    world.client.write_data(f"sys/auth/{mount}/tune", data={"user_lockout_config": {"lockout_disable": False}})
    world.client.write_data(f"identity/entity/name/{paused}", data={"disabled": False})
    try:
        checks = _by_id(_doctor(world, deployer, aws=None))
    finally:
        world.client.write_data(f"sys/auth/{mount}/tune", data={"user_lockout_config": {"lockout_disable": True}})
        world.client.write_data(f"identity/entity/name/{paused}", data={"disabled": True})
    assert checks["V11"].status is Status.FAIL and "pulumi up" in checks["V11"].fix
    assert checks["V13"].status is Status.FAIL and checks["V13"].fix == f"agentiam revoke {PAUSED} --env {world.env}"


def test_a_database_vault_cannot_reach_is_a_warning(world: World, deployer: str) -> None:
    closed = servers.free_port()
    connections = [c.model_copy(update={"connection_url": c.connection_url.replace(
        f":{world.postgres.port}/", f":{closed}/")}) for c in world.plan.platform.database_connections]
    found = _by_id(_doctor(world, deployer, plan=_plant(world, database_connections=connections), aws=None))["V12"]
    assert found.status is Status.WARN and f"127.0.0.1:{closed}" in found.detail


def test_plain_http_fails_the_tls_check(world: World, openbao: servers.OpenBaoServer) -> None:
    reader = DoctorVault(openbao.address, openbao.root_token, ca_cert=None, deadline=time.monotonic() + 30)
    try:
        report = run_doctor(world.plan, world.env, EngineVault(reader), None, deadline=time.monotonic() + 30)
    finally:
        reader.close()
    found = _by_id(report)["V03"]
    assert found.status is Status.FAIL and "serve TLS on the listener" in found.fix


def test_aws_account_principal_and_kill_switches(world: World, deployer: str, aws_world: Any,
                                                 moto_server: servers.MotoServer) -> None:
    other = world.plan.model_copy(update={"account_id": "210987654321"})
    assert _by_id(_doctor(world, deployer, plan=other, moto=moto_server))["A01"].status is Status.FAIL
    iam = aws_world
    original = iam.get_role_policy(RoleName=ENGINE_PRINCIPAL, PolicyName="assume-agent-roles")["PolicyDocument"]
    paused_role = world.agent(PAUSED).aws.role_name
    kill = iam.get_role_policy(RoleName=paused_role, PolicyName="agentiam-kill-switch")["PolicyDocument"]
    reader_role = world.agent(READER).aws.role_name
    try:
        iam.put_role_policy(RoleName=ENGINE_PRINCIPAL, PolicyName="assume-agent-roles", PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:GetCallerIdentity",
                                                     "Resource": "*"}]}))
        iam.delete_role_policy(RoleName=paused_role, PolicyName="agentiam-kill-switch")
        checks = _by_id(_doctor(world, deployer, moto=moto_server))
        assert checks["A02"].status is Status.FAIL and "aws-secrets-engine-principal-policy.json" in checks["A02"].fix
        assert checks["A03"].status is Status.FAIL
        assert checks["A03"].fix == f"agentiam revoke {PAUSED} --env {world.env}"
        iam.put_role_policy(RoleName=ENGINE_PRINCIPAL, PolicyName="assume-agent-roles", PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}]}))
        iam.put_role_policy(RoleName=paused_role, PolicyName="agentiam-kill-switch", PolicyDocument=json.dumps(kill))
        iam.put_role_policy(RoleName=reader_role, PolicyName="agentiam-kill-switch", PolicyDocument=json.dumps(kill))
        checks = _by_id(_doctor(world, deployer, moto=moto_server))
        assert checks["A02"].status is Status.WARN and "other than the environment's agent roles" in checks["A02"].detail
        assert checks["A03"].status is Status.WARN and READER in checks["A03"].detail
    finally:
        iam.put_role_policy(RoleName=ENGINE_PRINCIPAL, PolicyName="assume-agent-roles",
                            PolicyDocument=json.dumps(original))
        iam.delete_role_policy(RoleName=reader_role, PolicyName="agentiam-kill-switch")
        iam.put_role_policy(RoleName=paused_role, PolicyName="agentiam-kill-switch", PolicyDocument=json.dumps(kill))
    missing = world.plan.model_copy(update={"platform": world.plan.platform.model_copy(update={
        "aws_secrets_engine_principal_arn": "arn:aws:iam::123456789012:role/no-such-principal"})})
    found = _by_id(_doctor(world, deployer, plan=missing, moto=moto_server))["A02"]
    assert found.status is Status.FAIL and "does not exist" in found.detail


def test_doctor_only_reads(world: World, deployer: str, aws_world: Any, moto_server: servers.MotoServer) -> None:
    accessor = world.client.auth.token.lookup(deployer)["data"]["accessor"]
    hashed = world.client.write_data(f"sys/audit-hash/{world.server.audit_device}",
                                     data={"input": accessor})["data"]["hash"]
    before = len(world.server.audit_log_path.read_text().splitlines())
    _doctor(world, deployer, moto=moto_server)
    time.sleep(0.2)
    lines = [json.loads(line) for line in world.server.audit_log_path.read_text().splitlines()[before:]]
    requests = [e["request"] for e in lines if e["type"] == "request"
                and e["request"].get("client_token_accessor") == hashed]
    assert requests
    writes = {(r["operation"], r["path"]) for r in requests if r["operation"] not in ("read", "list")}
    assert writes == {("update", "sys/capabilities-self")}


def _fault(proxy: FaultProxy, fault: str) -> None:
    {"down": proxy.down, "hung": proxy.hang, "slow": lambda: proxy.slow(0.05)}[fault]()


@pytest.mark.parametrize("fault", ["down", "hung", "slow"])
def test_a_vault_down_hung_or_slow_costs_the_run_its_deadline_at_most(world: World, deployer: str, fault: str) -> None:
    port = int(world.server.address.rsplit(":", 1)[1])
    with FaultProxy("127.0.0.1", port) as proxy:
        _fault(proxy, fault)
        started = time.monotonic()
        report = _doctor(world, deployer, aws=None, address=f"https://127.0.0.1:{proxy.port}", timeout=8.0)
        took = time.monotonic() - started
    checks = _by_id(report)
    if fault == "slow":  # slower, but every answer within the deadline
        assert checks["V01"].status is Status.PASS and not report.failed, report.failed
        return
    assert checks["V01"].status is Status.FAIL and "VAULT_ADDR" in checks["V01"].fix
    assert all(c.status is Status.SKIP for c in report.checks if c.system == "vault" and c.id != "V01")
    assert took < (2.0 if fault == "down" else 8.0 + 2.0), took  # refused at once; hung: the deadline


@pytest.mark.parametrize("fault", ["down", "hung"])
def test_an_aws_down_or_hung_fails_its_first_check_and_skips_the_rest(world: World, deployer: str, aws_world: Any,
                                                                      moto_server: servers.MotoServer,
                                                                      fault: str) -> None:
    port = int(moto_server.endpoint_url.rsplit(":", 1)[1])
    with FaultProxy("127.0.0.1", port) as proxy:
        _fault(proxy, fault)
        started = time.monotonic()
        aws = DoctorAws(region="us-east-1", endpoint_url=f"http://127.0.0.1:{proxy.port}")
        checks = _by_id(_doctor(world, deployer, aws=aws))
        took = time.monotonic() - started
    assert checks["A01"].status is Status.FAIL and "AWS did not answer" in checks["A01"].detail
    assert checks["A02"].status is checks["A03"].status is Status.SKIP
    assert took < 2 * (3 + 5) + 10, took  # two attempts of (connect 3 s, read 5 s) at most, and the Vault side
