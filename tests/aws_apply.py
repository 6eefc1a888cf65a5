"""Apply the `aws:iam/*` resources a captured stack registers to a moto server, exactly as captured.

The AWS counterpart of `tests/vault_apply.py`: the records `tests/pulumi_capture.capture_stack` returns are written
through the IAM API (boundary policies, then roles, then their inline policies), so a test sees on moto what the
real program would create. Log routing (CloudWatch Logs, alarms) is out of scope and skipped by name; any other
unknown `aws:` type or input fails loudly, so a new component or argument is noticed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from tests.pulumi_capture import ResourceRecord

ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
POLICY = "aws:iam/policy:Policy"
# Not IAM: the log routing the inventory does not read.
SKIPPED = frozenset({"aws:cloudwatch/logGroup:LogGroup", "aws:cloudwatch/logSubscriptionFilter:LogSubscriptionFilter",
                     "aws:cloudwatch/logMetricFilter:LogMetricFilter", "aws:cloudwatch/metricAlarm:MetricAlarm"})


class ApplyError(AssertionError):
    """A captured AWS resource cannot be applied: unknown type or input."""


def _inputs(record: ResourceRecord, allowed: set[str]) -> dict[str, Any]:
    unknown = set(record.inputs) - allowed
    if unknown:
        raise ApplyError(f"{record.type_token} {record.name}: inputs {sorted(unknown)} are not handled by "
                         "tests/aws_apply.py")
    return record.inputs


def _tags(tags: dict[str, str] | None) -> list[dict[str, str]]:
    return [{"Key": key, "Value": value} for key, value in sorted((tags or {}).items())]


def apply_aws(iam: Any, records: Iterable[ResourceRecord]) -> dict[str, str]:
    """Create the captured IAM resources with the boto3 IAM client `iam`; returns role logical name -> role name."""
    records = [r for r in records if r.type_token.startswith("aws:")]
    for record in records:
        if record.type_token not in SKIPPED | {ROLE, ROLE_POLICY, POLICY}:
            raise ApplyError(f"unknown AWS resource type {record.type_token} ({record.name})")
    for record in (r for r in records if r.type_token == POLICY):
        inputs = _inputs(record, {"name", "path", "policy", "tags"})
        iam.create_policy(PolicyName=inputs["name"], Path=inputs["path"], PolicyDocument=inputs["policy"],
                          Tags=_tags(inputs.get("tags")))
    roles: dict[str, str] = {}
    for record in (r for r in records if r.type_token == ROLE):
        inputs = _inputs(record, {"name", "path", "assumeRolePolicy", "maxSessionDuration", "permissionsBoundary",
                                  "tags"})
        iam.create_role(RoleName=inputs["name"], Path=inputs["path"],
                        AssumeRolePolicyDocument=inputs["assumeRolePolicy"],
                        MaxSessionDuration=int(inputs["maxSessionDuration"]),
                        PermissionsBoundary=inputs["permissionsBoundary"], Tags=_tags(inputs.get("tags")))
        roles[record.name] = inputs["name"]
    for record in (r for r in records if r.type_token == ROLE_POLICY):
        inputs = _inputs(record, {"name", "role", "policy"})
        json.loads(inputs["policy"])  # the program always sends JSON text
        iam.put_role_policy(RoleName=inputs["role"], PolicyName=inputs["name"], PolicyDocument=inputs["policy"])
    return roles
