"""ARN parsing and the inline-policy budget (10,240 characters for all inline policies of a role:
docs/facts.md#aws-iam-limits)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from agentiam import project
from agentiam.plan.build import agent_plan
from agentiam.rules import aws_resources
from agentiam.rules.aws_resources import INLINE_POLICY_LIMIT, KILL_SWITCH_SIZE, Arn
from agentiam.rules.base import SpecContext
from agentiam.spec.validate import load_spec_bytes

STACKS = Path(__file__).resolve().parents[2] / "stacks"


def test_arn_parse_keeps_colons_in_the_resource():
    assert Arn.parse("arn:aws:logs:eu-west-1:111111111111:log-group:/x:*") == Arn(
        "aws", "logs", "eu-west-1", "111111111111", "log-group:/x:*")
    assert Arn.parse("arn:aws:s3:::bucket/key") == Arn("aws", "s3", "", "", "bucket/key")
    assert Arn.parse("*") is None


def _spec_with_arns(count: int, length: int) -> bytes:
    arns = "\n".join(f"        - arn:aws:s3:::b{i:04d}-{'x' * length}" for i in range(count))
    return f"""spec_version: 1
name: sizer
description: Fixture agent sized against the inline policy limit.
owner: {{team: platform, sponsor: jane.doe@example.com, contact: "#platform"}}
function: data-retrieval
environments: [dev]
expires: 2027-06-30
permissions:
  aws:
    - sid: read
      actions: [s3:GetObject]
      resources:
{arns}
""".encode()


def _size_and_findings(raw: bytes):
    loaded, problems = load_spec_bytes("sizer.yaml", raw)
    assert problems == []
    env = project.load_environments(STACKS)["dev"]
    policy = agent_plan(loaded, env).aws.inline_policy  # measured on the plan the components apply
    size = len(json.dumps(policy, separators=(",", ":")))
    ctx = SpecContext(loaded, {"dev": env}, dt.date(2026, 12, 1))
    return size, list(aws_resources.POLICY_SIZE.check(aws_resources.POLICY_SIZE, ctx))


def test_kill_switch_is_budgeted():
    # Find a policy that fits on its own but not together with the kill switch.
    for count in range(150, 400):
        size, findings = _size_and_findings(_spec_with_arns(count, 40))
        if size + KILL_SWITCH_SIZE > INLINE_POLICY_LIMIT:
            break
    # one ARN more (~60 chars) is less than the kill switch (~90): this policy fits alone, not with the switch
    assert size <= INLINE_POLICY_LIMIT
    assert [f.rule_id for f in findings] == ["AGT040"]
    assert f"{size + KILL_SWITCH_SIZE:,} characters in dev" in findings[0].message
    smaller, ok = _size_and_findings(_spec_with_arns(count - 1, 40))
    assert smaller + KILL_SWITCH_SIZE <= INLINE_POLICY_LIMIT and ok == []


def test_size_bound_never_underestimates():
    """AGT040 skips exact sizing when the bound fits; the bound must therefore never be below the real size."""
    repo = STACKS.parent
    environments = project.load_environments(STACKS)
    specs = project.validate([repo / "agent_specs", repo / "tests" / "fixtures" / "specs" / "rules"], STACKS,
                             dt.date(2026, 12, 1), environments).specs
    quoted = "- arn:aws:s3:::b\u00e9\"".encode()  # escaped by JSON: \u00e9 and \"
    odd = load_spec_bytes("odd.yaml", _spec_with_arns(3, 5).replace(b"- arn:aws:s3:::b0000", quoted))[0]
    checked = 0
    for loaded in [*specs, odd]:
        deployed = [environments[e] for e in loaded.spec.environments if e in environments]
        if not loaded.spec.permissions.aws or not deployed:
            continue
        exact = max(len(json.dumps(aws_resources.inline_policy(loaded.spec, env), separators=(",", ":")))
                    for env in deployed)
        assert aws_resources._size_bound(loaded.spec, deployed) >= exact, loaded.file  # noqa: SLF001
        checked += 1
    assert checked > 40
