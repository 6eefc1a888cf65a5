"""The inline policy read as typed statements: one parser for every consumer, the document left as IAM gets it."""

from __future__ import annotations

from agentiam.plan.build import agent_plan
from agentiam.plan.model import RESOURCE_ACCOUNT_KEY, IamStatement
from agentiam.project import load_environments
from agentiam.spec.validate import load_spec_file
from tests.diff.conftest import FIXTURES, PROJECT


def test_a_plans_statements_are_its_inline_policy_typed() -> None:
    loaded = load_spec_file(FIXTURES / "specs" / "billing" / "invoice-reader.yaml")[0]
    entry = agent_plan(loaded, load_environments(PROJECT / "stacks")["dev"])
    document = entry.aws.inline_policy
    assert document is not None
    typed = entry.aws.statements()
    assert [(s.sid, s.effect, list(s.actions), list(s.resources)) for s in typed] == \
        [(d["Sid"], d["Effect"], d["Action"], d["Resource"]) for d in document["Statement"]]
    for statement, raw in zip(typed, document["Statement"], strict=True):
        condition = raw.get("Condition", {}).get("StringEqualsIfExists", {}).get(RESOURCE_ACCOUNT_KEY)
        assert statement.resource_accounts == (tuple(condition) if condition is not None else None)


def test_single_values_and_a_missing_policy() -> None:
    policy = {"Version": "2012-10-17", "Statement": {
        "Sid": "One", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*",
        "Condition": {"StringEqualsIfExists": {RESOURCE_ACCOUNT_KEY: "111111111111"}}}}
    assert IamStatement.of(policy) == [IamStatement("One", "Allow", ("s3:GetObject",), ("arn:aws:s3:::b/*",),
                                                    ("111111111111",))]
    assert IamStatement.of(None) == []
