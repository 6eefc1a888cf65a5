"""The kill switch facade: every step tried and reported, names from the plan, a broken neighbour spec ignored."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import shutil
import stat
import time
from pathlib import Path
from typing import Any

import pytest

from click.testing import CliRunner

from agentiam.cli.main import cli
from agentiam.cli.revoke import EXIT_INCOMPLETE, EXIT_NOTHING_ATTEMPTED, render_text
from agentiam.errors import ServerError, UserError
from agentiam.plan import names
from agentiam.revoke import (
    Outcome,
    Remaining,
    Revocation,
    Step,
    StepResult,
    agent_entry,
    database_roles,
    kill_switch_policy,
    revoke,
)
from agentiam.revoke.state import PendingStore

PROJECT = Path(__file__).resolve().parents[2]
SPECS, STACKS = PROJECT / "agent_specs", PROJECT / "stacks"
NOW = dt.datetime(2026, 11, 29, 9, 30, 15, 123456, tzinfo=dt.timezone.utc)


class FakeVault:
    def __init__(self, fail: set[str] = frozenset(), hang: set[str] = frozenset(),  # type: ignore[assignment]
                 results: dict[str, StepResult] | None = None):
        self.fail, self.hang, self.results = fail, hang, results or {}
        self.calls: list[tuple[str, str]] = []
        self.address = "https://vault.test"

    def _do(self, call: str, target: str) -> StepResult:
        self.calls.append((call, target))
        if call in self.hang:
            time.sleep(5)  # a Vault that accepted the connection and never answers
        if call in self.fail:
            raise ServerError(f"{target}: cannot reach Vault at https://vault.test (ConnectionError)")
        return self.results.get(f"{call}:{target}") or self.results.get(call) or StepResult(Outcome.REVOKED, "done")

    def disable_entity(self, name: str) -> StepResult:
        return self._do("disable_entity", name)

    def destroy_secret_ids(self, mount: str, role: str) -> StepResult:
        return self._do("destroy_secret_ids", f"{mount}/{role}")

    def revoke_leases(self, mount: str, role: str) -> StepResult:
        return self._do("revoke_leases", f"{mount}/creds/{role}/")

    def revoke_role_tokens(self, role: str) -> StepResult:
        return self._do("revoke_role_tokens", role)


class FakeAws:
    def __init__(self, hang: float = 0.0) -> None:
        self.calls: list[tuple[str, str, dict[str, Any]]] = []
        self.hang = hang

    def attach_kill_switch(self, role_name: str, policy_name: str, policy: dict[str, Any],
                           unconditional: dict[str, Any]) -> StepResult:
        time.sleep(self.hang)
        self.calls.append((role_name, policy_name, policy))
        return StepResult(Outcome.REVOKED, "denied")


def test_the_aws_kill_switch_denies_sessions_issued_before_the_cutoff() -> None:
    assert kill_switch_policy("2026-11-29T09:30:15Z") == {"Version": "2012-10-17", "Statement": [{
        "Sid": "AgentiamKillSwitch", "Effect": "Deny", "Action": "*", "Resource": "*",
        "Condition": {"DateLessThan": {"aws:TokenIssueTime": "2026-11-29T09:30:15Z"}}}]}


def test_every_step_runs_with_names_from_the_plan_and_is_reported_in_plan_order() -> None:
    entry, scope = agent_entry("invoice-reader", "dev", SPECS, STACKS)
    vault, aws = FakeVault(), FakeAws()
    report = revoke(entry, scope, vault, aws, now=NOW)
    ident = names.identity_name("invoice-reader", "dev")
    assert sorted(c[0] for c in vault.calls) == ["destroy_secret_ids", "disable_entity", "revoke_leases",
                                                 "revoke_leases", "revoke_leases", "revoke_leases",
                                                 "revoke_role_tokens"]
    assert ("revoke_role_tokens", ident) in vault.calls  # the token role is named after the identity
    assert ("disable_entity", entry.vault.entity.name) in vault.calls and entry.vault.entity.name == ident
    assert ("revoke_leases", f"agentiam-dev-database/creds/{ident}-billing-read/") in vault.calls
    assert aws.calls == [(entry.aws.role_name, "agentiam-kill-switch", kill_switch_policy("2026-11-29T09:30:15Z"))]
    assert [s.action for s in report.steps] == ["disable identity entity", "destroy secret ids"] + [
        "revoke database leases"] * 4 + ["revoke the agent's tokens", "deny sessions issued before now"]
    assert report.complete and report.cutoff == "2026-11-29T09:30:15Z"


def test_a_failed_step_is_reported_and_the_others_still_run() -> None:
    entry, scope = agent_entry("invoice-reader", "dev", SPECS, STACKS)
    vault, aws = FakeVault(fail={"disable_entity", "revoke_leases"}), FakeAws()
    report = revoke(entry, scope, vault, aws, now=NOW)
    assert not report.complete
    outcomes = [(s.action, s.outcome) for s in report.steps]
    assert outcomes[0] == ("disable identity entity", Outcome.FAILED)
    assert ("destroy secret ids", Outcome.REVOKED) in outcomes and aws.calls
    text = render_text(report)
    assert "5 of 8 step(s) not done: the agent may still have access." in text
    assert "cannot reach Vault at https://vault.test" in text
    assert report.to_json()["ok"] is False and report.to_json()["result"] == "incomplete"


def test_a_hung_vault_holds_neither_the_aws_deny_nor_the_report() -> None:
    entry, scope = agent_entry("invoice-reader", "dev", SPECS, STACKS)
    vault = FakeVault(hang={"disable_entity", "destroy_secret_ids", "revoke_leases", "revoke_role_tokens"})
    started = time.monotonic()
    report = revoke(entry, scope, vault, FakeAws(), now=NOW, timeout=0.5)
    assert time.monotonic() - started < 1.5
    by_action = {s.action: s for s in report.steps}
    aws_step = by_action["deny sessions issued before now"]
    assert aws_step.outcome is Outcome.REVOKED and aws_step.seconds < 0.4
    hung = by_action["disable identity entity"]
    assert hung.outcome is Outcome.FAILED and hung.detail.startswith("no answer within 0.5 s (server hung or slow)")


def test_the_token_step_starts_once_the_entity_is_disabled_and_never_waits_for_aws() -> None:
    """After the disable, no new working token can be created behind the prefix revocation; AWS is another system."""
    from agentiam.revoke import DENY_SESSIONS, DISABLE_ENTITY, REVOKE_TOKENS

    entry, scope = agent_entry("invoice-reader", "dev", SPECS, STACKS)

    class SlowDisable(FakeVault):
        def disable_entity(self, name: str) -> StepResult:
            time.sleep(0.3)
            return super().disable_entity(name)

    vault = SlowDisable()
    order: list[str] = []
    report = revoke(entry, scope, vault, FakeAws(hang=3), now=NOW, timeout=4,
                    progress=lambda step: order.append(step.action) if step.action != "revoke database leases" else 0)
    assert order.index(REVOKE_TOKENS) == order.index(DISABLE_ENTITY) + 1 < order.index(DENY_SESSIONS)
    by_action = {s.action: s for s in report.steps}
    assert 0.3 <= by_action[REVOKE_TOKENS].seconds < 1.5  # the disable's 0.3 s, not the AWS step's 3 s
    assert ("revoke_role_tokens", entry.vault.token_role.name) in vault.calls
    assert by_action[REVOKE_TOKENS].target == f"auth/token/create/{entry.identity_name}/"


def test_a_vault_that_does_not_know_the_agent_is_said_so_and_is_not_a_success() -> None:
    entry, scope = agent_entry("invoice-reader", "dev", SPECS, STACKS)
    unknown = StepResult(Outcome.NOT_FOUND, "this Vault (https://vault.test) has no identity entity "
                                            "agent-dev-invoice-reader: wrong VAULT_ADDR, or the stack was never "
                                            "applied here")
    vault = FakeVault(results={"disable_entity": unknown, "revoke_role_tokens": unknown,
                               "destroy_secret_ids": StepResult(Outcome.NOT_FOUND, "no AppRole role")})
    report = revoke(entry, scope, vault, FakeAws(), now=NOW)
    assert report.unknown_to_vault and not report.complete
    text = render_text(report)
    assert ("This Vault (https://vault.test) does not know agent invoice-reader (no identity entity "
            "agent-dev-invoice-reader): wrong VAULT_ADDR") in text
    assert "3 of 8 step(s) not done" in text and "already revoked" not in text


def test_multi_line_server_errors_render_on_one_table_line() -> None:
    entry, scope = agent_entry("invoice-reader", "dev", SPECS, STACKS)
    messy = StepResult(Outcome.FAILED, "auth/x: 1 error occurred:\n\t* failed to find accessor entry\n\n")
    report = revoke(entry, scope, FakeVault(results={"destroy_secret_ids": messy}), FakeAws(), now=NOW)
    (line,) = [line for line in render_text(report).splitlines() if "destroy secret ids" in line]
    assert line.endswith("auth/x: 1 error occurred: * failed to find accessor entry")
    assert render_text(report).count("\n\t") == 0


def test_what_a_failed_lease_step_leaves_alive_is_shown_with_how_to_find_the_user() -> None:
    entry, scope = agent_entry("invoice-reader", "dev", SPECS, STACKS)
    left = Remaining(kind="database user", lease_id="agentiam-dev-database/creds/r/abc", role="r",
                     issued="2026-12-03T07:33:20Z", expires="2026-12-03T08:33:20Z")
    failed = StepResult(Outcome.FAILED, "1 of 1 lease(s) not revoked, their database user(s) still exist: "
                                        "connection refused", (left,))
    report = revoke(entry, scope, FakeVault(results={"revoke_leases": failed}), FakeAws(), now=NOW)
    text = render_text(report, Path("/state/dev/invoice-reader.revocation.json"))
    assert ("Still alive: database user of lease agentiam-dev-database/creds/r/abc (role r), created "
            "2026-12-03T07:33:20Z, password valid until 2026-12-03T08:33:20Z; find it: SELECT rolname, "
            "rolvaliduntil FROM pg_roles WHERE rolname LIKE 'v-%-1796283200' OR rolname LIKE 'v-%-1796283199'") in text
    assert ("Recorded in /state/dev/invoice-reader.revocation.json. Fix the cause, then `agentiam revoke --resume`"
            in text)
    assert report.to_json()["steps"][2]["remaining"][0]["expires"] == "2026-12-03T08:33:20Z"


def test_an_unfinished_revocation_is_kept_privately_and_forgotten_once_complete(tmp_path: Path) -> None:
    entry, scope = agent_entry("invoice-reader", "dev", SPECS, STACKS)
    store = PendingStore(tmp_path / "state")
    first = revoke(entry, scope, FakeVault(fail={"revoke_role_tokens"}), FakeAws(), now=NOW)
    path = store.record(first, "dev")
    assert path == tmp_path / "state" / "dev" / "invoice-reader.revocation.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    (pending,) = store.pending()
    assert (pending.agent, pending.stack, pending.first_attempt, pending.vault_addr) == (
        "invoice-reader", "dev", "2026-11-29T09:30:15Z", "https://vault.test")
    assert pending.unfinished == ["vault: revoke the agent's tokens auth/token/create/agent-dev-invoice-reader/: "
                                  "FAILED agent-dev-invoice-reader: cannot reach Vault at https://vault.test "
                                  "(ConnectionError)"]
    later = revoke(entry, scope, FakeVault(fail={"revoke_role_tokens"}), FakeAws(),
                   now=NOW + dt.timedelta(hours=1))
    store.record(later, "dev")
    assert store.pending()[0].first_attempt == "2026-11-29T09:30:15Z"  # the first attempt is kept
    assert store.record(revoke(entry, scope, FakeVault(), FakeAws(), now=NOW), "dev") is None
    assert store.pending() == [] and not path.exists()


def test_a_suspended_agents_old_database_leases_are_still_covered() -> None:
    entry, scope = agent_entry("invoice-reader", "dev", SPECS, STACKS)
    suspended = entry.model_copy(update={"vault": entry.vault.model_copy(update={"database_roles": []}),
                                         "status": "suspended"})
    ident = entry.identity_name
    assert database_roles(suspended, scope) == sorted(
        ("agentiam-dev-database", f"{ident}-{db}-{access}") for db in ("analytics", "billing")
        for access in ("read", "write"))
    assert "already says `status: suspended`" in render_text(revoke(suspended, scope, FakeVault(), None, now=NOW))


def test_a_broken_neighbour_spec_does_not_block_the_kill_switch(tmp_path: Path) -> None:
    specs = tmp_path / "agent_specs"
    shutil.copytree(SPECS, specs)
    (specs / "broken.yaml").write_text("spec_version: 1\nname: [not, a, name]\n")
    entry, _ = agent_entry("invoice-reader", "dev", specs, STACKS)
    assert entry.identity_name == "agent-dev-invoice-reader"


@pytest.mark.parametrize("fault", ["garbage", "missing", "link", "neighbour spec too"])
def test_a_broken_agent_ca_does_not_block_the_kill_switch(tmp_path: Path, fault: str) -> None:
    """The CA is what `plan` and `pulumi up` must refuse when broken; revoke needs only names, mounts and account."""
    from agentiam.environment.load import load_environment
    from agentiam.errors import ConfigError

    shutil.copytree(SPECS, tmp_path / "agent_specs")
    shutil.copytree(STACKS, tmp_path / "stacks")
    ca = tmp_path / "stacks" / "ca" / "dev-agents-ca.pem"
    if fault == "missing":
        ca.unlink()
    elif fault == "link":
        ca.unlink()
        ca.symlink_to(STACKS / "ca" / "dev-agents-ca.pem")
    else:
        ca.write_bytes(b"-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n")
    if fault == "neighbour spec too":
        (tmp_path / "agent_specs" / "broken.yaml").write_text("spec_version: 1\nname: [not, a, name]\n")
    with pytest.raises(ConfigError):
        load_environment(tmp_path / "stacks", "dev")  # what planning and deploying read: refused
    entry, scope = agent_entry("invoice-reader", "dev", tmp_path / "agent_specs", tmp_path / "stacks")
    assert entry.vault.token_role.name == entry.identity_name == "agent-dev-invoice-reader"
    assert (scope.environment, scope.region) == ("dev", "eu-west-1")
    vault = FakeVault()
    assert revoke(entry, scope, vault, FakeAws(), now=NOW).complete
    assert ("revoke_leases", f"agentiam-dev-database/creds/{entry.identity_name}-billing-read/") in vault.calls


def test_a_broken_stack_config_itself_is_still_a_clear_error(tmp_path: Path) -> None:
    """Names, mounts and the account come from it: without them there is nothing to revoke by."""
    from agentiam.errors import ConfigError

    shutil.copytree(STACKS, tmp_path / "stacks")
    stack = tmp_path / "stacks" / "Pulumi.dev.yaml"
    stack.write_text(stack.read_text().replace("account_id:", "account_idd:"))
    with pytest.raises(ConfigError) as raised:
        agent_entry("invoice-reader", "dev", SPECS, tmp_path / "stacks")
    assert "Pulumi.dev.yaml:8:5  error  CFG002  account_idd: unknown field" in str(raised.value)


def test_only_the_agents_own_file_is_read_when_it_is_named_after_it(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    import agentiam.project

    specs = tmp_path / "agent_specs"
    shutil.copytree(SPECS, specs)
    read: list[str] = []
    real = agentiam.project.read_spec_bytes

    def counting(file: str, data: bytes):  # type: ignore[no-untyped-def]
        read.append(Path(file).name)
        return real(file, data)

    monkeypatch.setattr(agentiam.project, "read_spec_bytes", counting)
    assert agent_entry("invoice-reader", "dev", specs, STACKS)[0].agent == "invoice-reader"
    assert read == ["invoice-reader.yaml"]  # the time to the first cut does not grow with the fleet
    (specs / "billing" / "invoice-reader.yaml").rename(specs / "billing" / "renamed.yaml")
    read.clear()
    assert agent_entry("invoice-reader", "dev", specs, STACKS)[0].source_file.endswith("renamed.yaml")
    assert len(read) > 1  # not named after it: every spec is read to find it


def test_unknown_agents_and_environments_are_clear_errors() -> None:
    with pytest.raises(UserError, match="no agent named 'nobody'"):
        agent_entry("nobody", "dev", SPECS, STACKS)
    with pytest.raises(UserError, match="no such stack config"):
        agent_entry("invoice-reader", "nowhere", SPECS, STACKS)


GOLDEN = Path(__file__).parent / "golden" / "report.txt"


def test_the_report_reads_as_the_golden_file() -> None:
    """What the operator reads in an emergency; regenerate with AGENTIAM_REGEN_GOLDEN=1 after a deliberate change."""
    entry, scope = agent_entry("invoice-reader", "dev", SPECS, STACKS)
    entry = entry.model_copy(update={"source_file": "agent_specs/billing/invoice-reader.yaml"})
    left = Remaining(kind="database user", lease_id="agentiam-dev-database/creds/agent-dev-invoice-reader-billing-read/"
                     "0RBigzCQyJ8aWB1s39cQydau", role="agent-dev-invoice-reader-billing-read",
                     issued="2026-11-29T09:12:02Z", expires="2026-11-29T10:12:02Z")
    leases = StepResult(Outcome.FAILED, "1 of 1 lease(s) not revoked, their database user(s) still exist: failed to "
                                        "revoke entry: dial tcp 10.0.4.2:5432: connect: connection refused", (left,))
    billing = "revoke_leases:agentiam-dev-database/creds/agent-dev-invoice-reader-billing-read/"
    report = revoke(entry, scope, FakeVault(fail={"revoke_role_tokens"}, results={billing: leases}),
                    FakeAws(), now=NOW)
    # Step times are real; the golden file fixes them (steps started together, the AWS deny first to answer).
    report = dataclasses.replace(report, steps=[dataclasses.replace(step, seconds=0.25 if step.system == "aws" else
                                                                    0.04 * (i + 1)) for i, step in
                                                enumerate(report.steps)])
    text = render_text(report, Path("/var/lib/agentiam/revocations/dev/invoice-reader.revocation.json"))
    if os.environ.get("AGENTIAM_REGEN_GOLDEN"):
        GOLDEN.write_text(text)
    assert text == GOLDEN.read_text()


def test_the_command_asks_first_and_needs_an_operator_token(tmp_path: Path) -> None:
    args = ["revoke", "invoice-reader", "--env", "dev", "--specs", str(SPECS), "--stacks", str(STACKS), "--no-aws",
            "--state-dir", str(tmp_path)]
    declined = CliRunner().invoke(cli, args, input="n\n",
                                  env={"VAULT_ADDR": "https://127.0.0.1:1", "VAULT_TOKEN": "operator"})
    assert declined.exit_code == EXIT_NOTHING_ATTEMPTED
    assert "Revoke invoice-reader (agent-dev-invoice-reader) in dev now?" in declined.output
    assert "Not confirmed: nothing was revoked." in declined.output and "SYSTEM" not in declined.output
    no_token = CliRunner().invoke(cli, [*args, "--yes"], env={"VAULT_ADDR": "https://127.0.0.1:1", "VAULT_TOKEN": ""})
    assert no_token.exit_code == EXIT_NOTHING_ATTEMPTED and "VAULT_TOKEN" in no_token.output
    unknown = CliRunner().invoke(cli, [*args[:1], "nobody", *args[2:], "--yes"],
                                 env={"VAULT_ADDR": "https://127.0.0.1:1", "VAULT_TOKEN": "operator"})
    assert unknown.exit_code == EXIT_NOTHING_ATTEMPTED and "no agent named 'nobody'" in unknown.output
    assert not any(tmp_path.iterdir()), "nothing attempted, nothing recorded"


def test_exit_codes_are_documented_in_the_help() -> None:
    result = CliRunner().invoke(cli, ["revoke", "--help"])
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    for line in ("0 fully revoked: every step revoked or found nothing left",
                 "2 nothing attempted: bad input or configuration, or not confirmed",
                 "4 partly revoked: a step failed, did not answer in time, or the server does not know the agent",
                 "agentiam revoke --resume --yes"):
        assert line in text, line


def test_an_unreachable_vault_is_a_partial_revocation_kept_for_resume(tmp_path: Path) -> None:
    env = {"VAULT_ADDR": "http://127.0.0.1:1", "VAULT_TOKEN": "operator"}
    base = ["--specs", str(SPECS), "--stacks", str(STACKS), "--no-aws", "--state-dir", str(tmp_path), "--yes"]
    first = CliRunner().invoke(cli, ["revoke", "invoice-reader", "--env", "dev", *base, "--format", "json"], env=env)
    assert first.exit_code == EXIT_INCOMPLETE, first.output
    report = json.loads(first.output)
    assert report["result"] == "incomplete"
    assert report["pending_record"] == str(tmp_path / "dev/invoice-reader.revocation.json")
    resumed = CliRunner().invoke(cli, ["revoke", "--resume", *base], env=env)
    assert resumed.exit_code == EXIT_INCOMPLETE, resumed.output
    assert "Revoking invoice-reader in dev" in resumed.output and "Recorded in" in resumed.output
    nothing = CliRunner().invoke(cli, ["revoke", "--resume", "--env", "prod", *base, "--format", "json"], env=env)
    assert nothing.exit_code == 0 and json.loads(nothing.output) == []
    # A record whose spec has gone cannot be resumed: said, counted as unfinished, and the others still run.
    specs = tmp_path / "specs"
    shutil.copytree(SPECS, specs)
    (specs / "billing" / "invoice-reader.yaml").unlink()
    orphaned = CliRunner().invoke(cli, ["revoke", "--resume", "--specs", str(specs), *base[2:]], env=env)
    assert orphaned.exit_code == EXIT_INCOMPLETE, orphaned.output
    assert "warning: cannot resume invoice-reader in dev: no agent named 'invoice-reader'" in orphaned.output


def test_a_malformed_aws_endpoint_is_a_clear_error_before_any_step() -> None:
    result = CliRunner().invoke(cli, ["revoke", "invoice-reader", "--env", "dev", "--specs", str(SPECS), "--stacks",
                                      str(STACKS), "--yes", "--aws-endpoint-url", "not a url"],
                                env={"VAULT_ADDR": "https://127.0.0.1:1", "VAULT_TOKEN": "operator"})
    assert result.exit_code == 2, result.output
    assert "error: --aws-endpoint-url 'not a url': Invalid endpoint: not a url" in result.output
    assert "SYSTEM" not in result.output and "Traceback" not in result.output


def test_the_iam_client_gives_up_within_a_bounded_time() -> None:
    from agentiam.revoke.aws_adapter import AwsRevoker

    config = AwsRevoker(endpoint_url="http://127.0.0.1:1", region_name="eu-west-1")._iam.meta.config
    assert (config.connect_timeout, config.read_timeout) == (3, 5)
    assert config.retries["mode"] == "standard" and config.retries["total_max_attempts"] == 2  # not 60 s x 5


def test_a_state_folder_that_cannot_be_written_never_hides_the_report_or_its_exit_code(tmp_path: Path) -> None:
    blocked = tmp_path / "file-not-folder"
    blocked.write_text("")
    result = CliRunner().invoke(cli, ["revoke", "invoice-reader", "--env", "dev", "--specs", str(SPECS), "--stacks",
                                      str(STACKS), "--no-aws", "--yes", "--state-dir", str(blocked / "state")],
                                env={"VAULT_ADDR": "http://127.0.0.1:1", "VAULT_TOKEN": "operator"})
    assert result.exit_code == EXIT_INCOMPLETE, result.output  # tried: never "nothing attempted"
    assert "warning: cannot record the unfinished revocation under" in result.output
    assert "Revoking invoice-reader in dev" in result.output and "Traceback" not in result.output


def test_the_report_shows_a_hostile_file_name_and_server_message_as_escaped_text() -> None:
    """The spec's file name is the pull request author's choice and server errors echo input: neither may
    recolour the terminal, start a line of its own (a forged workflow command) or hide text."""
    steps = [Step("vault", "disable identity entity", "identity/entity/name/x", Outcome.FAILED,
                  "boom\x1b[2J\n::error::forged\u202eevil", 0.1)]
    report = Revocation(agent="x", environment="dev", identity_name="agent-dev-x",
                        source_file="agent_specs/x\x1b[31m\n::warning::y.yaml", status_in_spec="active",
                        cutoff="2026-12-03T00:00:00Z", steps=steps)
    text = render_text(report)
    assert "\x1b" not in text and "\u202e" not in text
    assert not any(line.startswith("::") for line in text.splitlines())
    assert "x\\x1b[31m\\n::warning::y.yaml" in text and "\\u202e" in text


def test_the_command_says_which_legacy_credentials_the_kill_switch_leaves_alone(tmp_path: Path) -> None:
    """A migrating agent may still hold the shared credentials it declares: revoke names them and the command that
    cuts them, before asking, and touches none of them itself."""
    specs, stacks = tmp_path / "agent_specs", tmp_path / "stacks"
    shutil.copytree(SPECS, specs)
    shutil.copytree(STACKS, stacks)
    spec = specs / "billing" / "invoice-reader.yaml"
    spec.write_text(spec.read_text() + (
        "migration:\n  parallel_run: 48h\n  environments:\n    dev:\n"
        "      parallel_run_started: 2026-11-28T09:00:00Z\n      legacy:\n        iam_access_keys:\n"
        "          - id: AKIAIOSFODNN7EXAMPLE\n            user: billing-shared\n"
        "        vault_roles:\n          - mount: approle\n            role: billing-shared\n"))
    args = ["revoke", "invoice-reader", "--env", "dev", "--specs", str(specs), "--stacks", str(stacks), "--no-aws",
            "--state-dir", str(tmp_path / "state")]
    declined = CliRunner().invoke(cli, args, input="n\n",
                                  env={"VAULT_ADDR": "https://127.0.0.1:1", "VAULT_TOKEN": "operator"})
    assert declined.exit_code == EXIT_NOTHING_ATTEMPTED, declined.output
    warning = " ".join(line for line in declined.output.splitlines() if "legacy credential" in line)
    assert "invoice-reader in dev declares 2 legacy credential(s) this command does not touch" in warning
    assert "IAM access key AKIAIOSFODNN7EXAMPLE (user billing-shared)" in warning and "billing-shared" in warning
    assert "agentiam migrate revoke-legacy invoice-reader --env dev --force" in warning
    plain = CliRunner().invoke(cli, [*args[:4], "--specs", str(SPECS), "--stacks", str(STACKS), *args[8:]],
                               input="n\n", env={"VAULT_ADDR": "https://127.0.0.1:1", "VAULT_TOKEN": "operator"})
    assert plain.exit_code == EXIT_NOTHING_ATTEMPTED and "legacy credential" not in plain.output
