"""Blast-radius tiers: the registry (its table in docs/inventory.md: tests/test_docs.py), the bundled examples'
tiers and reasons, and every rule firing on the grants that make it fire (built by hand where the guardrails would
refuse the spec)."""

from __future__ import annotations

import pytest

from agentiam.diff import risk as labels
from agentiam.iam import catalogue
from agentiam.inventory import blast
from agentiam.inventory.blast import TIER_RULES, Subject, assess, access_levels, widest
from agentiam.inventory.model import (AwsGrant, DatabaseGrant, Endpoint, Inventory, Target, TargetKind, Tier,
                                      VaultGrant)

ACCOUNTS = {"dev": "111111111111", "staging": "222222222222", "prod": "333333333333"}


def test_every_rule_is_registered_once_worst_tier_first() -> None:
    ids = [rule.id for rule in TIER_RULES]
    assert len(ids) == len(set(ids))
    assert [rule.tier.rank for rule in TIER_RULES] == sorted((rule.tier.rank for rule in TIER_RULES), reverse=True)
    defined = {value for value in vars(blast).values() if isinstance(value, blast.TierRule)}
    assert defined == set(TIER_RULES)
    assert all(rule.when and rule.why for rule in TIER_RULES)


def test_the_bundled_examples_tiers_and_reasons(bundled: Inventory) -> None:
    tiers = {(e.agent, e.environment): (e.blast.tier.value, [r.rule for r in e.blast.reasons])
             for e in bundled.entries}
    assert tiers[("payment-gateway-sync", "prod")] == (
        "high", ["destructive", "read-and-send", "external-reach", "reads-data", "writes-data"])
    assert tiers[("ticket-triage", "staging")] == (
        "high", ["read-and-send", "external-reach", "reads-data", "writes-data"])
    assert tiers[("ticket-triage", "prod")] == ("none", ["inactive"])  # suspended in prod
    assert tiers[("kb-answer-retriever", "staging")] == ("none", ["inactive"])
    assert tiers[("invoice-reader", "prod")] == ("medium", ["reads-data", "long-lived-credentials"])
    assert tiers[("churn-forecaster", "dev")] == ("medium", ["reads-data", "writes-data", "long-lived-credentials"])
    assert tiers[("revenue-report-builder", "dev")] == ("medium", ["reads-data"])
    assert tiers[("cost-anomaly-monitor", "prod")] == ("low", ["minimal"])
    assert tiers[("access-review-reporter", "prod")] == ("low", ["minimal"])
    assert len(bundled.entries) == 24


def test_reasons_name_what_triggers_them(bundled: Inventory) -> None:
    entry = next(e for e in bundled.entries if (e.agent, e.environment) == ("payment-gateway-sync", "prod"))
    reasons = {r.rule: r.reason for r in entry.blast.reasons}
    assert reasons["destructive"] == ("sqs:DeleteMessage deletes or destroys on "
                                      "arn:aws:sqs:eu-west-1:333333333333:billing-prod-settlements")
    assert reasons["read-and-send"] == ("reads arn:aws:sqs:eu-west-1:333333333333:billing-prod-settlements, "
                                        "database billing; sends to api.stripe.com:443")
    assert entry.blast.sends_to == (Target(TargetKind.HOST, "api.stripe.com:443"),)
    assert Target(TargetKind.DATABASE, "billing (schemas public)") in entry.blast.changes


def grant(sid: str, actions: tuple[str, ...], resources: tuple[str, ...], accounts: tuple[str, ...] = ()) -> AwsGrant:
    return AwsGrant(sid, actions, access_levels(actions), resources, widest(resources).label, accounts)


def subject(*, aws: tuple[AwsGrant, ...] = (), databases: tuple[DatabaseGrant, ...] = (),
            vault: tuple[VaultGrant, ...] = (), egress: tuple[Endpoint, ...] = (), active: bool = True,
            token_max_ttl: int = 3600, aws_session_ttl: int | None = 3600, environment: str = "dev") -> Subject:
    return Subject(environment=environment, account_id=ACCOUNTS[environment], active=active, aws=aws,
                   aws_usable=True, databases=databases, vault=vault, egress=egress, token_max_ttl=token_max_ttl,
                   aws_session_ttl=aws_session_ttl, agent="probe")


BUCKET = "arn:aws:s3:::billing-dev-invoices"
INSTANCE = "arn:aws:ec2:eu-west-1:111111111111:instance/i-0123456789abcdef0"
READ = DatabaseGrant("billing", "read", ("public",), ("SELECT",), "agent-dev-probe-billing-read", 3600, 3600)
WRITE = DatabaseGrant("billing", "write", ("public",), ("SELECT", "INSERT", "UPDATE", "DELETE"),
                      "agent-dev-probe-billing-write", 3600, 3600)
STRIPE = Endpoint("api.stripe.com", 443, "payouts")


@pytest.mark.parametrize(("case", "expected_tier", "expected_rules"), [
    (subject(aws=(grant("pass", ("iam:PassRole", "ec2:RunInstances"), ("*",)),)), Tier.CRITICAL, {"takeover"}),
    (subject(aws=(grant("mint", ("sts:AssumeRole",), ("*",)),)), Tier.CRITICAL, {"takeover"}),
    (subject(aws=(grant("shell", ("ssm:SendCommand",), (INSTANCE,)),)), Tier.HIGH, {"remote-execution"}),
    (subject(aws=(grant("share", ("s3:PutBucketPolicy",), (BUCKET,)),)), Tier.HIGH, {"resource-exposure"}),
    (subject(aws=(grant("wipe", ("s3:DeleteObject",), (BUCKET + "/x",)),)), Tier.HIGH, {"destructive"}),
    (subject(aws=(grant("all", ("s3:GetObject",), ("arn:aws:s3:::*/*",)),)), Tier.HIGH, {"bulk-read"}),
    (subject(databases=(READ,), egress=(STRIPE,)), Tier.HIGH, {"read-and-send"}),
    (subject(aws=(grant("partner", ("s3:PutObject",), ("arn:aws:s3:::partner-drop/*",),
                        ("111111111111", "444455556666")),)), Tier.HIGH, {"other-account"}),
    (subject(aws=(grant("prod", ("s3:GetObject",), ("arn:aws:s3:::billing-prod-invoices/*",)),)), Tier.HIGH,
     {"other-account"}),
    (subject(aws=(grant("launch", ("ec2:RunInstances",), (INSTANCE,)),)), Tier.MEDIUM, {"escalation-step"}),
    (subject(databases=(WRITE,)), Tier.MEDIUM, {"writes-data", "reads-data"}),
    (subject(vault=(VaultGrant("secret/data/billing/probe/key", ("read",), "probe"),)), Tier.MEDIUM,
     {"reads-data"}),
    (subject(vault=(VaultGrant("secret/data/billing/owner/key", ("read",), "owner"),)), Tier.MEDIUM,
     {"shared-secret", "reads-data"}),
    (subject(egress=(STRIPE,)), Tier.MEDIUM, {"external-reach"}),
    (subject(aws=(grant("wild", ("s3:Get*",), (BUCKET + "/*",)),)), Tier.MEDIUM, {"pattern-reach"}),
    (subject(aws=(grant("pattern", ("s3:PutObject",), ("arn:aws:s3:::billing-*/x",)),)), Tier.MEDIUM,
     {"pattern-reach", "writes-data"}),
    (subject(aws=(grant("metrics", ("cloudwatch:GetMetricStatistics",), ("*",)),)), Tier.LOW, {"minimal"}),
    (subject(token_max_ttl=24 * 3600, aws_session_ttl=4 * 3600), Tier.LOW, {"long-lived-credentials", "minimal"}),
    (subject(databases=(WRITE,), egress=(STRIPE,), active=False), Tier.NONE, {"inactive"}),
])
def test_each_rule_fires_on_what_it_names(case: Subject, expected_tier: Tier, expected_rules: set[str]) -> None:
    radius = assess(case, ACCOUNTS)
    assert radius.tier is expected_tier
    assert expected_rules <= {r.rule for r in radius.reasons}
    assert radius.reasons[0].tier is expected_tier  # worst first


def test_every_label_the_diff_gives_an_action_has_a_tier_rule() -> None:
    found = set()
    for pattern in ("iam:PassRole", "ec2:RunInstances", "sts:AssumeRole", "ssm:SendCommand", "s3:PutBucketPolicy",
                    "s3:DeleteObject", "s3:GetObject", "s3:PutObject", "secretsmanager:GetSecretValue"):
        for widest_reach in (labels.Breadth.EXACT, labels.Breadth.ANY):
            infos = catalogue.expand(pattern)
            found |= {(label.id, label.severity) for label in labels.action_risks(infos, (), widest_reach)}
    assert found <= set(blast._FROM_LABEL)  # noqa: SLF001 - the mapping under test
    assert {rule.id for rule in blast._FROM_LABEL.values()} <= {r.id for r in TIER_RULES}  # noqa: SLF001


def test_an_unusable_aws_grant_counts_for_nothing() -> None:
    radius = assess(Subject(environment="dev", account_id=ACCOUNTS["dev"], active=True,
                            aws=(grant("wipe", ("s3:DeleteObject",), (BUCKET + "/x",)),), aws_usable=False,
                            databases=(), vault=(), egress=(), token_max_ttl=3600, aws_session_ttl=None,
                            agent="probe"), ACCOUNTS)
    assert [r.rule for r in radius.reasons] == ["minimal"]
