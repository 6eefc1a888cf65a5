"""Boundaries: exact unions while they fit a managed policy, safe verb wildcards when they do not."""

from __future__ import annotations

from pathlib import Path

from agentiam.environment.load import load_environment
from agentiam.iam import catalogue
from agentiam.plan.boundary import MANAGED_POLICY_MAX_CHARS, boundary_plan, compact_actions, policy_size
from agentiam.iam.risk import boundary_denied_actions
from agentiam.spec.model import FunctionClass

DEV = load_environment(Path(__file__).resolve().parents[2] / "stacks", "dev")
EC2_DESCRIBE = [info.name for info in catalogue.expand("ec2:Describe*")]


def ceiling(plan) -> list[str]:
    return plan.policy["Statement"][0]["Action"]


def test_a_union_that_fits_stays_exact():
    plan = boundary_plan(FunctionClass.REPORTING, ["s3:GetObject", "s3:ListBucket", "s3:GetObject"], DEV)
    assert ceiling(plan) == ["s3:GetObject", "s3:ListBucket"]


def test_an_oversized_union_is_compacted_to_a_verb_wildcard_of_the_same_access_level():
    assert len(EC2_DESCRIBE) > 150 and {i.access_level for i in catalogue.expand("ec2:Describe*")} == {"List"}
    actions = [*EC2_DESCRIBE, "s3:GetObject"]
    plan = boundary_plan(FunctionClass.MONITORING, actions, DEV)
    assert ceiling(plan) == ["ec2:Describe*", "s3:GetObject"]
    assert policy_size(plan.policy) <= MANAGED_POLICY_MAX_CHARS


def test_a_wildcard_reaching_a_denied_action_is_never_used():
    # ec2:Get* would reach ec2:GetPasswordData, which returns credentials: the Get actions stay listed.
    gets = [i.name for i in catalogue.expand("ec2:Get*") if i.access_level in ("Read", "List")
            and i.name.lower() not in boundary_denied_actions()]
    compacted = compact_actions([*gets, *EC2_DESCRIBE], budget=1000, fixed_cost=0)
    assert "ec2:Get*" not in compacted
    assert set(gets) <= set(compacted) and "ec2:Describe*" in compacted


def test_a_wildcard_reaching_higher_access_levels_than_the_members_is_never_used():
    # s3:Put* reaches Write and Permissions management actions; members of Write level only must stay exact.
    puts = ["s3:PutObject", "s3:PutObjectTagging"]
    assert any("Permissions management" in level for level in catalogue.access_levels("s3:Put*"))
    assert compact_actions(puts, budget=10, fixed_cost=0) == puts


def test_compaction_stops_as_soon_as_the_policy_fits():
    actions = [*EC2_DESCRIBE, *(i.name for i in catalogue.expand("s3:List*"))]
    compacted = compact_actions(actions, budget=6000, fixed_cost=0)
    assert "ec2:Describe*" in compacted  # the largest saving goes first
    assert not any(a == "s3:List*" for a in compacted)  # and was enough
