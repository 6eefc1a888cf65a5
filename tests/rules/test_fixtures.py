"""Every guardrail against its pass and fail fixtures: the exact findings, located by line, column and field."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from agentiam import project
from agentiam.findings import Severity
from agentiam.rules.registry import ALL_RULES, FLEET_RULES, rule_index

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures" / "specs" / "rules"
STACKS = REPO / "stacks"
TODAY = dt.date(2026, 12, 1)  # fixed, so expiry fixtures mean the same on every day the suite runs

# fixture (relative to FIXTURES) -> sorted (rule_id, line, column, field path) of every finding, all rules run.
# A fixture folder holds several specs validated together: its entries start with the file inside the folder.
EXPECTED: dict[str, list[tuple]] = {
    "AGT001/fail-duplicate": [
        ('billing/shared-name.yaml', 'AGT001', 3, 7, 'name'),
        ('support/shared-name.yaml', 'AGT001', 3, 7, 'name'),
    ],
    "AGT001/pass-distinct": [],
    "AGT002/fail-long-custom-cn.yaml": [
        ('AGT002', 13, 28, 'authentication.certificate_common_name'),
    ],
    "AGT002/fail-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx.yaml": [
        ('AGT002', 3, 7, 'name'),
    ],
    "AGT002/pass-names.yaml": [],
    "AGT003/fail-unknown.yaml": [
        ('AGT003', 10, 21, 'environments[qa]'),
    ],
    "AGT003/pass-known.yaml": [],
    "AGT004/fail-expired.yaml": [
        ('AGT004', 11, 10, 'expires'),
    ],
    "AGT004/fail-expired-suspended.yaml": [
        ('AGT004', 11, 10, 'expires'),
    ],
    "AGT004/pass-expired-revoked.yaml": [],
    "AGT004/pass-future.yaml": [],
    "AGT005/fail-30-days.yaml": [
        ('AGT005', 11, 10, 'expires'),
    ],
    "AGT005/fail-today.yaml": [
        ('AGT005', 11, 10, 'expires'),
    ],
    "AGT005/pass-30-days-revoked.yaml": [],
    "AGT005/pass-31-days.yaml": [],
    "AGT006/fail-mismatch.yaml": [
        ('AGT006', 3, 7, 'name'),
    ],
    "AGT006/pass-matching.yaml": [],
    "AGT009/fail-skeleton.yaml": [
        ('AGT009', 4, 14, 'description'),
        ('AGT009', 6, 9, 'owner.team'),
        ('AGT009', 7, 12, 'owner.sponsor'),
        ('AGT009', 8, 12, 'owner.contact'),
        ('AGT009', 19, 19,
         'permissions.aws[consume-outbound-events].resources[arn:aws:sqs:{region}:{account}:change-me-{env}-outbound]'),
        ('AGT009', 21, 13, 'permissions.kv[change-me/{agent}/*].path'),
        ('AGT009', 25, 13, 'network.egress[api.example.com].host'),
        ('AGT009', 27, 16, 'network.egress[api.example.com].purpose'),
    ],
    "AGT009/fail-other-spellings.yaml": [
        ('AGT009', 5, 14, 'description'),
        ('AGT009', 17, 19, 'permissions.aws[drop-files].resources[arn:aws:s3:::REPLACE-ME-drop/*]'),
        ('AGT009', 17, 53, 'permissions.aws[drop-files].resources[arn:aws:s3:::platform-{env}-changeme/*]'),
        ('AGT009', 20, 17, 'permissions.aws[drop-files].cross_account.reason'),
        ('AGT009', 23, 13, 'network.egress[partner.example].host'),
        ('AGT009', 30, 17, 'overrides.prod.network.egress[api.partner.test].host'),
        ('AGT009', 31, 20, 'overrides.prod.network.egress[api.partner.test].purpose'),
    ],
    "AGT009/pass-filled-in.yaml": [],
    "AGT010/fail-25h.yaml": [
        ('AGT010', 14, 18, 'credentials.token_max_ttl'),
    ],
    "AGT010/fail-override.yaml": [
        ('AGT010', 22, 22, 'overrides.prod.credentials.token_max_ttl'),
    ],
    "AGT010/pass-24h.yaml": [],
    "AGT011/fail-longer.yaml": [
        ('AGT011', 13, 14, 'credentials.token_ttl'),
    ],
    "AGT011/fail-override-max.yaml": [
        ('AGT011', 23, 22, 'overrides.prod.credentials.token_max_ttl'),
    ],
    "AGT011/pass-within.yaml": [],
    "AGT012/fail-override.yaml": [
        ('AGT012', 20, 24, 'overrides.prod.credentials.aws_session_ttl'),
        ('AGT015', 20, 24, 'overrides.prod.credentials.aws_session_ttl'),
    ],
    "AGT012/fail-short.yaml": [
        ('AGT012', 13, 20, 'credentials.aws_session_ttl'),
    ],
    "AGT012/pass-bounds.yaml": [],
    "AGT015/fail-chained.yaml": [
        ('AGT015', 13, 20, 'credentials.aws_session_ttl'),
        ('AGT015', 22, 24, 'overrides.prod.credentials.aws_session_ttl'),
    ],
    "AGT015/pass-within-hour.yaml": [],
    "AGT015/pass-no-aws.yaml": [],
    "AGT013/fail-max.yaml": [
        ('AGT013', 13, 21, 'credentials.database_max_ttl'),
    ],
    "AGT013/fail-order-override.yaml": [
        ('AGT013', 23, 21, 'overrides.prod.credentials.database_ttl'),
    ],
    "AGT013/pass-ordered.yaml": [],
    "AGT014/fail-override.yaml": [
        ('AGT014', 20, 22, 'overrides.staging.credentials.secret_id_ttl'),
    ],
    "AGT014/pass-5m.yaml": [],
    "AGT020/fail-typo.yaml": [
        ('AGT020', 15, 17, 'permissions.aws[read-data].actions[s3:GetObjekt]'),
        ('AGT020', 15, 31, 'permissions.aws[read-data].actions[s4:GetObject]'),
        ('AGT020', 15, 45, 'permissions.aws[read-data].actions[s3:Frobnicate*]'),
    ],
    "AGT020/pass-known.yaml": [],
    "AGT021/fail-service-wildcard.yaml": [
        ('AGT021', 15, 17, 'permissions.aws[consume-jobs].actions[sqs:*]'),
    ],
    "AGT021/fail-star.yaml": [
        ('AGT021', 15, 17, 'permissions.aws[consume-jobs].actions[*]'),
    ],
    "AGT021/pass-named.yaml": [],
    "AGT022/fail-scoped.yaml": [
        ('AGT022', 16, 19, 'permissions.aws[read-metrics].resources[*]'),
    ],
    "AGT022/pass-unscoped.yaml": [],
    "AGT023/fail-combination.yaml": [
        ('AGT023', 15, 17, 'permissions.aws[find-instances].actions[ec2:DescribeInstances]'),
        ('AGT023', 18, 17, 'permissions.aws[push-ssh-key].actions[ec2-instance-connect:SendSSHPublicKey]'),
    ],
    "AGT023/fail-pass-role.yaml": [
        ('AGT023', 15, 17, 'permissions.aws[pass-role].actions[iam:PassRole]'),
        ('AGT023', 15, 31, 'permissions.aws[pass-role].actions[iam:Get*]'),
    ],
    "AGT023/pass-plain.yaml": [],
    "AGT024/fail-token.yaml": [
        ('AGT024', 15, 17, 'permissions.aws[registry-login].actions[ecr:GetAuthorizationToken]'),
    ],
    "AGT024/pass-images.yaml": [],
    "AGT025/fail-any-account.yaml": [
        ('AGT025', 16, 19, 'permissions.aws[read-data].resources[arn:aws:sqs:{region}:*:platform-{env}-jobs]'),
    ],
    "AGT025/fail-prod-account.yaml": [
        ('AGT025', 16, 19,
         'permissions.aws[read-data].resources[arn:aws:sqs:{region}:333333333333:platform-prod-jobs]'),
    ],
    "AGT025/fail-prod-name.yaml": [
        ('AGT025', 16, 19, 'permissions.aws[read-invoices].resources[arn:aws:s3:::billing-prod-invoices/*]'),
    ],
    "AGT025/pass-own.yaml": [],
    "AGT026/fail-region.yaml": [
        ('AGT026', 16, 19, 'permissions.aws[read-data].resources[arn:aws:sqs:us-east-1:{account}:platform-{env}-jobs]'),
    ],
    "AGT026/pass-region.yaml": [],
    "AGT030/fail-writes.yaml": [
        ('AGT030', 15, 31, 'permissions.aws[read-data].actions[s3:PutObject]'),
        ('AGT030', 15, 45, 'permissions.aws[read-data].actions[s3:Put*]'),
        ('AGT030', 19, 15, 'permissions.databases[billing].access'),
        ('AGT030', 22, 21, 'permissions.kv[platform/{agent}/*].capabilities'),
    ],
    "AGT030/pass-read-only.yaml": [],
    "AGT031/fail-no-limits.yaml": [
        ('AGT031', 17, 1, 'network'),
        ('AGT031', 23, 5, 'overrides.prod.network'),
    ],
    "AGT031/fail-wildcard-arn.yaml": [
        ('AGT031', 16, 19, 'permissions.aws[consume-jobs].resources[arn:aws:sqs:{region}:{account}:platform-*]'),
        ('AGT031', 19, 19, 'permissions.aws[write-outbox].resources[arn:aws:s3:::platform-*/out/*]'),
    ],
    "AGT031/pass-complete.yaml": [],
    "AGT032/fail-export.yaml": [
        ('AGT032', 15, 31, 'permissions.aws[read-data].actions[s3:PutObject]'),
        ('AGT032', 18, 31, 'permissions.aws[scratch].actions[s3:PutBucketPolicy]'),
        ('AGT032', 19, 19, 'permissions.aws[scratch].resources[arn:aws:s3:::platform-scratch/{agent}/*]'),
        ('AGT032', 23, 15, 'permissions.databases[analytics].access'),
    ],
    "AGT032/pass-scratch.yaml": [],
    "AGT033/fail-reporting-writes.yaml": [
        ('AGT033', 15, 17, 'permissions.aws[write-report].actions[s3:PutObject]'),
        ('AGT033', 19, 21, 'permissions.kv[platform/{agent}/state].capabilities'),
    ],
    "AGT033/pass-monitoring.yaml": [],
    "AGT034/fail-egress.yaml": [
        ('AGT034', 19, 5, 'network.egress'),
    ],
    "AGT034/fail-override-rate-limit.yaml": [
        ('AGT034', 20, 7, 'overrides.staging.network.vault_login_rate'),
    ],
    "AGT034/pass-no-network.yaml": [],
    "AGT035/fail-unknown-database.yaml": [
        ('AGT035', 18, 17, 'permissions.databases[payments].database'),
    ],
    "AGT035/pass-configured.yaml": [],
    "AGT036/fail-paths.yaml": [
        ('AGT036', 18, 13, 'permissions.kv[platform/../billing/*].path'),
        ('AGT036', 20, 13, 'permissions.kv[platform//{agent}].path'),
        ('AGT036', 22, 13, 'permissions.kv[platform/{team}/*].path'),
    ],
    "AGT036/pass-folder.yaml": [],
    "AGT040/fail-too-large.yaml": [
        ('AGT040', 13, 3, 'permissions.aws'),
    ],
    "AGT040/pass-small.yaml": [],
    "AGT041/fail-wildcard-cn.yaml": [
        ('AGT041', 13, 28, 'authentication.certificate_common_name'),
    ],
    "AGT041/pass-pinned.yaml": [],
    "AGT042/fail-duplicate.yaml": [
        ('AGT042', 17, 12, 'permissions.aws[read-data].sid'),
    ],
    "AGT042/pass-unique.yaml": [],
    "AGT043/fail-oversized": [
        ('wide-reader-three.yaml', 'AGT043', 14, 5, 'permissions.aws'),
    ],
    "AGT043/pass-compacted": [],
    "AGT047/fail-over-capacity": [
        ('wide-partner.yaml', 'AGT047', 14, 5, 'network.egress'),
    ],
    "AGT047/pass-at-capacity": [],
    "AGT007/fail-login-name": [
        ('support/ticket-triage-login.yaml', 'AGT007', 3, 7, 'name'),
        ('support/ticket-triage.yaml', 'AGT007', 3, 7, 'name'),
    ],
    "AGT007/fail-mint-name": [
        ('support/ticket-triage-mint.yaml', 'AGT007', 3, 7, 'name'),
        ('support/ticket-triage.yaml', 'AGT007', 3, 7, 'name'),
    ],
    "AGT007/fail-same-cn": [
        ('billing/cn-one.yaml', 'AGT007', 13, 28, 'authentication.certificate_common_name'),
        ('billing/cn-two.yaml', 'AGT007', 13, 28, 'authentication.certificate_common_name'),
    ],
    "AGT007/pass-distinct": [
    ],
    "AGT008/fail-too-far.yaml": [
        ('AGT008', 11, 10, 'expires'),
    ],
    "AGT008/pass-revoked.yaml": [
    ],
    "AGT008/pass-within.yaml": [
    ],
    "AGT027/fail-every-bucket.yaml": [
        ('AGT027', 16, 19, 'permissions.aws[read-everything].resources[arn:aws:s3:::*/*]'),
        ('AGT027', 19, 19, 'permissions.aws[decrypt-with-any-key].resources[arn:aws:kms:{region}:{account}:key/*]'),
        ('AGT027', 19, 59,
         'permissions.aws[decrypt-with-any-key].resources[arn:aws:ssm:{region}:{account}:parameter/*]'),
    ],
    "AGT027/pass-metadata.yaml": [
    ],
    "AGT028/fail-analysis-shell.yaml": [
        ('AGT028', 16, 17, 'permissions.aws[exec-into-task].actions[ecs:ExecuteCommand]'),
    ],
    "AGT028/fail-shell.yaml": [
        ('AGT028', 17, 11, 'permissions.aws[run-commands].resources[arn:aws:ec2:{region}:{account}:instance/i-*]'),
        ('AGT028', 21, 19, 'permissions.aws[clean-queue].resources[arn:aws:sqs:{region}:{account}:platform-{env}-*]'),
        ('AGT031', 17, 11, 'permissions.aws[run-commands].resources[arn:aws:ec2:{region}:{account}:instance/i-*]'),
        ('AGT031', 21, 19, 'permissions.aws[clean-queue].resources[arn:aws:sqs:{region}:{account}:platform-{env}-*]'),
    ],
    "AGT028/pass-named.yaml": [
    ],
    "AGT037/fail-other-folder.yaml": [
        ('AGT037', 14, 13, 'permissions.kv[billing/payment-gateway-sync/stripe-api-key].path'),
        ('AGT037', 16, 13, 'permissions.kv[billing/*].path'),
        ('AGT037', 20, 18, 'permissions.kv[platform/{agent}/state].shared_by'),
        ('AGT037', 22, 13, 'permissions.kv_shares[billing/payment-gateway-sync/stripe-api-key].path'),
    ],
    "AGT037/fail-folder-named-agent": [
        ('billing.yaml', 'AGT037', 14, 13, 'permissions.kv[billing/*].path'),
    ],
    "AGT037/pass-own-folder.yaml": [
    ],
    "AGT038/fail-prod-internal.yaml": [
        ('AGT038', 14, 13, 'network.egress[billing-db.prod.internal].host'),
    ],
    "AGT038/pass-own-internal.yaml": [
    ],
    "AGT039/fail-too-fast.yaml": [
        ('AGT039', 16, 3, 'network.vault_login_rate'),
    ],
    "AGT039/pass-bounded.yaml": [
    ],
    "AGT044/fail-other-environment.yaml": [
        ('AGT044', 18, 20, 'permissions.aws[drop-files].cross_account.accounts[333333333333]'),
    ],
    "AGT044/pass-partner.yaml": [
    ],
    "AGT045/fail-not-shared": [
        ('billing/other-reader.yaml', 'AGT045', 15, 21, 'permissions.kv[billing/secret-owner/api-key].capabilities'),
        ('billing/other-reader.yaml', 'AGT045', 19, 18, 'permissions.kv[billing/ghost-agent/key].shared_by'),
        ('billing/report-reader.yaml', 'AGT045', 15, 21, 'permissions.kv[billing/secret-owner/api-key].capabilities'),
    ],
    "AGT045/pass-shared": [
    ],
    "AGT048/fail-over-quota": [
        ('agent_specs/tools/alpha-reader.yaml', 'AGT048', 8, 11, 'function'),
        ('agent_specs/tools/gamma-analyst.yaml', 'AGT048', 9, 15, 'environments'),
    ],
    "AGT048/pass-within-quota": [
    ],
    "AGT046/fail-own.yaml": [
        ('AGT046', 22, 13, 'migration.environments.prod.legacy.vault_roles[platform-shared]'),
        ('AGT046', 24, 13, 'migration.environments.prod.legacy.vault_roles[platform-shared]'),
        ('AGT046', 26, 13, 'migration.environments.prod.legacy.vault_roles[agent-prod-invoice-reader]'),
    ],
    "AGT046/pass-legacy.yaml": [],
}


@pytest.fixture(scope="module")
def environments():
    return project.load_environments(STACKS)


def _findings(fixture: Path, environments) -> list:
    if (fixture / "stacks").is_dir():  # a project of its own: specs in agent_specs/, its own stack configs (quotas)
        return project.validate([fixture / "agent_specs"], fixture / "stacks", TODAY).findings
    return project.validate([fixture], STACKS, TODAY, environments).findings


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_yields_exactly_the_expected_findings(name, environments):
    fixture = FIXTURES / name
    findings = _findings(fixture, environments)
    if fixture.is_dir():
        got = sorted((Path(f.file).relative_to(fixture).as_posix(), f.rule_id, f.line, f.column, f.path)
                     for f in findings)
    else:
        got = sorted((f.rule_id, f.line, f.column, f.path) for f in findings)
    assert got == EXPECTED[name]


def test_every_rule_has_pass_and_fail_fixtures():
    for rule in rule_index():
        names = [n for n in EXPECTED if n.startswith(rule.id + "/")]
        assert any(n.split("/")[1].startswith("pass") for n in names), rule.id
        assert any(n.split("/")[1].startswith("fail") for n in names), rule.id


def test_every_fixture_on_disk_is_pinned():
    on_disk = {p.relative_to(FIXTURES).as_posix() for rule_dir in FIXTURES.iterdir() for p in rule_dir.iterdir()}
    assert on_disk == set(EXPECTED)


def test_fail_fixtures_trigger_their_own_rule():
    for name, findings in EXPECTED.items():
        rule_id = name.split("/")[0]
        ids = {f[1] if (FIXTURES / name).is_dir() else f[0] for f in findings}
        if name.split("/")[1].startswith("fail"):
            assert rule_id in ids, name
        else:
            assert findings == [], name


def test_rule_ids_are_unique_and_severities_documented():
    ids = [r.id for r in (*ALL_RULES, *FLEET_RULES)]
    assert len(ids) == len(set(ids))
    for rule in rule_index():
        assert rule.title and rule.rationale and isinstance(rule.severity, Severity)
        assert "\n" not in rule.rationale


@pytest.mark.parametrize(("name", "rule_id", "fragment"), [
    ("AGT001/fail-duplicate", "AGT001", "support/shared-name.yaml"),
    ("AGT002/fail-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx.yaml", "AGT002", "in dev ("),
    ("AGT003/fail-unknown.yaml", "AGT003", "known environments: dev, prod, staging"),
    ("AGT009/fail-skeleton.yaml", "AGT009", "placeholder text (starts 'Replace with'); write what it asks for"),
    ("AGT009/fail-skeleton.yaml", "AGT009", "'change-me' marks a placeholder; write the real value"),
    ("AGT009/fail-skeleton.yaml", "AGT009", "api.example.com is in example.com, a domain reserved for examples"),
    ("AGT009/fail-other-spellings.yaml", "AGT009", "'REPLACE-ME' marks a placeholder"),
    ("AGT009/fail-other-spellings.yaml", "AGT009", "placeholder text (starts 'tbd')"),
    ("AGT011/fail-override-max.yaml", "AGT011", "token_ttl 1h is longer than token_max_ttl 30m in prod"),
    ("AGT020/fail-typo.yaml", "AGT020", "did you mean 's3:GetObject'?"),
    ("AGT020/fail-typo.yaml", "AGT020", "'s3:Frobnicate*' matches no s3 action"),
    ("AGT021/fail-service-wildcard.yaml", "AGT021", "'sqs:*' grants every sqs action"),
    ("AGT021/fail-star.yaml", "AGT021", "'*' grants every action of every AWS service"),
    ("AGT022/fail-scoped.yaml", "AGT022", "(s3:GetObject)"),
    ("AGT023/fail-pass-role.yaml", "AGT023", "iam:PassRole passes or assumes roles"),
    ("AGT023/fail-combination.yaml", "AGT023", "EC2InstanceConnectSendSSHPublicKey"),
    ("AGT007/fail-login-name", "AGT007", "Vault policy 'agent-dev-ticket-triage-login' in dev is also derived for"),
    ("AGT007/fail-mint-name", "AGT007", "Vault policy 'agent-dev-ticket-triage-mint' in dev is also derived for"),
    ("AGT007/fail-same-cn", "AGT007", "certificate common name 'shared.dev.agents.example.com' in dev"),
    ("AGT008/fail-too-far.yaml", "AGT008", "2027-12-01 at the latest"),
    ("AGT027/fail-every-bucket.yaml", "AGT027", "'arn:aws:s3:::*/*' reaches every resource of its type"),
    ("AGT028/fail-shell.yaml", "AGT028", "ssm:SendCommand runs commands on"),
    ("AGT028/fail-shell.yaml", "AGT028", "sqs:DeleteQueue deletes or destroys"),
    ("AGT028/fail-analysis-shell.yaml", "AGT028", "analysis agents never execute remotely"),
    ("AGT037/fail-other-folder.yaml", "AGT037", "'billing/payment-gateway-sync/stripe-api-key' is not in this agent's"),
    ("AGT038/fail-prod-internal.yaml", "AGT038", "inside prod's internal domain prod.internal"),
    ("AGT039/fail-too-fast.yaml", "AGT039", "100000 logins per second"),
    ("AGT044/fail-other-environment.yaml", "AGT044", "account 333333333333 is the prod environment's"),
    ("AGT045/fail-not-shared", "AGT045", "list not allowed"),
    ("AGT047/fail-over-capacity", "AGT047", "needs capacity 1,002 for 500 host(s), above its rule group's"),
    ("AGT045/fail-not-shared", "AGT045", "does not share it with other-reader"),
    ("AGT024/fail-token.yaml", "AGT024", "ecr:GetAuthorizationToken returns credentials"),
    ("AGT046/fail-own.yaml", "AGT046", "auth/agentiam-prod-approle is the prod environment's own AppRole mount"),
    ("AGT046/fail-own.yaml", "AGT046", "auth/agentiam-prod-cert is the prod environment's own cert mount"),
    ("AGT046/fail-own.yaml", "AGT046", "agent-prod-invoice-reader is named like an agent identity of prod"),
    ("AGT025/fail-prod-account.yaml", "AGT025", "names prod's account '333333333333' in dev, staging"),
    ("AGT025/fail-prod-name.yaml", "AGT025", "names environment 'prod'"),
    ("AGT025/fail-prod-name.yaml", "AGT025", "a dev agent never names another environment's ARN"),
    ("AGT026/fail-region.yaml", "AGT026", "region 'us-east-1'"),
    ("AGT030/fail-writes.yaml", "AGT030", "s3:Put* (reaches s3:"),
    ("AGT031/fail-no-limits.yaml", "AGT031", "at least one network.egress endpoint in prod"),
    ("AGT032/fail-export.yaml", "AGT032", "is not provably in the environment's own account"),
    ("AGT035/fail-unknown-database.yaml", "AGT035", "database 'payments' is not configured in dev"),
    ("AGT040/fail-too-large.yaml", "AGT040", "10,240-character limit"),
])
def test_messages_show_the_offending_value(name, rule_id, fragment, environments):
    messages = [f.message for f in _findings(FIXTURES / name, environments) if f.rule_id == rule_id]
    assert any(fragment in m for m in messages), messages


def test_warnings_do_not_block(environments):
    result = project.validate([FIXTURES / "AGT005" / "fail-30-days.yaml"], STACKS, TODAY, environments)
    assert [f.severity for f in result.findings] == [Severity.WARNING]
    assert result.ok and len(result.specs) == 1
