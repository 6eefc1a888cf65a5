"""Environment-wide changes (stack configs, class ceilings, database roles), trust policies and lifecycle notes."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from agentiam.cli.main import cli
from agentiam.diff.compute import _trust_changes
from agentiam.diff.model import DiffReport, Direction, EnvironmentDiff, Verdict
from agentiam.diff.platform import EnvironmentSide, platform_changes
from agentiam.plan.build import agent_plan, platform_plan
from agentiam.project import load_environments
from agentiam.render.diff_github import annotations
from agentiam.render.diff_markdown import render_markdown
from agentiam.render.diff_text import render_text
from agentiam.spec.validate import load_spec_file
from tests.diff.conftest import FIXTURES, INVOICE, PAYMENT, PROJECT, SpecRepo, entry, labels

DEV = "stacks/Pulumi.dev.yaml"
STAGING = "stacks/Pulumi.staging.yaml"


def environment(report: DiffReport, name: str) -> EnvironmentDiff:
    for item in report.environments:
        if item.environment == name:
            return item
    raise AssertionError(f"no environment section for {name}: {[e.environment for e in report.environments]}")


def subjects(env: EnvironmentDiff) -> dict[str, tuple[str, Direction]]:
    return {c.subject: (c.op, c.direction) for c in env.changes}


def test_shorter_retention_is_flagged_audit_weakened(spec_repo: SpecRepo) -> None:
    spec_repo.edit(STAGING, "retention_days: 90", "retention_days: 30")
    spec_repo.commit("keep agent activity a month")
    report = spec_repo.diff()
    staging = environment(report, "staging")
    assert staging.compiled == "full" and staging.stack_files == (STAGING,)
    [change] = staging.changes
    assert (change.system, change.op, change.before, change.after) == ("logging", "shortened", "90", "30")
    assert labels(change) == {"audit-weakened"} and change.high_risk and change.direction is Direction.WIDER
    assert staging.verdict is Verdict.HIGH_RISK
    assert [e.environment for e in report.environments] == ["staging"] and report.agents == []
    # Lengthening is a tightening, without a label.
    spec_repo.edit(STAGING, "retention_days: 30", "retention_days: 365")
    spec_repo.commit("keep it a year")
    [longer] = environment(spec_repo.diff("HEAD~1", "HEAD"), "staging").changes
    assert (longer.op, longer.direction, longer.risks) == ("lengthened", Direction.NARROWER, ())


def test_log_destination_and_audit_device_moved(spec_repo: SpecRepo) -> None:
    spec_repo.edit(DEV, "deliverystream/agentiam-dev-agent-activity", "deliverystream/somewhere-else")
    spec_repo.edit(DEV, "path: agentiam-file", "path: other-file")
    spec_repo.edit(DEV, "api_managed: false", "api_managed: true")
    spec_repo.commit("move the audit trail")
    dev = environment(spec_repo.diff(), "dev")
    found = {c.subject: c for c in dev.changes}
    assert set(found) == {"destination_arn", "audit device path", "audit api_managed"}
    assert all(labels(c) == {"audit-weakened"} for c in found.values())
    assert found["destination_arn"].high_risk and found["audit device path"].high_risk
    assert not found["audit api_managed"].high_risk


def test_changed_trusted_principal_is_high_risk_everywhere(spec_repo: SpecRepo) -> None:
    spec_repo.edit(DEV, "role/vault-aws-secrets-engine", "role/someone-else")
    spec_repo.commit("another principal")
    report = spec_repo.diff()
    dev = environment(report, "dev")
    [trusted] = [c for c in dev.changes if c.system == "trust"]
    assert trusted.high_risk and labels(trusted) == {"trust-changed"}
    assert trusted.after == "arn:aws:iam::111111111111:role/someone-else"
    assert dev.verdict is Verdict.HIGH_RISK
    assert {a.environment for a in report.agents} == {"dev"}
    for agent in ("invoice-reader", "payment-gateway-sync"):
        diff = entry(report, agent, "dev")
        trust = [c for c in diff.changes if c.system == "trust"]
        # The trust policy's statement names the engine's principal: it is replaced (dev: OpenBao, no session tags).
        assert {c.subject for c in trust} == {"VaultAwsSecretsEngineAssumes principal"}
        assert all(c.high_risk and c.op == "changed" for c in trust)
        assert diff.verdict is Verdict.HIGH_RISK
        assert not [c for c in diff.changes if c.system == "other"]  # no longer a neutral `other` change
    lines = annotations(report)
    assert any(line.startswith(f"::error file={DEV},title=") and "trust-changed" in line for line in lines)


def test_new_agent_widening_its_class_ceiling(spec_repo: SpecRepo) -> None:
    text = spec_repo.read(INVOICE).replace("name: invoice-reader", "name: invoice-archiver")
    spec_repo.write("agent_specs/billing/invoice-archiver.yaml",
                    text.replace("actions: [s3:GetObject, s3:ListBucket]",
                                 "actions: [s3:GetObject, s3:ListBucket, s3:GetObjectTagging]"))
    spec_repo.commit("archiver")
    report = spec_repo.diff()
    for name in ("dev", "staging", "prod"):
        env = environment(report, name)
        assert env.compiled == "incremental"
        # s3:GetObject and s3:ListBucket are already in the class union (invoice-reader): only one action is new.
        assert subjects(env) == {"data-retrieval: s3:GetObjectTagging": ("added", Direction.WIDER),
                                 f"billing: allowed role agent-{name}-invoice-archiver-billing-read":
                                     ("added", Direction.WIDER)}
    assert report.rest_lookups > 0


def test_same_actions_as_the_class_change_no_ceiling(spec_repo: SpecRepo) -> None:
    text = spec_repo.read(INVOICE).replace("name: invoice-reader", "name: invoice-twin")
    spec_repo.write("agent_specs/billing/invoice-twin.yaml", text.replace("  databases:\n    - database: billing\n"
                                                                          "      access: read\n", ""))
    spec_repo.commit("twin")
    report = spec_repo.diff()
    assert report.environments == []
    assert {a.agent for a in report.agents} == {"invoice-twin"}


def test_first_agent_of_a_class_creates_its_boundary_and_last_one_deletes_it(spec_repo: SpecRepo) -> None:
    spec_repo.edit(PAYMENT, "function: integration", "function: monitoring")
    spec_repo.commit("payment sync is monitoring now")
    report = spec_repo.diff()
    prod = environment(report, "prod")
    changes = subjects(prod)
    assert changes["monitoring boundary"] == ("added", Direction.NEUTRAL)
    assert changes["integration boundary"] == ("removed", Direction.NEUTRAL)
    assert changes["monitoring: sqs:DeleteMessage"] == ("added", Direction.WIDER)
    assert changes["integration: sqs:DeleteMessage"] == ("removed", Direction.NARROWER)
    text = render_text(report)
    assert "monitoring boundary created" in text and "integration boundary deleted" in text


def test_reactivation_is_a_widening_of_its_own(spec_repo: SpecRepo) -> None:
    spec_repo.edit(INVOICE, "expires: 2027-09-30\n", "expires: 2027-09-30\nstatus: suspended\n")
    spec_repo.commit("suspend", tag="suspended")
    spec_repo.edit(INVOICE, "status: suspended\n", "")
    spec_repo.commit("reactivate")
    report = spec_repo.diff("suspended", "HEAD")
    dev = entry(report, "invoice-reader", "dev")
    [status] = [c for c in dev.changes if c.subject == "status"]
    assert (status.op, status.before, status.after) == ("reactivated", "suspended", "active")
    assert labels(status) == {"reactivated"} and status.high_risk
    assert dev.verdict is Verdict.HIGH_RISK and dev.notes == ()


def test_inactive_agent_widening_says_the_kill_switch_still_denies(spec_repo: SpecRepo) -> None:
    spec_repo.edit(INVOICE, "expires: 2027-09-30\n", "expires: 2027-09-30\nstatus: suspended\n")
    spec_repo.commit("suspend", tag="suspended")
    spec_repo.edit(INVOICE, "actions: [s3:GetObject, s3:ListBucket]", "actions: [s3:GetObject, s3:ListBucket, "
                   "s3:PutObject]")
    spec_repo.commit("widen while suspended")
    report = spec_repo.diff("suspended", "HEAD")
    dev = entry(report, "invoice-reader", "dev")
    assert dev.verdict is Verdict.WIDENED  # the change stays visible
    assert any(c.subject == "s3:PutObject" and c.direction is Direction.WIDER for c in dev.changes)
    assert dev.notes == ("inactive in dev (suspended): kill switch denies all until re-activated",)
    assert "kill switch denies all until re-activated" in render_markdown(report)
    # the three environments read the same with `{env}`: one block, the note once
    assert render_text(report).count("note: inactive in {env} (suspended): kill switch denies all") == 1


def test_trust_condition_dropped_is_a_widening() -> None:
    # prod's server (HashiCorp Vault 1.18.3) sends session tags: its agents' trust policies require them.
    before = agent_plan(load_spec_file(FIXTURES / "specs" / "billing" / "invoice-reader.yaml")[0],
                        load_environments(PROJECT / "stacks")["prod"])
    policy = json.loads(json.dumps(before.aws.trust_policy))
    del policy["Statement"][0]["Condition"]["StringEquals"]["aws:RequestTag/agentiam-agent"]
    after = before.model_copy(update={"aws": before.aws.model_copy(update={"trust_policy": policy})})
    [change] = _trust_changes(before, after, None)  # type: ignore[arg-type]
    assert (change.op, change.direction, labels(change)) == ("removed", Direction.WIDER, {"trust-changed"})
    assert change.subject == ("VaultAwsSecretsEngineAssumesWithAgentTag condition StringEquals "
                              "aws:RequestTag/agentiam-agent")
    assert _trust_changes(after, before, None)[0].direction is Direction.NARROWER  # type: ignore[arg-type]


@pytest.mark.parametrize(("fail_on", "code"), [("never", 0), ("violation", 0), ("high", 1), ("widened", 1)])
def test_environment_verdict_counts_for_fail_on(spec_repo: SpecRepo, monkeypatch: pytest.MonkeyPatch,
                                               fail_on: str, code: int) -> None:
    spec_repo.edit(STAGING, "retention_days: 90", "retention_days: 30")
    spec_repo.commit("shorter")
    monkeypatch.chdir(spec_repo.root)
    for key in ("GITHUB_ACTIONS", "GITHUB_STEP_SUMMARY"):
        monkeypatch.delenv(key, raising=False)
    result = CliRunner().invoke(cli, ["diff", "--base", "base", "--head", "HEAD", "--fail-on", fail_on,
                                      "--format", "json"])
    assert result.exit_code == code, result.output
    data = json.loads(result.output)
    [staging] = data["environments"]
    assert staging["environment"] == "staging" and staging["verdict"] == "widened: high risk"
    assert staging["changes"][0]["risks"][0]["id"] == "audit-weakened"


def test_a_login_mounts_brute_force_guards_are_described_never_hidden() -> None:
    """Lockout and the login rate limit are plan decisions (code): a change shows, a looser limit is labelled."""
    env = load_environments(PROJECT / "stacks")["dev"]
    before = platform_plan([], env)
    approle = next(m for m in before.mounts if m.type == "approle")
    assert approle.user_lockout_disable and approle.login_rate_limit is not None
    looser = approle.model_copy(update={"user_lockout_disable": False, "login_rate_limit": None})
    after = before.model_copy(update={"mounts": [looser if m is approle else m for m in before.mounts]})
    changes = {c.subject: c for c in platform_changes(EnvironmentSide(env, before), EnvironmentSide(env, after))}
    lockout = changes[f"{approle.path} user lockout"]
    assert (lockout.before, lockout.after) == ("off", "on")
    limit = changes[f"{approle.path} login rate limit"]
    assert limit.direction.value == "wider" and limit.after == "none"
    assert [r.id for r in limit.risks] == ["guardrail-loosened"]
