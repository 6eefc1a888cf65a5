"""The live scan's pure parts: policy documents compared in one canonical form, the kill switch's states, the exit
code, and the read-only Vault policy a scan needs."""

from __future__ import annotations

import contextlib
from pathlib import Path

from agentiam.inventory.build import environment_plans
from agentiam.inventory.live import (Check, LiveFinding, LiveReport, Kind, Outcome, _kill_switch_state,
                                     canonical_policy, exit_code, inventory_policy)
from agentiam.plan.build import KILL_SWITCH_POLICY
from agentiam.revoke import kill_switch_policy
from tests.inventory.conftest import REPO, TODAY


def test_policies_compare_whatever_iam_spelling() -> None:
    written = {"Version": "2012-10-17", "Statement": [
        {"Sid": "B", "Effect": "Allow", "Action": ["s3:ListBucket", "s3:GetObject"], "Resource": "arn:aws:s3:::b",
         "Principal": {"AWS": "arn:aws:iam::1:role/x"}, "Condition": {"StringEquals": {"k": "v"}}},
        {"Sid": "A", "Effect": "Deny", "Action": "*", "Resource": ["*"]}]}
    returned = ('{"Version":"2012-10-17","Statement":[{"Sid":"A","Effect":"Deny","Action":["*"],"Resource":"*"},'
                '{"Sid":"B","Effect":"Allow","Action":["s3:GetObject","s3:ListBucket"],"Resource":["arn:aws:s3:::b"],'
                '"Principal":{"AWS":["arn:aws:iam::1:role/x"]},"Condition":{"StringEquals":{"k":["v"]}}}]}')
    assert canonical_policy(written) == canonical_policy(returned)
    widened = returned.replace('"Action":["*"],"Resource":"*"', '"Action":["*"],"Resource":"arn:aws:s3:::b"')
    assert canonical_policy(written) != canonical_policy(widened)


def test_the_kill_switch_states() -> None:
    assert _kill_switch_state(None) is None
    assert _kill_switch_state(KILL_SWITCH_POLICY) == "unconditional"
    assert _kill_switch_state(kill_switch_policy("2026-11-29T09:30:15Z")) == "2026-11-29T09:30:15Z"
    allow = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    assert _kill_switch_state(allow) == "altered"  # named like the kill switch, grants everything


def test_exit_codes() -> None:
    report = LiveReport("dev", None, None, "now", 1)
    report.checks.append(Check("vault", "x", Outcome.CHECKED, ""))
    assert exit_code(report) == 0
    report.checks.append(Check("aws", "y", Outcome.SKIPPED, "not requested"))
    assert exit_code(report) == 0  # skipped on request is not a failure
    report.findings.append(LiveFinding(Kind.DRIFTED, "high", "vault", "p", "m", "f"))
    assert exit_code(report) == 1
    report.checks.append(Check("aws", "z", Outcome.NOT_CHECKED, "deadline"))
    assert exit_code(report) == 2  # incomplete wins: what was not read may hide more


def test_the_read_only_policy_names_the_environments_mounts_and_no_write() -> None:
    with contextlib.chdir(REPO):
        plan, _ = environment_plans(Path("agent_specs"), Path("stacks"), ["dev"], TODAY).plan("dev")
    hcl = inventory_policy(plan)
    assert 'path "auth/agentiam-dev-approle/role/*"' in hcl and 'path "agentiam-dev-database/roles"' in hcl
    assert '"create"' not in hcl and '"delete"' not in hcl
    assert hcl.count('"update"') == 2  # the two lookups, which Vault serves on POST
