"""The review cannot be fooled: each way a pull request could gain power, on a real git repository, is refused by
`validate` or labelled high by the diff (so `--fail-on high` fails). Several spellings per class, not one example."""

from __future__ import annotations

import pytest

from agentiam.cli.diff import failing
from agentiam.diff.model import Direction, Verdict
from agentiam.findings import Finding
from agentiam.project import validate
from tests.diff.conftest import INVOICE, PAYMENT, SpecRepo, entry, labels

PAYMENT_AWS = """    - sid: consume-settlements
      actions: [sqs:ReceiveMessage, sqs:DeleteMessage, sqs:GetQueueAttributes]
      resources: ["arn:aws:sqs:{region}:{account}:billing-{env}-settlements"]
"""
INVOICE_AWS = "      actions: [s3:GetObject, s3:ListBucket]\n"


def findings(repo: SpecRepo) -> list[Finding]:
    return validate([repo.root / "agent_specs"], repo.root / "stacks").findings


def rule_ids(repo: SpecRepo) -> set[str]:
    return {f.rule_id for f in findings(repo)}


def add_payment_statement(repo: SpecRepo, statement: str) -> None:
    repo.edit(PAYMENT, PAYMENT_AWS, PAYMENT_AWS + statement)


def high_labels(report, agent: str, env: str = "prod") -> dict[str, set[str]]:
    """subject -> ids of the high-severity labels of the agent's widening changes in `env`."""
    return {c.subject: {r.id for r in c.risks if r.high} for c in entry(report, agent, env).changes
            if c.direction is Direction.WIDER}


def test_partner_bucket_writes_are_labelled_high_and_held_to_the_own_account(spec_repo: SpecRepo) -> None:
    # S3 ARNs name no account: a bucket of another account matched the old own-account rule.
    add_payment_statement(spec_repo, """    - sid: partner-drop
      actions: [s3:PutObject, s3:PutObjectAcl]
      resources: ["arn:aws:s3:::partner-drop-999999999999/*"]
""")
    spec_repo.commit("partner drop")
    report = spec_repo.diff()
    high = high_labels(report, "payment-gateway-sync")
    assert "resource-exposure" in high["s3:PutObjectAcl"]  # "Permissions management, Write": combined level
    assert "cross-account" in high["s3:PutObject"]  # an account id that is not the environment's
    assert failing(report, "high")
    # And the grant cannot reach another account anyway: the statement is conditioned on the resource's account.
    statement = next(s for s in entry(report, "payment-gateway-sync", "prod").changes if s.subject == "s3:PutObject")
    assert statement.resources == ("arn:aws:s3:::partner-drop-999999999999/*",)


def test_declared_cross_account_is_labelled_high_on_the_agent_and_on_the_class_boundary(spec_repo: SpecRepo) -> None:
    add_payment_statement(spec_repo, """    - sid: partner-drop
      actions: [s3:PutObject]
      resources: ["arn:aws:s3:::partner-drop/*"]
      cross_account:
        accounts: ["444455556666"]
        reason: the partner's drop bucket for settlement files
""")
    spec_repo.commit("declared partner account")
    assert not [f for f in findings(spec_repo) if f.severity.value == "error"]
    report = spec_repo.diff()
    added = next(c for c in entry(report, "payment-gateway-sync", "dev").changes if c.subject == "s3:PutObject")
    assert added.resources == ("arn:aws:s3:::partner-drop/* (also in account 444455556666)",)
    assert "cross-account" in {r.id for r in added.risks if r.high}
    boundary = {c.subject: c for env in report.environments for c in env.changes if c.system == "boundary"}
    assert "cross-account" in labels(boundary["integration: account 444455556666"])
    assert failing(report, "high")


@pytest.mark.parametrize("resource", ["arn:aws:ec2:{region}:{account}:instance/*",
                                      "arn:aws:ec2:{region}:{account}:instance/i-*",
                                      "arn:aws:ec2:*:{account}:instance/i-0123456789abcdef0"])
def test_remote_execution_on_more_than_one_named_instance_is_refused(spec_repo: SpecRepo, resource: str) -> None:
    add_payment_statement(spec_repo, f"""    - sid: shell
      actions: [ssm:SendCommand]
      resources: ["{resource}", "arn:aws:ssm:{{region}}::document/AWS-RunShellScript"]
""")
    assert "AGT028" in rule_ids(spec_repo)
    spec_repo.commit("shell everywhere")
    report = spec_repo.diff()
    assert "remote-execution" in high_labels(report, "payment-gateway-sync")["ssm:SendCommand"]
    assert failing(report, "high")


@pytest.mark.parametrize("action", ["ssm:StartSession", "ecs:ExecuteCommand", "ec2-instance-connect:SendSSHPublicKey"])
def test_remote_execution_is_labelled_high_even_on_one_named_resource(spec_repo: SpecRepo, action: str) -> None:
    add_payment_statement(spec_repo, f"""    - sid: shell
      actions: [{action}]
      resources: ["arn:aws:ec2:{{region}}:{{account}}:instance/i-0123456789abcdef0"]
""")
    spec_repo.commit("one shell")
    report = spec_repo.diff()
    assert "remote-execution" in high_labels(report, "payment-gateway-sync")[action]
    assert failing(report, "high")


@pytest.mark.parametrize("action", ["s3:PutBucketPolicy", "s3:PutBucketAcl", "s3:PutObjectAcl", "kms:CreateGrant",
                                    "sqs:AddPermission"])
def test_permissions_management_in_combined_access_levels_is_resource_exposure(spec_repo: SpecRepo,
                                                                               action: str) -> None:
    add_payment_statement(spec_repo, f"""    - sid: share
      actions: [{action}]
      resources: ["arn:aws:s3:::billing-{{env}}-exports"]
""")
    spec_repo.commit("permissions management")
    report = spec_repo.diff()
    assert "resource-exposure" in high_labels(report, "payment-gateway-sync")[action]
    assert failing(report, "high")


@pytest.mark.parametrize("resource", ["arn:aws:s3:::*/*", "arn:aws:s3:::*", "arn:aws:s3:::*?/*"])
def test_reading_every_bucket_is_refused_whatever_the_spelling(spec_repo: SpecRepo, resource: str) -> None:
    spec_repo.edit(INVOICE, "        - arn:aws:s3:::billing-{env}-invoices/*\n", f'        - "{resource}"\n')
    assert "AGT027" in rule_ids(spec_repo)
    spec_repo.commit("every bucket")
    report = spec_repo.diff()
    changes = entry(report, "invoice-reader", "prod").changes
    assert any("wildcard" in {r.id for r in c.risks if r.high} for c in changes)
    assert failing(report, "high")


@pytest.mark.parametrize("action", ["sso:ListInstances", "identitystore:ListUsers", "account:GetContactInformation",
                                    "sts:GetServiceBearerToken", "sts:AssumeRoot", "sso-directory:DescribeUsers",
                                    "organizations:ListAccounts", "iam:GetRole"])
def test_identity_services_are_refused_as_the_boundary_denies_them(spec_repo: SpecRepo, action: str) -> None:
    spec_repo.edit(INVOICE, INVOICE_AWS, f"      actions: [s3:GetObject, s3:ListBucket, {action}]\n")
    assert "AGT023" in rule_ids(spec_repo)
    spec_repo.commit("identity")
    report = spec_repo.diff()
    assert "privilege-escalation" in high_labels(report, "invoice-reader")[action]


def test_a_schema_added_to_a_connection_widens_every_agent_granted_that_database(spec_repo: SpecRepo) -> None:
    spec_repo.edit("stacks/Pulumi.prod.yaml", """        password_secret: billingDbPassword
        schemas: [public]""", """        password_secret: billingDbPassword
        schemas: [public, payroll]""")
    spec_repo.commit("payroll schema")
    report = spec_repo.diff()
    for agent in ("invoice-reader", "payment-gateway-sync"):
        prod = entry(report, agent, "prod")
        (widened,) = [c for c in prod.changes if c.system == "database"]
        assert widened.subject == "billing (schema payroll)" and widened.direction is Direction.WIDER
        assert "database-scope" in {r.id for r in widened.risks if r.high}
        assert prod.verdict is Verdict.HIGH_RISK
    assert failing(report, "high")


def test_a_kv_mount_moved_in_a_stack_config_shows_on_each_agent(spec_repo: SpecRepo) -> None:
    spec_repo.edit("stacks/Pulumi.dev.yaml", "      kv_mount: secret\n", "      kv_mount: shared-secrets\n")
    spec_repo.commit("kv mount")
    dev = entry(spec_repo.diff(), "invoice-reader", "dev")
    subjects = {(c.op, c.subject) for c in dev.changes if c.system == "vault"}
    assert ("added", "shared-secrets/data/billing/invoice-reader/*") in subjects
    assert ("removed", "secret/data/billing/invoice-reader/*") in subjects


def test_a_trusted_principal_in_another_account_needs_a_reason_and_is_labelled(spec_repo: SpecRepo) -> None:
    old = "arn:aws:iam::333333333333:role/vault-aws-secrets-engine"
    spec_repo.edit("stacks/Pulumi.prod.yaml", old, "arn:aws:iam::444444444444:role/vault")
    # A stack-config finding, located, in validate's result (not an exception: every output format shows it).
    assert [(f.file, f.rule_id, f.path) for f in findings(spec_repo) if "cross_account_reason" in f.message] == [
        (str(spec_repo.root / "stacks/Pulumi.prod.yaml"), "CFG002", "aws_secrets_engine_principal_arn")]
    spec_repo.edit("stacks/Pulumi.prod.yaml", "arn:aws:iam::444444444444:role/vault",
                   "arn:aws:iam::444444444444:role/vault\n"
                   "    aws_secrets_engine_principal_cross_account_reason: Vault runs in the shared-services account")
    spec_repo.commit("shared-services vault")
    report = spec_repo.diff()
    (prod,) = [e for e in report.environments if e.environment == "prod"]
    trust = next(c for c in prod.changes if c.system == "trust")
    assert {"trust-changed", "cross-account"} <= {r.id for r in trust.risks if r.high}
    # ...and on every agent: its role now trusts the other account.
    agent = entry(report, "invoice-reader", "prod")
    assert any(c.system == "trust" and c.high_risk for c in agent.changes)
    assert failing(report, "high")


def test_a_new_environment_is_reviewed_like_a_new_agent_plus_its_platform(spec_repo: SpecRepo) -> None:
    qa = spec_repo.read("stacks/Pulumi.staging.yaml").replace("name: staging", "name: qa").replace(
        "222222222222", "555555555555").replace("staging.internal", "qa.internal")
    spec_repo.write("stacks/Pulumi.qa.yaml", qa)
    spec_repo.edit(INVOICE, "environments: [dev, staging, prod]", "environments: [dev, staging, prod, qa]")
    spec_repo.commit("qa environment")
    report = spec_repo.diff()
    (env,) = [e for e in report.environments if e.environment == "qa"]
    by_system = {c.system: c for c in env.changes}
    assert "new-environment" in labels(by_system["environment"]) and by_system["environment"].after.startswith(
        "account 555555555555")
    assert by_system["trust"].high_risk and by_system["audit"].after.startswith("agentiam-file")
    assert "logging" in by_system and "boundary" in by_system and "connection" in by_system
    assert env.verdict is Verdict.HIGH_RISK
    assert entry(report, "invoice-reader", "qa").kind == "added"
    assert failing(report, "high")


def test_an_agent_named_like_another_agents_login_policy_is_refused_on_both(spec_repo: SpecRepo) -> None:
    text = spec_repo.read(PAYMENT).replace("name: payment-gateway-sync", "name: payment-gateway-sync-login")
    spec_repo.write("agent_specs/billing/payment-gateway-sync-login.yaml",
                    text.replace("billing/{agent}/stripe-api-key", "billing/{agent}/other"))
    collisions = [f for f in findings(spec_repo) if f.rule_id == "AGT007"]
    assert {f.file.rsplit("/", 1)[-1] for f in collisions} == {"payment-gateway-sync.yaml",
                                                               "payment-gateway-sync-login.yaml"}


def test_a_reporting_agent_cannot_read_another_agents_secret_unless_shared(spec_repo: SpecRepo) -> None:
    spec_repo.edit(INVOICE, "    - path: billing/{agent}/*\n",
                   "    - path: billing/{agent}/*\n      capabilities: [read]\n"
                   "    - path: billing/payment-gateway-sync/stripe-api-key\n")
    assert "AGT037" in rule_ids(spec_repo)
    spec_repo.edit(INVOICE, "    - path: billing/payment-gateway-sync/stripe-api-key\n",
                   "    - path: billing/payment-gateway-sync/stripe-api-key\n      shared_by: payment-gateway-sync\n")
    assert "AGT045" in rule_ids(spec_repo)  # the owner has not shared it
    spec_repo.edit(PAYMENT, "      capabilities: [read]\n", "      capabilities: [read]\n  kv_shares:\n"
                   "    - path: billing/{agent}/stripe-api-key\n      agents: [invoice-reader]\n")
    assert not {"AGT037", "AGT045"} & rule_ids(spec_repo)
    spec_repo.commit("shared secret")
    report = spec_repo.diff()
    share = next(c for c in entry(report, "payment-gateway-sync", "prod").changes if c.op == "shared")
    assert share.subject == "secret/data/billing/payment-gateway-sync/stripe-api-key shared with invoice-reader"
    assert "resource-exposure" in {r.id for r in share.risks if r.high}


def test_a_stack_config_loosening_its_guardrails_is_a_labelled_widening(spec_repo: SpecRepo) -> None:
    spec_repo.edit("stacks/Pulumi.prod.yaml", "      max_expiry_days: 365\n", "      max_expiry_days: 1000\n")
    spec_repo.edit("stacks/Pulumi.prod.yaml", "      internal_domains: [prod.internal]\n",
                   "      internal_domains: []\n")
    spec_repo.commit("looser prod")
    (prod,) = [e for e in spec_repo.diff().environments if e.environment == "prod"]
    loosened = {c.subject: c for c in prod.changes if c.system == "environment"}
    assert set(loosened) == {"guardrails.max_expiry_days", "guardrails.internal_domains prod.internal"}
    assert all(c.direction is Direction.WIDER and labels(c) == {"guardrail-loosened"} for c in loosened.values())


def test_a_stack_config_declaring_more_quota_room_is_a_labelled_widening(spec_repo: SpecRepo) -> None:
    # AGT048 counts the fleet against these: a higher quota, or fewer roles declared outside agentiam, lets more in.
    spec_repo.edit("stacks/Pulumi.prod.yaml", "    guardrails:", "    quotas:\n      iam_roles: 5000\n"
                   "      iam_customer_managed_policies: 1000\n    guardrails:")
    spec_repo.commit("more room in prod's account", tag="quota")
    spec_repo.edit("stacks/Pulumi.prod.yaml", "      iam_roles: 5000\n",
                   "      iam_roles: 5000\n      iam_roles_outside_agentiam: 10\n")
    spec_repo.commit("other roles counted")
    (prod,) = [e for e in spec_repo.diff(base="HEAD~2", head="quota").environments if e.environment == "prod"]
    quotas = {c.subject: c for c in prod.changes if c.subject.startswith("quotas.")}
    assert set(quotas) == {"quotas.iam_roles", "quotas.iam_customer_managed_policies"}
    assert quotas["quotas.iam_roles"].direction is Direction.WIDER
    assert labels(quotas["quotas.iam_roles"]) == {"guardrail-loosened"}
    assert (quotas["quotas.iam_roles"].before, quotas["quotas.iam_roles"].after) == ("1000", "5000")
    assert quotas["quotas.iam_customer_managed_policies"].direction is Direction.NARROWER  # 1,500 -> 1,000
    assert not labels(quotas["quotas.iam_customer_managed_policies"])
    (outside,) = [c for e in spec_repo.diff(base="quota").environments for c in e.changes
                  if c.subject == "quotas.iam_roles_outside_agentiam"]
    assert outside.direction is Direction.NARROWER and not labels(outside)  # 0 -> 10: less room


def test_the_diff_judges_a_shared_path_against_its_unchanged_owner(spec_repo: SpecRepo) -> None:
    """The owner's spec is not part of the change: the diff still finds it, so a correct share is no violation and
    a missing one is."""
    spec_repo.edit(PAYMENT, "      capabilities: [read]\n", "      capabilities: [read]\n  kv_shares:\n"
                   "    - path: billing/{agent}/stripe-api-key\n      agents: [invoice-reader]\n")
    spec_repo.commit("owner shares", tag="shared")
    spec_repo.edit(INVOICE, "    - path: billing/{agent}/*\n",
                   "    - path: billing/{agent}/*\n      capabilities: [read]\n"
                   "    - path: billing/payment-gateway-sync/stripe-api-key\n      shared_by: payment-gateway-sync\n")
    spec_repo.commit("reader")
    report = spec_repo.diff("shared", "HEAD")
    assert report.changed_spec_files == [INVOICE] and report.findings == []
    spec_repo.edit(INVOICE, "      shared_by: payment-gateway-sync\n      capabilities: [read]\n",
                   "      shared_by: payment-gateway-sync\n      capabilities: [read, list]\n")
    report = spec_repo.diff("shared", None)  # the working tree
    assert [f.rule_id for f in report.findings] == ["AGT045"] and "list not allowed" in report.findings[0].message


def test_two_agents_pinning_one_certificate_name_are_refused_on_both(spec_repo: SpecRepo) -> None:
    for path in (INVOICE, PAYMENT):
        spec_repo.edit(path, "function:",
                       "authentication:\n  certificate_common_name: shared.{env}.agents.example.com\nfunction:")
    collisions = [f for f in findings(spec_repo) if f.rule_id == "AGT007"]
    assert {f.file.rsplit("/", 1)[-1] for f in collisions} == {"invoice-reader.yaml", "payment-gateway-sync.yaml"}
    assert all(f.path == "authentication.certificate_common_name" for f in collisions)
