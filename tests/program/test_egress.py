"""Program tests: the egress allow-list's Network Firewall rule group, as the real program registers it."""

from __future__ import annotations

import copy
import dataclasses
import shutil
from pathlib import Path

import pytest

from agentiam.plan.build import NO_EGRESS_TARGET
from tests.aws_apply import ApplyError, rule_group_request
from tests.program.conftest import stack_run
from tests.program.fleet import write_fleet
from tests.pulumi_capture import PROJECT_DIR, capture_stack

RULE_GROUP = "aws:networkfirewall/ruleGroup:RuleGroup"


def test_prod_provisions_the_allow_list_rule_group_exactly_as_planned() -> None:
    run = stack_run("prod")  # `egress.enforcement: network-firewall` in the bundled prod stack config
    (group,) = run.capture.of_type(RULE_GROUP)
    assert group.name == "agentiam-prod-egress-allow-list" and group.parent == "agentiam-prod"
    assert group.inputs == {
        "name": "agentiam-prod-egress-allow-list", "type": "STATEFUL", "capacity": 1000.0,
        "description": "agentiam: the hosts the environment's agents' specs name as egress",
        "ruleGroup": {
            "rulesSource": {"rulesSourceList": {"generatedRulesType": "ALLOWLIST",
                                                "targetTypes": ["HTTP_HOST", "TLS_SNI"],
                                                "targets": ["api.stripe.com"]}},
            "ruleVariables": {"ipSets": [{"key": "HOME_NET", "ipSet": {"definitions": ["10.30.0.0/16"]}}]},
            "statefulRuleOptions": {"ruleOrder": "DEFAULT_ACTION_ORDER"}},
        "tags": run.plan.platform.tags,
    }
    # Capacity and name force a replacement; AWS refuses a second group of the same name.
    assert group.options.get("deleteBeforeReplace") is True
    outputs = run.capture.outputs
    assert outputs["egress_rule_group_arn"] == \
        "arn:aws:network-firewall:eu-west-1:333333333333:stateful-rulegroup/agentiam-prod-egress-allow-list"
    assert outputs["egress_allow_list"] == {"enforcement": "network-firewall",
                                            "rule_group_name": "agentiam-prod-egress-allow-list",
                                            "hosts": {"api.stripe.com": ["payment-gateway-sync"]}}
    assert outputs["egress_allowlists"]["payment-gateway-sync"] == {
        "hosts": [{"host": "api.stripe.com", "port": 443, "purpose": "create and confirm payouts"}],
        "enforcement": "network-firewall"}


@pytest.mark.parametrize("stack", ["dev", "staging"])
def test_without_enforcement_nothing_is_provisioned_and_the_outputs_say_so(stack: str) -> None:
    run = stack_run(stack)
    assert run.capture.of_type(RULE_GROUP) == []
    outputs = run.capture.outputs
    assert "egress_rule_group_arn" not in outputs
    assert outputs["egress_allow_list"]["enforcement"] == "none"
    assert outputs["egress_allow_list"]["rule_group_name"] is None
    assert outputs["egress_allow_list"]["hosts"] == run.plan.platform.egress_allow_list.hosts
    assert all(entry["enforcement"] == "none" for entry in outputs["egress_allowlists"].values())


def _stacks_with_firewall(tmp_path: Path, environment: str) -> Path:
    stacks = tmp_path / "stacks"
    shutil.copytree(PROJECT_DIR / "stacks", stacks)
    config = stacks / f"Pulumi.{environment}.yaml"
    config.write_text(config.read_text(encoding="utf-8").replace(
        "    guardrails:", "    egress:\n      enforcement: network-firewall\n      rule_group_capacity: 40\n"
                          "      rule_order: STRICT_ORDER\n    guardrails:", 1), encoding="utf-8")
    return stacks


def test_the_group_lists_the_hosts_of_active_agents_in_every_shard_with_overrides_applied(tmp_path: Path) -> None:
    specs = tmp_path / "agent_specs"
    shutil.copytree(PROJECT_DIR / "agent_specs", specs)
    paused = write_fleet(specs / "paused", 2, status="suspended", prefix="paused")
    for name in paused:  # a suspended agent's host must not be reachable
        path = specs / "paused" / f"{name}.yaml"
        path.write_text(path.read_text(encoding="utf-8").replace("api.stripe.com", f"{name}.partner.com"),
                        encoding="utf-8")
    stacks = _stacks_with_firewall(tmp_path, "dev")
    capture = capture_stack("dev", specs_dir=specs, stacks_dir=stacks)
    (group,) = capture.of_type(RULE_GROUP)
    source = group.inputs["ruleGroup"]["rulesSource"]["rulesSourceList"]
    # dev: ticket-triage's override replaces its network with the sandbox host; payment-gateway-sync's own host.
    assert source["targets"] == ["api.stripe.com", "example-sandbox.zendesk.com"]
    assert "ruleVariables" not in group.inputs["ruleGroup"]  # no home_net: the firewall's own VPC
    assert group.inputs["ruleGroup"]["statefulRuleOptions"] == {"ruleOrder": "STRICT_ORDER"}
    assert group.inputs["capacity"] == 40.0


def test_an_environment_without_egress_keeps_a_group_that_allows_nothing(tmp_path: Path) -> None:
    specs = tmp_path / "agent_specs"
    specs.mkdir()
    shutil.copy(PROJECT_DIR / "agent_specs" / "billing" / "invoice-reader.yaml", specs / "invoice-reader.yaml")
    capture = capture_stack("dev", specs_dir=specs, stacks_dir=_stacks_with_firewall(tmp_path, "dev"))
    (group,) = capture.of_type(RULE_GROUP)
    assert group.inputs["ruleGroup"]["rulesSource"]["rulesSourceList"]["targets"] == [NO_EGRESS_TARGET]
    assert NO_EGRESS_TARGET.endswith(".invalid")  # RFC 6761: never resolves, never registered
    assert capture.outputs["egress_allow_list"]["hosts"] == {}


def test_the_captured_rule_group_is_a_create_rule_group_request_aws_accepts() -> None:
    (group,) = stack_run("prod").capture.of_type(RULE_GROUP)
    request = rule_group_request(group)
    assert request["RuleGroup"] == {
        "RulesSource": {"RulesSourceList": {"Targets": ["api.stripe.com"], "TargetTypes": ["HTTP_HOST", "TLS_SNI"],
                                            "GeneratedRulesType": "ALLOWLIST"}},
        "RuleVariables": {"IPSets": {"HOME_NET": {"Definition": ["10.30.0.0/16"]}}},
        "StatefulRuleOptions": {"RuleOrder": "DEFAULT_ACTION_ORDER"}}
    assert (request["RuleGroupName"], request["Type"], request["Capacity"]) == (
        "agentiam-prod-egress-allow-list", "STATEFUL", 1000)


@pytest.mark.parametrize(("change", "refusal"), [
    (lambda i: i.update(name="agentiam_prod_egress"), "does not match"),
    (lambda i: i.update(capacity=30001.0), "above the stateful maximum 30000"),
    (lambda i: i["ruleGroup"]["rulesSource"]["rulesSourceList"].update(generatedRulesType="ALLOW"), "not one of"),
    (lambda i: i["ruleGroup"]["statefulRuleOptions"].update(ruleOrder="STRICT"), "not one of"),
    (lambda i: i["ruleGroup"]["rulesSource"]["rulesSourceList"].pop("targets"), "Missing required parameter.*Targets"),
    (lambda i: i.update(rules="pass tls any any -> any any (sid:1;)"), "not handled"),
])
def test_the_replay_refuses_what_aws_would(change, refusal) -> None:
    (group,) = stack_run("prod").capture.of_type(RULE_GROUP)
    inputs = copy.deepcopy(group.inputs)
    change(inputs)
    with pytest.raises(ApplyError, match=refusal):
        rule_group_request(dataclasses.replace(group, inputs=inputs))
