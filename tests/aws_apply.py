"""Apply the `aws:iam/*` resources a captured stack registers to a moto server, exactly as captured.

The AWS counterpart of `tests/vault_apply.py`: the records `tests/pulumi_capture.capture_stack` returns are written
through the IAM API (boundary policies, then roles, then their inline policies), so a test sees on moto what the
real program would create. Log routing (CloudWatch Logs, alarms) is out of scope and skipped by name. moto has no
Network Firewall rule groups (docs/facts.md#aws-network-firewall): the egress rule group's `CreateRuleGroup`
request is built as the provider sends it and checked against botocore's service model (required and unknown
members, types, enums, lengths, patterns), not created. Any other unknown `aws:` type or input fails loudly, so a
new component or argument is noticed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

import botocore.session
from botocore.model import Shape
from botocore.validate import ParamValidator

from tests.pulumi_capture import ResourceRecord

ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
POLICY = "aws:iam/policy:Policy"
RULE_GROUP = "aws:networkfirewall/ruleGroup:RuleGroup"
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


def _constraints(value: Any, shape: Shape, where: str) -> list[str]:
    """What botocore's own validator leaves out: enums, maximum lengths and sizes, patterns."""
    problems: list[str] = []
    meta = shape.metadata
    if shape.type_name == "structure":
        for name, member in shape.members.items():
            if isinstance(value, dict) and name in value:
                problems += _constraints(value[name], member, f"{where}.{name}")
    elif shape.type_name == "list":
        problems += [f"{where}: more than {meta['max']} items"] if "max" in meta and len(value) > meta["max"] else []
        for i, item in enumerate(value):
            problems += _constraints(item, shape.member, f"{where}[{i}]")
    elif shape.type_name == "map":
        for key, item in value.items():
            problems += _constraints(key, shape.key, f"{where} key {key!r}")
            problems += _constraints(item, shape.value, f"{where}[{key}]")
    elif shape.type_name == "string":
        if shape.enum and value not in shape.enum:
            problems.append(f"{where}: {value!r} is not one of {shape.enum}")
        if "max" in meta and len(value) > meta["max"]:
            problems.append(f"{where}: longer than {meta['max']}")
        if "pattern" in meta and not re.fullmatch(meta["pattern"].strip("^$"), value, re.DOTALL):
            problems.append(f"{where}: {value!r} does not match {meta['pattern']}")
    elif shape.type_name == "integer" and "max" in meta and value > meta["max"]:
        problems.append(f"{where}: above {meta['max']}")
    return problems


# AWS Network Firewall: a stateful rule group's capacity is at most 30,000 (docs/facts.md#aws-network-firewall);
# the service model does not say so.
RULE_GROUP_CAPACITY_MAX = 30_000


def rule_group_request(record: ResourceRecord) -> dict[str, Any]:
    """The `CreateRuleGroup` request pulumi-aws sends for a captured rule group, checked against botocore's
    `network-firewall` service model; ApplyError for what AWS would refuse."""
    inputs = _inputs(record, {"name", "type", "capacity", "description", "ruleGroup", "tags"})
    group = inputs["ruleGroup"]
    unknown = set(group) - {"rulesSource", "ruleVariables", "statefulRuleOptions"}
    if unknown or set(group["rulesSource"]) != {"rulesSourceList"}:
        raise ApplyError(f"{record.name}: rule group parts {sorted(unknown | set(group['rulesSource']))} are not "
                         "handled by tests/aws_apply.py")
    source = group["rulesSource"]["rulesSourceList"]
    rule_group: dict[str, Any] = {"RulesSource": {"RulesSourceList": {key: source[name] for key, name in (
        ("Targets", "targets"), ("TargetTypes", "targetTypes"), ("GeneratedRulesType", "generatedRulesType"))
        if name in source}}}
    if "ruleVariables" in group:
        rule_group["RuleVariables"] = {"IPSets": {s["key"]: {"Definition": s["ipSet"]["definitions"]}
                                                  for s in group["ruleVariables"]["ipSets"]}}
    if "statefulRuleOptions" in group:
        rule_group["StatefulRuleOptions"] = {"RuleOrder": group["statefulRuleOptions"]["ruleOrder"]}
    request = {"RuleGroupName": inputs["name"], "Type": inputs["type"], "Capacity": int(inputs["capacity"]),
               "Description": inputs["description"], "RuleGroup": rule_group, "Tags": _tags(inputs.get("tags"))}
    shape = botocore.session.get_session().get_service_model("network-firewall").operation_model(
        "CreateRuleGroup").input_shape
    report = ParamValidator().validate(request, shape)
    problems = ([report.generate_report()] if report.has_errors() else []) + _constraints(request, shape, "request")
    if request["Capacity"] > RULE_GROUP_CAPACITY_MAX:
        problems.append(f"capacity {request['Capacity']} above the stateful maximum {RULE_GROUP_CAPACITY_MAX}")
    if problems:
        raise ApplyError(f"{record.name}: AWS would refuse CreateRuleGroup: {'; '.join(problems)}")
    return request


def apply_aws(iam: Any, records: Iterable[ResourceRecord]) -> dict[str, str]:
    """Create the captured IAM resources with the boto3 IAM client `iam` (a rule group is checked, moto has
    none); returns role logical name -> role name."""
    records = [r for r in records if r.type_token.startswith("aws:")]
    for record in records:
        if record.type_token not in SKIPPED | {ROLE, ROLE_POLICY, POLICY, RULE_GROUP}:
            raise ApplyError(f"unknown AWS resource type {record.type_token} ({record.name})")
    for record in (r for r in records if r.type_token == RULE_GROUP):
        rule_group_request(record)
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
