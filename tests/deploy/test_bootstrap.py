"""`agentiam bootstrap`: the policies follow the plan, name real IAM actions on the resources the program creates,
and no stack-config value becomes syntax in the files an administrator runs."""

from __future__ import annotations

import fnmatch
import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from agentiam import project
from agentiam.cli.main import cli
from agentiam.deploy import requirements
from agentiam.deploy.bootstrap import bootstrap_documents
from agentiam.errors import ConfigError
from agentiam.iam import catalogue
from tests.program.conftest import STACKS, stack_run

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).parent / "golden"


def _plan(stack: str):
    return project.compile_plan(stack, ROOT / "agent_specs", ROOT / "stacks")[0]


def _arn_pattern(template: str) -> str:
    """`arn:${Partition}:iam::${Account}:role/${RoleNameWithPath}` -> a glob any concrete ARN of it matches."""
    return re.sub(r"\$\{[^}]+\}", "*", template)


@pytest.mark.parametrize("stack", STACKS)
def test_every_iam_action_exists_and_names_a_resource_it_supports(stack: str) -> None:
    plan = _plan(stack)
    grants = (requirements.deployer_iam_grants(plan) + requirements.engine_principal_grants(plan)
              + requirements.doctor_iam_grants(plan, plan.platform.aws_secrets_engine_principal_arn))
    for grant in grants:
        for action in grant.actions:
            (info,) = catalogue.expand(action)
            service = action.split(":")[0]
            if not info.resource_types:
                assert grant.resources == ("*",), f"{action} supports no resource-level permission"
                continue
            formats = [_arn_pattern(f) for t, f in catalogue.resource_formats(service).items()
                       if t in info.resource_types]
            for resource in grant.resources:
                probe = resource.replace("*", "x")
                assert any(fnmatch.fnmatchcase(probe, f) for f in formats), f"{action} on {resource}: {formats}"


@pytest.mark.parametrize("stack", STACKS)
def test_the_deployer_policy_covers_every_aws_resource_the_program_registers(stack: str) -> None:
    run = stack_run(stack)
    plan = run.plan
    grants = requirements.deployer_iam_grants(plan)

    def allowed(action: str, arn: str) -> bool:
        return any(action in g.actions and any(fnmatch.fnmatchcase(arn, r) for r in g.resources) for g in grants)

    account, region = plan.account_id, plan.region
    for record in run.capture.of_type("aws:iam/role:Role"):
        arn = f"arn:aws:iam::{account}:role{record.inputs['path']}{record.inputs['name']}"
        assert allowed("iam:CreateRole", arn) and allowed("iam:DeleteRole", arn) and allowed("iam:PutRolePolicy", arn)
        assert any(fnmatch.fnmatchcase(record.inputs["permissionsBoundary"], g.condition["StringLike"][
            "iam:PermissionsBoundary"]) for g in grants if g.condition.get("StringLike"))
    for record in run.capture.of_type("aws:iam/policy:Policy"):
        arn = f"arn:aws:iam::{account}:policy{record.inputs['path']}{record.inputs['name']}"
        assert allowed("iam:CreatePolicy", arn) and allowed("iam:CreatePolicyVersion", arn)
    for record in run.capture.of_type("aws:cloudwatch/logGroup:LogGroup"):
        assert allowed("logs:CreateLogGroup", f"arn:aws:logs:{region}:{account}:log-group:{record.inputs['name']}")
    for record in run.capture.of_type("aws:cloudwatch/logSubscriptionFilter:LogSubscriptionFilter"):
        assert allowed("logs:PutSubscriptionFilter",
                       f"arn:aws:logs:{region}:{account}:log-group:{record.inputs['logGroup']}")
        assert allowed("iam:PassRole", record.inputs["roleArn"])
    for record in run.capture.of_type("aws:cloudwatch/metricAlarm:MetricAlarm"):
        assert allowed("cloudwatch:PutMetricAlarm", f"arn:aws:cloudwatch:{region}:{account}:alarm:{record.inputs['name']}")
    # Nothing outside the environment: another environment's role is not the deployer's.
    assert not allowed("iam:CreateRole", f"arn:aws:iam::{account}:role/agentiam/other/agent-other-x")
    assert not allowed("iam:CreateRole", f"arn:aws:iam::{account}:role/admin")


def test_the_engine_principal_may_tag_sessions_only_where_the_server_sends_tags() -> None:
    for stack, tags in (("dev", False), ("prod", True)):
        (grant,) = requirements.engine_principal_grants(_plan(stack))
        assert set(grant.actions) == ({"sts:AssumeRole", "sts:TagSession"} if tags else {"sts:AssumeRole"})
        assert grant.resources == (f"arn:aws:iam::{_plan(stack).account_id}:role/agentiam/{stack}/agent-{stack}-*",)


def test_the_vault_policy_follows_the_plan_mounts_audit_and_accessors() -> None:
    dev, prod = _plan("dev"), _plan("prod")
    dev_paths = {r.path for r in requirements.deployer_vault_rules(dev)}
    prod_paths = {r.path for r in requirements.deployer_vault_rules(prod)}
    assert "sys/audit/agentiam-file" in prod_paths - dev_paths  # prod's HashiCorp Vault: the audit device via the API
    assert {"auth/agentiam-dev-approle/role/+", "auth/agentiam-dev-cert/certs/+", "sys/policies/acl/agent-dev-*",
            "agentiam-dev-database/roles/+", "aws/roles/agent-dev-*"} <= dev_paths
    assert not [p for p in dev_paths if "secret-id" in p or "/creds/" in p]  # never an agent's factors or secrets
    pinned = requirements.deployer_vault_rules(dev, {"agentiam-dev-approle": "auth_approle_1", "agentiam-dev-cert":
                                                     "auth_cert_2"})
    (alias,) = [r for r in pinned if r.path == "identity/entity-alias"]
    assert alias.allowed_parameters == {"*": (), "mount_accessor": ("auth_approle_1", "auth_cert_2")}
    with pytest.raises(ConfigError, match="no accessor given for agentiam-dev-cert"):
        bootstrap_documents(dev, alias_accessors={"agentiam-dev-approle": "auth_approle_1"})


def test_stack_config_values_never_become_syntax(tmp_path: Path) -> None:
    hostile = "arn:aws:iam::111111111111:role/x$(touch pwned);rm"
    plan = _plan("dev")
    plan = plan.model_copy(update={"platform": plan.platform.model_copy(update={
        "aws_secrets_engine_principal_arn": hostile})})
    documents = {d.name: d for d in bootstrap_documents(plan)}
    apply = documents["aws-secrets-engine-principal-policy.json"].apply
    assert "--role-name 'x$(touch pwned);rm'" in apply
    assert "'arn:aws:iam::111111111111:role/x$(touch pwned);rm'" in documents["vault-aws-secrets-engine.sh"].text
    with pytest.raises(ConfigError, match="expected OWNER/NAME"):
        bootstrap_documents(plan, repository="acme/agents\nrm -rf /")


def test_the_command_writes_the_files_and_the_steps(tmp_path: Path) -> None:
    out = tmp_path / "bootstrap"
    result = CliRunner().invoke(cli, ["bootstrap", "--env", "dev", "--specs", str(ROOT / "agent_specs"), "--stacks",
                                      str(ROOT / "stacks"), "--output-dir", str(out), "--github-repo", "acme/agents"])
    assert result.exit_code == 0, result.output
    golden = GOLDEN / "bootstrap-dev.txt"
    shown = result.output.replace(str(out), "<output-dir>")
    assert shown == golden.read_text(encoding="utf-8")
    assert (out / "vault-deployer-policy.hcl").read_text() == (GOLDEN / "vault-deployer-policy-dev.hcl").read_text()
    role = json.loads((out / "vault-ci-deploy-jwt-role.json").read_text())
    assert role["bound_claims"] == {"repository": "acme/agents", "ref": "refs/heads/main",
                                    "environment": "agentiam-dev"}
    assert role["token_ttl"] > _plan("dev").deploy.vault_token_ttl  # outlives the provider's child token
    bad = CliRunner().invoke(cli, ["bootstrap", "--env", "dev", "--specs", str(ROOT / "agent_specs"), "--stacks",
                                   str(ROOT / "stacks"), "--output-dir", str(out), "--alias-mount-accessor", "x"])
    assert bad.exit_code == 2 and "expected MOUNT=ACCESSOR" in bad.output


@pytest.mark.parametrize("stack", STACKS)
def test_the_auditor_reads_what_the_deployer_writes_and_changes_nothing(stack: str) -> None:
    plan = _plan(stack)
    rules = requirements.auditor_vault_rules(plan)
    for rule in rules:
        if rule.path in requirements.AUDITOR_WRITES:
            continue
        assert set(rule.capabilities) <= {"read", "list", "sudo"}, rule
    deployer_reads = {r.path for r in requirements.deployer_vault_rules(plan) if "read" in r.capabilities}
    assert deployer_reads - {r.path for r in rules} == {f"sys/policies/acl/agentiam-{stack}-deployer"}
    for grant in requirements.auditor_iam_grants(plan):
        for action in grant.actions:
            assert {i.access_level for i in catalogue.expand(action)} <= {"List", "Read"}, action
