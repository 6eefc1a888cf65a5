"""The kill switch facade: every step tried and reported, names from the plan, a broken neighbour spec ignored."""

from __future__ import annotations

import datetime as dt
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from agentiam.cli.revoke import render_text
from agentiam.errors import ServerError, UserError
from agentiam.plan import names
from agentiam.revoke import Outcome, StepResult, agent_entry, database_roles, kill_switch_policy, revoke

PROJECT = Path(__file__).resolve().parents[2]
SPECS, STACKS = PROJECT / "agent_specs", PROJECT / "stacks"
NOW = dt.datetime(2026, 11, 29, 9, 30, 15, 123456, tzinfo=dt.timezone.utc)


class FakeVault:
    def __init__(self, fail: set[str] = frozenset()):  # type: ignore[assignment]
        self.fail = fail
        self.calls: list[tuple[str, str]] = []

    def _do(self, call: str, target: str) -> StepResult:
        self.calls.append((call, target))
        if call in self.fail:
            raise ServerError(f"{target}: cannot reach Vault at https://vault.test (ConnectionError)")
        return StepResult(Outcome.REVOKED, "done")

    def disable_entity(self, name: str) -> StepResult:
        return self._do("disable_entity", name)

    def destroy_secret_ids(self, mount: str, role: str) -> StepResult:
        return self._do("destroy_secret_ids", f"{mount}/{role}")

    def revoke_leases(self, prefix: str) -> StepResult:
        return self._do("revoke_leases", prefix)

    def revoke_entity_tokens(self, entity_name: str) -> StepResult:
        return self._do("revoke_entity_tokens", entity_name)


class FakeAws:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, dict[str, Any]]] = []

    def attach_kill_switch(self, role_name: str, policy_name: str, policy: dict[str, Any],
                           unconditional: dict[str, Any]) -> StepResult:
        self.calls.append((role_name, policy_name, policy))
        return StepResult(Outcome.REVOKED, "denied")


def test_the_aws_kill_switch_denies_sessions_issued_before_the_cutoff() -> None:
    assert kill_switch_policy("2026-11-29T09:30:15Z") == {"Version": "2012-10-17", "Statement": [{
        "Sid": "AgentiamKillSwitch", "Effect": "Deny", "Action": "*", "Resource": "*",
        "Condition": {"DateLessThan": {"aws:TokenIssueTime": "2026-11-29T09:30:15Z"}}}]}


def test_every_step_runs_in_order_with_names_from_the_plan() -> None:
    entry, plan = agent_entry("invoice-reader", "dev", SPECS, STACKS)
    vault, aws = FakeVault(), FakeAws()
    report = revoke(entry, plan, vault, aws, now=NOW)
    ident = names.identity_name("invoice-reader", "dev")
    assert [c[0] for c in vault.calls] == ["disable_entity", "destroy_secret_ids", "revoke_leases", "revoke_leases",
                                           "revoke_leases", "revoke_leases", "revoke_entity_tokens"]
    assert vault.calls[0] == ("disable_entity", entry.vault.entity.name) and entry.vault.entity.name == ident
    assert ("revoke_leases", f"agentiam-dev-database/creds/{ident}-billing-read/") in vault.calls
    assert aws.calls == [(entry.aws.role_name, "agentiam-kill-switch", kill_switch_policy("2026-11-29T09:30:15Z"))]
    assert report.ok and report.cutoff == "2026-11-29T09:30:15Z"


def test_a_failed_step_is_reported_and_the_others_still_run() -> None:
    entry, plan = agent_entry("invoice-reader", "dev", SPECS, STACKS)
    vault, aws = FakeVault(fail={"disable_entity", "revoke_leases"}), FakeAws()
    report = revoke(entry, plan, vault, aws, now=NOW)
    assert not report.ok
    outcomes = [(s.action, s.outcome) for s in report.steps]
    assert outcomes[0] == ("disable identity entity", Outcome.FAILED)
    assert ("destroy secret ids", Outcome.REVOKED) in outcomes and aws.calls
    text = render_text(report)
    assert "5 of 8 step(s) FAILED: the agent may still have access" in text
    assert "cannot reach Vault at https://vault.test" in text
    assert report.to_json()["ok"] is False


def test_a_suspended_agents_old_database_leases_are_still_covered() -> None:
    entry, plan = agent_entry("invoice-reader", "dev", SPECS, STACKS)
    suspended = entry.model_copy(update={"vault": entry.vault.model_copy(update={"database_roles": []}),
                                         "status": "suspended"})
    ident = entry.identity_name
    assert database_roles(suspended, plan) == sorted(
        ("agentiam-dev-database", f"{ident}-{db}-{access}") for db in ("analytics", "billing")
        for access in ("read", "write"))
    assert "already says `status: suspended`" in render_text(revoke(suspended, plan, FakeVault(), None, now=NOW))


def test_a_broken_neighbour_spec_does_not_block_the_kill_switch(tmp_path: Path) -> None:
    specs = tmp_path / "agent_specs"
    shutil.copytree(SPECS, specs)
    (specs / "broken.yaml").write_text("spec_version: 1\nname: [not, a, name]\n")
    entry, _ = agent_entry("invoice-reader", "dev", specs, STACKS)
    assert entry.identity_name == "agent-dev-invoice-reader"


def test_unknown_agents_and_environments_are_clear_errors() -> None:
    with pytest.raises(UserError, match="no agent named 'nobody'"):
        agent_entry("nobody", "dev", SPECS, STACKS)
    with pytest.raises(UserError, match="no such stack config"):
        agent_entry("invoice-reader", "nowhere", SPECS, STACKS)


GOLDEN = Path(__file__).parent / "golden" / "report.txt"


def test_the_report_reads_as_the_golden_file() -> None:
    """What the operator reads in an emergency; regenerate with AGENTIAM_UPDATE_GOLDEN=1 after a deliberate change."""
    entry, plan = agent_entry("invoice-reader", "dev", SPECS, STACKS)
    entry = entry.model_copy(update={"source_file": "agent_specs/billing/invoice-reader.yaml"})
    text = render_text(revoke(entry, plan, FakeVault(fail={"revoke_entity_tokens"}), FakeAws(), now=NOW))
    if os.environ.get("AGENTIAM_UPDATE_GOLDEN"):
        GOLDEN.write_text(text)
    assert text == GOLDEN.read_text()


def test_the_command_asks_first_and_needs_an_operator_token() -> None:
    from click.testing import CliRunner

    from agentiam.cli.main import cli

    args = ["revoke", "invoice-reader", "--env", "dev", "--specs", str(SPECS), "--stacks", str(STACKS), "--no-aws"]
    declined = CliRunner().invoke(cli, args, input="n\n",
                                  env={"VAULT_ADDR": "https://127.0.0.1:1", "VAULT_TOKEN": "operator"})
    assert declined.exit_code == 1 and "Revoke invoice-reader (agent-dev-invoice-reader) in dev now?" in declined.output
    assert "Aborted" in declined.output and "SYSTEM" not in declined.output
    no_token = CliRunner().invoke(cli, [*args, "--yes"], env={"VAULT_ADDR": "https://127.0.0.1:1", "VAULT_TOKEN": ""})
    assert no_token.exit_code == 2 and "VAULT_TOKEN" in no_token.output


def test_a_malformed_aws_endpoint_is_a_clear_error_before_any_step() -> None:
    from click.testing import CliRunner

    from agentiam.cli.main import cli

    result = CliRunner().invoke(cli, ["revoke", "invoice-reader", "--env", "dev", "--specs", str(SPECS), "--stacks",
                                      str(STACKS), "--yes", "--aws-endpoint-url", "not a url"],
                                env={"VAULT_ADDR": "https://127.0.0.1:1", "VAULT_TOKEN": "operator"})
    assert result.exit_code == 2, result.output
    assert "error: --aws-endpoint-url 'not a url': Invalid endpoint: not a url" in result.output
    assert "SYSTEM" not in result.output and "Traceback" not in result.output


def test_the_iam_client_gives_up_within_a_bounded_time() -> None:
    from agentiam.revoke.aws_adapter import AwsRevoker

    config = AwsRevoker(endpoint_url="http://127.0.0.1:1", region_name="eu-west-1")._iam.meta.config
    assert (config.connect_timeout, config.read_timeout) == (5, 20)
    assert config.retries["mode"] == "standard" and config.retries["total_max_attempts"] == 3  # not 60 s x 5
