"""One source of truth: what the program registers per agent is exactly what `agentiam plan --format json` shows."""

from __future__ import annotations

import json

from click.testing import CliRunner

from agentiam.cli.main import cli
from tests.program.conftest import StackRun
from tests.pulumi_capture import PROJECT_DIR


def _plan_json(stack: str) -> dict:
    result = CliRunner().invoke(cli, ["plan", "--env", stack, "--format", "json",
                                      "--specs", str(PROJECT_DIR / "agent_specs"),
                                      "--stacks", str(PROJECT_DIR / "stacks")])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def expected_resources(agent: dict, role_ids: dict[str, str]) -> set[tuple[str, str]]:
    """(type token, physical identity) of every resource the plan entry of one agent calls for."""
    aws, vault = agent["aws"], agent["vault"]
    approle, cert = vault["approle"], vault["cert"]
    found = {("aws:iam/role:Role", aws["role_name"]),
             ("vault:index/policy:Policy", vault["policy_name"]),
             ("vault:index/policy:Policy", vault["login_policy_name"]),
             ("vault:index/policy:Policy", vault["mint_policy_name"]),
             ("vault:appRole/authBackendRole:AuthBackendRole", f"{approle['mount']}/{approle['role_name']}"),
             ("vault:tokenauth/authBackendRole:AuthBackendRole", f"token/{vault['token_role']['name']}"),
             ("vault:index/certAuthBackendRole:CertAuthBackendRole", f"{cert['mount']}/{cert['role_name']}"),
             ("vault:identity/entity:Entity", vault["entity"]["name"]),
             ("vault:identity/entityAlias:EntityAlias", role_ids[agent["agent"]]),
             ("vault:identity/entityAlias:EntityAlias", vault["entity"]["cert_alias_name"]),
             ("vault:identity/entityAlias:EntityAlias", vault["entity"]["token_alias_name"])}
    if aws["inline_policy"] is not None:
        found.add(("aws:iam/rolePolicy:RolePolicy", f"{aws['role_name']}:{aws['inline_policy_name']}"))
    if aws["kill_switch_policy"] is not None:
        found.add(("aws:iam/rolePolicy:RolePolicy", f"{aws['role_name']}:{aws['kill_switch_policy_name']}"))
    for role in vault["database_roles"]:
        found.add(("vault:database/secretBackendRole:SecretBackendRole", f"{role['mount']}/{role['name']}"))
    if vault["aws_secret_role"] is not None:
        found.add(("vault:aws/secretBackendRole:SecretBackendRole",
                   f"{vault['aws_secret_role']['mount']}/{vault['aws_secret_role']['name']}"))
    if vault["rate_limit"] is not None:
        found.add(("vault:index/quotaRateLimit:QuotaRateLimit", vault["rate_limit"]["name"]))
    return found


def physical_identity(type_token: str, inputs: dict) -> str:
    """The name a resource has on AWS / Vault, from its inputs."""
    if type_token == "aws:iam/rolePolicy:RolePolicy":
        return f"{inputs['role']}:{inputs['name']}"
    if type_token == "vault:appRole/authBackendRole:AuthBackendRole":
        return f"{inputs['backend']}/{inputs['roleName']}"
    if type_token == "vault:tokenauth/authBackendRole:AuthBackendRole":
        return f"token/{inputs['roleName']}"
    if "backend" in inputs:
        return f"{inputs['backend']}/{inputs['name']}"
    return inputs["name"]


def test_registered_resources_per_agent_equal_the_cli_plan(run: StackRun) -> None:
    plan = _plan_json(run.stack)
    capture = run.capture
    role_ids = capture.outputs["approle_role_ids"]
    assert sorted(a["identity_name"] for a in plan["agents"]) == sorted(
        r.name for r in capture.of_type("agentiam:index:AgentIdentity"))
    for agent in plan["agents"]:
        identity = capture.get("agentiam:index:AgentIdentity", agent["identity_name"])
        registered = [(r.type_token, physical_identity(r.type_token, r.inputs))
                      for r in capture.descendants(identity.urn) if r.custom]
        assert len(registered) == len(set(registered))
        assert set(registered) == expected_resources(agent, role_ids)


def test_nothing_outside_agents_and_the_platform(run: StackRun) -> None:
    capture = run.capture
    roots = [r for r in capture.resources if r.parent is None]
    assert sorted(r.type_token for r in roots) == sorted(
        ["pulumi:providers:vault", "agentiam:index:Platform"] + ["agentiam:index:AgentIdentity"] * len(run.plan.agents))
