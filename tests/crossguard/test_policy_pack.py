"""The agentiam policy pack through pulumi_policy's analyzer, with resources encoded as the engine sends them."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import empty_pb2, json_format, struct_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc
from pulumi_policy.policy import EnforcementLevel, _PolicyAnalyzerServicer

from agentiam import project
from agentiam.crossguard.policies import PACK_NAME, build_policies
from tests.pulumi_capture import capture_stack

REPO = Path(__file__).resolve().parents[2]
ENVIRONMENTS = project.load_environments(REPO / "stacks")
PROD_PRINCIPAL = ENVIRONMENTS["prod"].aws_secrets_engine_principal_arn
SECRET_SIG = {"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270"}


def _analyzer() -> _PolicyAnalyzerServicer:
    return _PolicyAnalyzerServicer(PACK_NAME, "0.1.0", build_policies(ENVIRONMENTS), EnforcementLevel.MANDATORY)


def _struct(props: dict[str, Any], secret: frozenset[str] = frozenset()) -> struct_pb2.Struct:
    """Properties as the engine encodes them: a protobuf Struct (numbers become floats), secrets as signed objects."""
    wrapped = {k: ({**SECRET_SIG, "value": v} if k in secret else v) for k, v in props.items()}
    return json_format.ParseDict(json.loads(json.dumps(wrapped)), struct_pb2.Struct())


def _text(diagnostic: Any) -> str:
    """`policy: message` of a diagnostic (the analyzer puts the policy's description before the message)."""
    return f"{diagnostic.policyName}: {diagnostic.message.removeprefix(diagnostic.description).strip()}"


def analyze(type_token: str, props: dict[str, Any], name: str = "r", protect: bool = False) -> list[str]:
    """Messages of every violation the pack reports for one resource (the engine's Analyze call)."""
    request = analyzer_pb2.AnalyzeRequest(
        type=type_token, properties=_struct(props), urn=f"urn:pulumi:prod::p::{type_token}::{name}", name=name,
        options=analyzer_pb2.AnalyzerResourceOptions(protect=protect))
    response = _analyzer().Analyze(request, None)
    return [_text(d) for d in response.diagnostics]


def analyze_stack(resources: list[tuple[str, str, dict[str, Any]]]) -> list[str]:
    request = analyzer_pb2.AnalyzeStackRequest(resources=[
        analyzer_pb2.AnalyzerResource(type=t, name=n, urn=f"urn:pulumi:prod::p::{t}::{n}", properties=_struct(p))
        for t, n, p in resources])
    return [_text(d) for d in _analyzer().AnalyzeStack(request, None).diagnostics]


def _agent_role(**changes: Any) -> dict[str, Any]:
    role = {"name": "agent-prod-x", "path": "/agentiam/prod/",
            "permissionsBoundary": "arn:aws:iam::333333333333:policy/agentiam/prod/agentiam-prod-boundary-analysis",
            "assumeRolePolicy": json.dumps({"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Principal": {"AWS": PROD_PRINCIPAL}, "Action": "sts:AssumeRole"}]}),
            "tags": {"agentiam:agent": "x", "agentiam:environment": "prod", "agentiam:function": "analysis"}}
    role.update(changes)
    return role


def _trust(statement: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


# --- agent-role-class-boundary -------------------------------------------------------------------------------------

def test_agent_role_with_its_class_boundary_passes():
    assert analyze("aws:iam/role:Role", _agent_role()) == []


@pytest.mark.parametrize("changes", [
    {"permissionsBoundary": None},
    {"permissionsBoundary": "arn:aws:iam::333333333333:policy/agentiam/prod/agentiam-prod-boundary-integration"},
    {"permissionsBoundary": "arn:aws:iam::444444444444:policy/agentiam/prod/agentiam-prod-boundary-analysis"},
    {"permissionsBoundary": "arn:aws:iam::aws:policy/AdministratorAccess"},
    # Other spellings of the agent tags: IAM compares tag keys regardless of case.
    {"tags": {"AgentIAM:Agent": "x", "AGENTIAM:ENVIRONMENT": "prod", "AgentIam:Function": "analysis"},
     "permissionsBoundary": None},
    {"tags": {"agentiam:agent": "x"}, "name": "agent-prod-x"},  # no function tag: no boundary to check against
])
def test_agent_role_without_its_class_boundary_fails(changes):
    found = analyze("aws:iam/role:Role", _agent_role(**changes))
    assert any(m.startswith("agent-role-class-boundary: IAM role r:") for m in found), found


def test_untagged_role_named_like_an_agent_and_the_native_provider_are_judged_too():
    found = analyze("aws:iam/role:Role", {"name": "agent-prod-sneaky", "assumeRolePolicy": _trust(
        {"Effect": "Allow", "Principal": {"AWS": PROD_PRINCIPAL}, "Action": "sts:AssumeRole"})})
    assert any("agent-role-class-boundary" in m for m in found)
    tags = [{"key": "agentiam:function", "value": "analysis"}, {"key": "agentiam:environment", "value": "prod"}]
    trust = {"Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}]}
    native = analyze("aws-native:iam:Role", {"roleName": "x", "tags": tags, "assumeRolePolicyDocument": trust})
    assert {m.split(":")[0] for m in native} == {"agent-role-class-boundary",
                                                 "agent-role-trusts-only-the-secrets-engine"}


def test_roles_of_other_programs_that_are_not_agents_are_left_alone():
    assert analyze("aws:iam/role:Role", {"name": "ci-deployer", "assumeRolePolicy": _trust(
        {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"})}) == []


# --- agent-role-trusts-only-the-secrets-engine ---------------------------------------------------------------------

@pytest.mark.parametrize("statement", [
    {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"},
    {"Effect": "Allow", "Principal": "*", "Action": "sts:AssumeRole"},
    {"Effect": "Allow", "Principal": {"AWS": [PROD_PRINCIPAL, "arn:aws:iam::444444444444:root"]},
     "Action": "sts:AssumeRole"},
    {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111111111111:role/vault-aws-secrets-engine"},
     "Action": "sts:AssumeRole"},  # dev's engine trusted by a prod agent
    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"},
    {"Effect": "Allow", "NotPrincipal": {"AWS": PROD_PRINCIPAL}, "Action": "sts:AssumeRole"},
    {"Effect": "ALLOW", "Principal": {"AWS": PROD_PRINCIPAL},
     "Action": ["sts:AssumeRole", "sts:AssumeRoleWithWebIdentity"]},
])
def test_trust_beyond_the_secrets_engine_fails(statement):
    found = analyze("aws:iam/role:Role", _agent_role(assumeRolePolicy=_trust(statement)))
    assert [m for m in found if m.startswith("agent-role-trusts-only-the-secrets-engine")], found


def test_trust_of_only_the_secrets_engine_passes_and_unreadable_trust_fails():
    tagged = _trust({"Effect": "Allow", "Principal": {"AWS": PROD_PRINCIPAL},
                     "Action": ["sts:AssumeRole", "sts:TagSession"]})
    assert analyze("aws:iam/role:Role", _agent_role(assumeRolePolicy=tagged)) == []
    assert any("not JSON" in m for m in analyze("aws:iam/role:Role", _agent_role(assumeRolePolicy="{nope")))


# --- vault-token-lifetime-24h and vault-no-default-policy ----------------------------------------------------------

GOOD_APPROLE = {"backend": "approle", "roleName": "agent-prod-x", "tokenTtl": 3600, "tokenMaxTtl": 86400,
                "tokenExplicitMaxTtl": 86400, "tokenNoDefaultPolicy": True, "tokenPolicies": ["agent-prod-x"]}
ROLE_TYPES = ["vault:appRole/authBackendRole:AuthBackendRole", "vault:index/certAuthBackendRole:CertAuthBackendRole",
              "vault:tokenauth/authBackendRole:AuthBackendRole"]


@pytest.mark.parametrize("type_token", ROLE_TYPES)
def test_vault_roles_within_24h_without_default_pass(type_token):
    assert analyze(type_token, GOOD_APPROLE) == []


@pytest.mark.parametrize("type_token", ROLE_TYPES)
@pytest.mark.parametrize("changes", [
    {"tokenMaxTtl": 90000}, {"tokenTtl": "25h"}, {"tokenExplicitMaxTtl": "768h"}, {"tokenMaxTtl": "90000"},
    {"tokenExplicitMaxTtl": "2d"}, {"tokenMaxTtl": "23h61m"}, {"tokenMaxTtl": "forever"},
    {"tokenPeriod": 3600, "tokenExplicitMaxTtl": 0},  # periodic, renewed forever
    {"tokenMaxTtl": None, "tokenExplicitMaxTtl": None},  # missing: the mount's 768h
    {"tokenMaxTtl": 0, "tokenExplicitMaxTtl": ""},
    {"max_ttl": "48h"},  # a deprecated name still sets it
])
def test_vault_roles_over_24h_fail(type_token, changes):
    props = {k: v for k, v in {**GOOD_APPROLE, **changes}.items() if v is not None}
    found = analyze(type_token, props)
    assert [m for m in found if m.startswith("vault-token-lifetime-24h")], found


@pytest.mark.parametrize("changes", [
    {"tokenNoDefaultPolicy": False}, {"tokenNoDefaultPolicy": None}, {"tokenNoDefaultPolicy": "no"},
    {"tokenPolicies": ["agent-prod-x", " Default "]}, {"allowedPolicies": "agent-prod-x,default"},
    {"allowedPoliciesGlobs": ["def*"]},
])
def test_vault_roles_with_the_default_policy_fail(changes):
    props = {k: v for k, v in {**GOOD_APPROLE, **changes}.items() if v is not None}
    found = analyze("vault:tokenauth/authBackendRole:AuthBackendRole", props)
    assert [m for m in found if m.startswith("vault-no-default-policy")], found


def test_a_raw_vault_write_of_a_role_is_judged_like_the_typed_resource():
    long = json.dumps({"token_max_ttl": "720h", "token_policies": "default"})
    found = analyze("vault:generic/endpoint:Endpoint", {"path": "/v1/auth//approle/role/agent-prod-x",
                                                        "dataJson": long})
    assert {m.split(":")[0] for m in found} == {"vault-token-lifetime-24h", "vault-no-default-policy"}
    good = json.dumps({"token_max_ttl": "24h", "token_no_default_policy": True})
    assert analyze("vault:generic/secret:Secret", {"path": "auth/cert/certs/x", "dataJson": good}) == []
    assert analyze("vault:generic/endpoint:Endpoint", {"path": "sys/auth/approle/tune", "dataJson": long}) == []


# --- database-lease-24h --------------------------------------------------------------------------------------------

def test_database_roles_within_24h_pass():
    assert analyze("vault:database/secretBackendRole:SecretBackendRole",
                   {"name": "r", "backend": "db", "dbName": "billing", "defaultTtl": 3600, "maxTtl": 86400}) == []


@pytest.mark.parametrize("changes", [{"maxTtl": 90000}, {"defaultTtl": "25h"}, {"maxTtl": None}, {"maxTtl": "1d1s"},
                                     {"maxTtl": True}])
def test_database_roles_over_24h_fail(changes):
    props = {k: v for k, v in {"name": "r", "backend": "db", "dbName": "billing", "defaultTtl": 3600,
                               "maxTtl": 86400, **changes}.items() if v is not None}
    found = analyze("vault:database/secretBackendRole:SecretBackendRole", props)
    assert [m for m in found if m.startswith("database-lease-24h")], found
    raw = analyze("vault:generic/endpoint:Endpoint", {"path": "database/roles/r", "dataJson": json.dumps(
        {"db_name": "billing", "max_ttl": "768h"})})
    assert [m for m in raw if m.startswith("database-lease-24h")]


# --- audit devices -------------------------------------------------------------------------------------------------

def test_audit_device_must_be_protected_and_never_log_raw():
    device = {"path": "agentiam-file", "type": "file", "options": {"file_path": "/x", "log_raw": "false"}}
    assert analyze("vault:index/audit:Audit", device, protect=True) == []
    assert [m for m in analyze("vault:index/audit:Audit", device) if "not protected" in m]
    raw = {**device, "options": {"file_path": "/x", "log_raw": "True"}}
    assert [m for m in analyze("vault:index/audit:Audit", raw, protect=True) if "in clear" in m]


def test_a_platform_without_its_audit_device_fails_the_stack():
    platform = ("agentiam:index:Platform", "agentiam-prod", {})
    device = ("vault:index/audit:Audit", "agentiam-prod-logs-vault-audit", {"path": "agentiam-file", "type": "file"})
    assert analyze_stack([platform, device]) == []
    (found,) = analyze_stack([platform])
    assert found.startswith("audit-device-present: the agentiam platform agentiam-prod has no audit device")
    other = ("vault:index/audit:Audit", "x", {"path": "some-other-device", "type": "file"})
    assert [m for m in analyze_stack([platform, other]) if m.startswith("audit-device-present: ")]
    # An environment no stack config describes: any device will do, none will not.
    (unknown,) = analyze_stack([("agentiam:index:Platform", "agentiam-qa", {})])
    assert unknown.startswith("audit-device-present: ")
    # dev runs OpenBao 2.4+: its device is declared in the server's config file, which no program holds.
    assert ENVIRONMENTS["dev"].vault.flavor == "openbao"
    assert analyze_stack([("agentiam:index:Platform", "agentiam-dev", {})]) == []


# --- every resource the bundled examples produce ------------------------------------------------------------------

@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_the_pack_passes_every_resource_the_bundled_stacks_produce(stack):
    capture = capture_stack(stack)
    violations = []
    for record in capture.resources:
        request = analyzer_pb2.AnalyzeRequest(
            type=record.type_token, properties=_struct(record.inputs, record.secret_inputs), urn=record.urn,
            name=record.name, options=analyzer_pb2.AnalyzerResourceOptions(protect=bool(record.options.get("protect"))))
        violations += [d.message for d in _analyzer().Analyze(request, None).diagnostics]
    stack_request = analyzer_pb2.AnalyzeStackRequest(resources=[
        analyzer_pb2.AnalyzerResource(type=r.type_token, name=r.name, urn=r.urn,
                                      properties=_struct(r.inputs, r.secret_inputs)) for r in capture.resources])
    violations += [d.message for d in _analyzer().AnalyzeStack(stack_request, None).diagnostics]
    assert violations == []
    kinds = {r.type_token for r in capture.resources}
    assert {"aws:iam/role:Role", "vault:appRole/authBackendRole:AuthBackendRole", "agentiam:index:Platform",
            "vault:database/secretBackendRole:SecretBackendRole"} <= kinds


# --- the pack as Pulumi starts it ----------------------------------------------------------------------------------

def _start_pack(tmp_path: Path, **env: str) -> subprocess.Popen:
    """`policypack/__main__.py` in its own process, from another folder, as the Pulumi CLI starts a Python pack."""
    return subprocess.Popen([sys.executable, str(REPO / "policypack" / "__main__.py")], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, "PYTHONPATH": str(REPO), **env})


def test_the_pack_entry_point_serves_every_policy_over_grpc(tmp_path):
    process = _start_pack(tmp_path)
    try:
        ready, _, _ = select.select([process.stdout], [], [], 60)  # a pack that hangs while starting fails here
        assert ready, "the pack printed no port within 60 s"
        port = process.stdout.readline().decode().strip()  # the SDK prints its port first, then serves
        assert port.isdigit(), process.stderr.read().decode() if process.poll() is not None else port
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = analyzer_pb2_grpc.AnalyzerStub(channel)
            info = stub.GetAnalyzerInfo(empty_pb2.Empty(), timeout=20)
            assert info.name == PACK_NAME
            assert [p.name for p in info.policies] == [p.name for p in build_policies(ENVIRONMENTS)]
            request = analyzer_pb2.AnalyzeRequest(
                type="vault:appRole/authBackendRole:AuthBackendRole", name="x", urn="urn:pulumi:s::p::t::x",
                properties=_struct({**GOOD_APPROLE, "tokenMaxTtl": "768h"}))
            found = stub.Analyze(request, timeout=20).diagnostics
            assert [d.policyName for d in found] == ["vault-token-lifetime-24h"]
            assert found[0].enforcementLevel == analyzer_pb2.MANDATORY
    finally:
        process.kill()
        process.wait(10)
        process.stdout.close()
        process.stderr.close()


def test_the_pack_refuses_to_start_without_readable_stack_configs(tmp_path):
    process = _start_pack(tmp_path, AGENTIAM_STACKS_DIR=str(tmp_path / "no-such-folder"))
    try:
        _, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 2
    assert "cannot read the stack configs" in err.decode() and "Traceback" not in err.decode()
