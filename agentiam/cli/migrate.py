"""`agentiam migrate plan|status|revoke-legacy`: move agents off shared credentials, waves by risk, a parallel run
of at least 48 hours, then the legacy credentials retired (docs/migrate.md).

`plan` runs offline. `status` and `revoke-legacy` read Vault (VAULT_ADDR, VAULT_TOKEN) and AWS (standard chain)
through adapters imported only when a server is asked, so `migrate plan` never loads hvac or boto3.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from agentiam.audit.identities import AuditIds
from agentiam.cli.common import (
    handle_user_errors,
    specs_option,
    stacks_option,
    write_output,
)
from agentiam.errors import ConfigError, ServerError, UserError
from agentiam.migrate import render
from agentiam.migrate.evidence import LogEvidence
from agentiam.migrate.fleet import Fleet, accessor_hmacs, load_fleet, read_evidence
from agentiam.migrate.legacy import (
    DEFAULT_TIMEOUT,
    LegacyAws,
    LegacyRevocation,
    LegacyVault,
    Sides,
    Step,
    utcnow,
)
from agentiam.migrate.legacy import revoke_legacy as run_revoke_legacy
from agentiam.migrate.legacy import status as agent_status
from agentiam.migrate.state import MigrationStore
from agentiam.migrate.waves import DEFAULT_CAP, plan_waves
from agentiam.render.escape import Terminal
from agentiam.revoke.state import default_state_dir
from agentiam.spec.types import format_timestamp, parse_duration

EXIT_DONE = 0  # plan: declared waves in order; status: everything read; revoke-legacy: every credential retired
EXIT_KEPT = 1  # plan: declared waves out of order or over the cap; revoke-legacy: some credentials kept on purpose
EXIT_NOTHING = 2  # bad input or configuration, or refused before touching anything (the parallel run too short)
EXIT_INTERNAL = 3  # a bug in agentiam (handle_user_errors)
EXIT_FAILED = 4  # a server refused, failed or did not answer in time; the report says which step

FORMATS = ("text", "json")


def _duration(_ctx: click.Context, _param: click.Parameter, value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc


def _server_options(func: Callable[..., Any]) -> Callable[..., Any]:
    options: list[Callable[[Callable[..., Any]], Callable[..., Any]]] = [
        click.option("--env", "environment", required=True, help="Environment (a stacks/Pulumi.<env>.yaml)."),
        click.option("--logs", "logs", multiple=True, type=click.Path(dir_okay=False, allow_dash=True),
                     help="Vault/OpenBao audit logs and CloudTrail files (gzip or not; repeatable), as `agentiam "
                          "check` reads them: where the legacy credentials and the agents' own identities were "
                          "used from, and failed logins since the cutover."),
        click.option("--vault-addr", envvar="VAULT_ADDR", help="Vault address (default: $VAULT_ADDR). The token is "
                     "read from $VAULT_TOKEN only, so it never lands in shell history or the process list."),
        click.option("--vault-ca-cert", envvar="VAULT_CACERT", type=click.Path(dir_okay=False, exists=True),
                     help="CA bundle verifying Vault's TLS certificate (default: $VAULT_CACERT)."),
        click.option("--aws-endpoint-url", help="IAM endpoint (tests, e.g. a moto server); default: AWS."),
        click.option("--no-vault", is_flag=True, help="Do not ask Vault."),
        click.option("--no-aws", is_flag=True, help="Do not ask AWS."),
        click.option("--parallel-run", "parallel_run", callback=_duration, default=None,
                     help="Wait longer than the specs say before legacy credentials may go (e.g. 72h); never "
                          "less than 48h."),
        click.option("--timeout", type=click.FloatRange(min=1), default=DEFAULT_TIMEOUT, show_default=True,
                     help="Seconds the whole run may take; a call not answered by then is reported FAILED."),
        click.option("--request-timeout", type=click.FloatRange(min=0.1), default=10.0, show_default=True,
                     help="Seconds one request to Vault or AWS may take (connect and each read); one retry."),
        click.option("--state-dir", type=click.Path(path_type=Path, file_okay=False), default=None,
                     help="Where revoke-legacy runs are recorded [default: $AGENTIAM_STATE_DIR, else "
                          "~/.local/state/agentiam/revocations, as `agentiam revoke`]. Use durable storage."),
        click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True,
                     help="text for terminals; json for machines."),
        specs_option, stacks_option,
    ]
    for option in reversed(options):
        func = option(func)
    return func


class _Servers:
    """The adapters a run asks, built only when asked (hvac and boto3 load here, never for `migrate plan`)."""

    def __init__(self, fleet: Fleet, *, vault_addr: str | None, vault_ca_cert: str | None,
                 aws_endpoint_url: str | None, no_vault: bool, no_aws: bool, request_timeout: float, deadline: float,
                 need_vault: bool):
        self.vault: LegacyVault | None = None
        self.aws: LegacyAws | None = None
        self._close: list[Callable[[], None]] = []
        self.deadline = deadline
        self.request_timeout = request_timeout
        self.vault_failed = False  # a Vault call failed already: later optional reads are skipped
        token = os.environ.get("VAULT_TOKEN")
        self._vault_login = (vault_addr or "", token or "", vault_ca_cert)
        if not no_vault and (vault_addr and token):
            from agentiam.migrate.vault_adapter import VaultLegacy

            vault = VaultLegacy(vault_addr, token, ca_cert=vault_ca_cert, timeout=request_timeout, deadline=deadline)
            self.vault, self._close = vault, [vault.close]
        elif not no_vault and need_vault:
            raise ConfigError("set VAULT_ADDR (or --vault-addr) and VAULT_TOKEN to an operator token (the policy: "
                              "docs/migrate.md), or pass --no-vault")
        if not no_aws:
            from agentiam.migrate.aws_adapter import AwsLegacy

            self.aws = AwsLegacy(endpoint_url=aws_endpoint_url, region_name=fleet.plan.region,
                                 timeout=request_timeout, deadline=deadline)

    def close(self) -> None:
        for close in self._close:
            close()


    def audit_ids(self, fleet: Fleet, notes: list[str]) -> dict[str, AuditIds] | None:
        """The targets' entity ids and role-id HMACs (sys/audit-hash), so their failed logins are counted."""
        if self.vault is None or self.vault_failed:
            return None
        from agentiam.audit.vault_ids import fetch_audit_ids

        address, token, ca_cert = self._vault_login
        plan = fleet.plan.model_copy(update={"agents": [t.entry for t in fleet.targets]})
        # Optional: a hung Vault must not spend the run's deadline here; the steps that matter come after.
        budget = min(self.deadline - time.monotonic(), 2 * self.request_timeout + 1)
        try:
            return fetch_audit_ids(plan, address, token, ca_cert=ca_cert, deadline_s=max(0.5, budget)).ids
        except ServerError as exc:
            self.vault_failed = True
            notes.append(f"failed logins not attributed to agents ({exc})")
            return None


def _evidence(fleet: Fleet, servers: _Servers, logs: tuple[str, ...], notes: list[str]) -> LogEvidence | None:
    if not logs:
        return None
    try:
        hmacs = accessor_hmacs(fleet, servers.vault)
    except ServerError as exc:
        servers.vault_failed, hmacs = True, {}
        notes.append(f"legacy token accessors not hashed ({exc}): a legacy token shows in the logs only where the "
                     "audit device does not hash accessors")
    return read_evidence(logs, fleet, hmacs, servers.audit_ids(fleet, notes))


@click.group(epilog="""\b
Examples:
  agentiam migrate plan --cap 5                        # waves by blast radius, lowest risk first
  agentiam migrate status --env prod --logs audit.log --logs cloudtrail/
  agentiam migrate revoke-legacy invoice-reader --env prod --logs audit.log --logs trail.json.gz
""")
def migrate() -> None:
    """Move agents off shared credentials: waves by risk, a 48-hour parallel run, then the legacy ones retired."""


@migrate.command("plan", epilog=f"""\b
Exit codes:
  {EXIT_DONE}  the declared waves (migration.wave) respect the order and the cap
  {EXIT_KEPT}  a spec migrates a riskier agent before a lower-risk one of its team, or a wave is over the cap
  {EXIT_NOTHING}  a spec or stack config could not be read or is invalid
\b
Examples:
  agentiam migrate plan                     # agents with a migration section
  agentiam migrate plan --all --cap 20      # every agent, as if all were migrating
""")
@click.option("--cap", type=click.IntRange(min=1), default=DEFAULT_CAP, show_default=True,
              help="At most this many agents per wave.")
@click.option("--all", "everyone", is_flag=True, help="Plan every agent, not only those with a migration section.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True,
              help="text for terminals; json for machines.")
@click.option("--output", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Write to this file instead of standard output.")
@specs_option
@stacks_option
@handle_user_errors
def plan(cap: int, everyone: bool, fmt: str, output: Path | None, specs_dir: Path, stacks_dir: Path) -> None:
    """Propose migration waves from the agents' blast radius, and check the waves the specs declare."""
    result = plan_waves(specs_dir, stacks_dir, utcnow().date(), cap, everyone)
    write_output(render.plan_json(result) if fmt == "json" else render.plan_text(result), output)
    sys.exit(EXIT_KEPT if result.findings else EXIT_DONE)


@migrate.command("status", epilog=f"""\b
Exit codes:
  {EXIT_DONE}  every asked server answered
  {EXIT_NOTHING}  bad input or configuration
  {EXIT_FAILED}  a server could not be read (the report says what)
\b
Examples:
  agentiam migrate status --env prod --no-vault --no-aws      # from the specs and the records only
  agentiam migrate status --env prod invoice-reader --logs /var/log/vault/audit.log --logs trail/*.json.gz
""")
@click.argument("names", nargs=-1)
@_server_options
@handle_user_errors
def status(names: tuple[str, ...], environment: str, logs: tuple[str, ...], vault_addr: str | None,
           vault_ca_cert: str | None, aws_endpoint_url: str | None, no_vault: bool, no_aws: bool,
           parallel_run: int | None, timeout: float, request_timeout: float, state_dir: Path | None, fmt: str,
           specs_dir: Path, stacks_dir: Path) -> None:
    """Where each agent's migration stands: identity, parallel run, ready, legacy revoked, failures since."""
    now = utcnow()
    fleet = load_fleet(specs_dir, stacks_dir, environment, now.date(), names)
    store = MigrationStore(state_dir or default_state_dir())
    servers = _Servers(fleet, vault_addr=vault_addr, vault_ca_cert=vault_ca_cert, aws_endpoint_url=aws_endpoint_url,
                       no_vault=no_vault, no_aws=no_aws, request_timeout=request_timeout,
                       deadline=time.monotonic() + timeout, need_vault=False)
    notes: list[str] = []
    if servers.vault is None and not no_vault:
        notes.append("Vault not asked (VAULT_ADDR and VAULT_TOKEN unset)")
    try:
        sides = Sides(servers.aws, servers.vault, _evidence(fleet, servers, logs, notes), now,
                      time.monotonic() + timeout)
        statuses = [agent_status(target, sides, store.load(environment, target.entry.agent), parallel_run)
                    for target in fleet.targets]
    finally:
        servers.close()
    stamp = format_timestamp(now)
    text = (render.status_json if fmt == "json" else render.status_text)(statuses, environment, notes, stamp)
    write_output(text, None)
    unread = any(c.state == "failed" for s in statuses for c in s.credentials) or any(
        n.startswith("could not read") for s in statuses for n in s.notes)
    sys.exit(EXIT_FAILED if unread else EXIT_DONE)


@migrate.command("revoke-legacy", epilog=f"""\b
Exit codes:
  {EXIT_DONE}  every legacy credential retired (deactivated, revoked, or found so), each read back
  {EXIT_KEPT}  some kept on purpose: shared with an agent not yet migrated, still in use, or no evidence
     in the logs that this agent used them; nothing failed
  {EXIT_NOTHING}  nothing touched: bad input, the parallel run not started or too short, not confirmed
  {EXIT_FAILED}  a step failed (refused, unreachable, no answer in time, not as expected when read back)
  {EXIT_INTERNAL}  internal error (please report)
\b
Examples:
  export VAULT_ADDR=https://vault.internal:8200 VAULT_TOKEN=...   # an operator token
  agentiam migrate revoke-legacy invoice-reader --env prod --logs audit.log --logs trail.json.gz
  agentiam migrate revoke-legacy invoice-reader --env prod --logs audit.log --force \\
      --reason "INC-4711: the shared key leaked; the agent runs on its identity since Monday" --yes
""")
@click.argument("name")
@click.option("--force", is_flag=True, help="Act before the parallel run has lasted; needs --reason, which is "
              "printed and recorded before anything is touched.")
@click.option("--reason", help="Why --force is needed (recorded with who ran it).")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@_server_options
@handle_user_errors
def revoke_legacy(name: str, force: bool, reason: str | None, yes: bool, environment: str, logs: tuple[str, ...],
                  vault_addr: str | None, vault_ca_cert: str | None, aws_endpoint_url: str | None, no_vault: bool,
                  no_aws: bool, parallel_run: int | None, timeout: float, request_timeout: float,
                  state_dir: Path | None, fmt: str, specs_dir: Path, stacks_dir: Path) -> None:
    """Retire agent NAME's legacy credentials in one environment, after its parallel run: IAM access keys
    deactivated (never deleted), Vault tokens and AppRole roles revoked, every step read back."""
    if reason is not None and not force:
        raise UserError("--reason goes with --force")
    if force and not reason:
        raise UserError("--force needs --reason: why the parallel run may be cut short (printed and recorded)")
    now = utcnow()
    fleet = load_fleet(specs_dir, stacks_dir, environment, now.date(), (name,))
    target = fleet.targets[0]
    store = MigrationStore(state_dir or default_state_dir())
    if force:
        click.echo(Terminal("FORCED by request: {}").format(reason or ""), err=True)
    if not yes:
        subjects = Terminal(", ").join(c.subject for c in target.migration.legacy)
        question = Terminal("Retire the legacy credentials of {} in {} ({})?").format(name, environment, subjects)
        if not click.confirm(str(question), err=True):
            click.echo(Terminal("Not confirmed: nothing was touched."), err=True)
            sys.exit(EXIT_NOTHING)
    deadline = time.monotonic() + timeout
    servers = _Servers(fleet, vault_addr=vault_addr, vault_ca_cert=vault_ca_cert, aws_endpoint_url=aws_endpoint_url,
                       no_vault=no_vault, no_aws=no_aws, request_timeout=request_timeout, deadline=deadline,
                       need_vault=any(c.kind.startswith("vault-") for c in target.migration.legacy))
    notes: list[str] = []
    try:
        sides = Sides(servers.aws, servers.vault, _evidence(fleet, servers, logs, notes), now, deadline)
        report = run_revoke_legacy(target, sides, store, minimum=parallel_run,
                                   force_reason=reason if force else None,
                                   progress=lambda step: _progress(step))  # looked up per step: tests hook it
    except ServerError as exc:
        raise ServerError(f"{exc}; nothing was touched") from exc
    finally:
        servers.close()
    for note in notes:
        click.echo(Terminal("note: {}").format(note), err=True)
    write_output(render.revocation_json(report) if fmt == "json" else render.revocation_text(report), None)
    sys.exit(_exit(report))


def _progress(step: Step) -> None:
    """Each step on stderr as it ends, whatever the format; the report follows on stdout."""
    click.echo(render.step_line(step), err=True)


def _exit(report: LegacyRevocation) -> int:
    if report.failed:
        return EXIT_FAILED
    if report.refused is not None:
        return EXIT_NOTHING
    return EXIT_KEPT if report.kept else EXIT_DONE
