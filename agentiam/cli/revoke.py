"""`agentiam revoke`: the kill switch. Cuts one agent off on Vault and AWS now and reports each step."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path

import click

from agentiam.cli.common import (EXIT_INTERNAL, format_option, handle_user_errors, specs_option, stacks_option,
                                 vault_ca_cert_option)
from agentiam.errors import ConfigError, UserError
from agentiam.revoke import (DEFAULT_TIMEOUT, Outcome, Remaining, Revocation, Step, agent_entry,
                             legacy_credentials_warning, revoke as run_revoke)
from agentiam.render.escape import Terminal
from agentiam.revoke.state import PendingStore, default_state_dir

EXIT_REVOKED = 0  # every step done: the agent is cut off (with --resume: nothing left pending)
EXIT_NOTHING_ATTEMPTED = 2  # stopped before any server was asked: bad input or config, or not confirmed
EXIT_INCOMPLETE = 4  # tried, and at least one step is not done: partly revoked, see the report

EPILOG = f"""\b
Exit codes:
  {EXIT_REVOKED}  fully revoked: every step revoked or found nothing left
  {EXIT_NOTHING_ATTEMPTED}  nothing attempted: bad input or configuration, or not confirmed
  {EXIT_INCOMPLETE}  partly revoked: a step failed, did not answer in time, or the server does not know
     the agent; the report says which, the record is kept for --resume
  {EXIT_INTERNAL}  internal error (please report)
\b
Examples:
  export VAULT_ADDR=https://vault.internal:8200 VAULT_TOKEN=...   # an operator token
  agentiam revoke invoice-reader --env prod               # asks for confirmation
  agentiam revoke invoice-reader --env prod --yes --format json
  agentiam revoke --resume --yes                          # finish what earlier runs left (cron-safe)
"""


def _single_line(text: str) -> str:
    """Any detail on one table line, whatever a server put in it (Vault's own errors are already one line)."""
    return " ".join(text.split())


def _user_hint(remaining: Remaining) -> str:
    """Where to find the PostgreSQL user of a lease Vault could not revoke.

    OpenBao's default PostgreSQL user name ends with the Unix second it was created
    (`v-<display>-<role>-<random>-<unix time>`), which is the lease's issue time or the second before.
    """
    if not remaining.issued:
        return ""
    import datetime as dt

    second = int(dt.datetime.fromisoformat(remaining.issued.replace("Z", "+00:00")).timestamp())
    return (f"find it: SELECT rolname, rolvaliduntil FROM pg_roles WHERE rolname LIKE 'v-%-{second}' "
            f"OR rolname LIKE 'v-%-{second - 1}'")


def render_text(report: Revocation, record: Path | None = None) -> str:
    """The step table, what is still alive and what to do next; nothing secret (paths, names, counts, lease ids).

    Terminal text (`agentiam.render.escape`): the spec's file name, server messages and every other value are shown
    with escapes for control and invisible characters, so none can recolour the terminal or forge a line."""
    rows = [tuple(Terminal.value(cell) for cell in ("SYSTEM", "STEP", "TARGET", "RESULT", "AFTER", "DETAIL"))]
    rows += [tuple(Terminal.value(cell) for cell in (s.system, s.action, s.target, s.outcome.value,
                                                     f"{s.seconds:.2f}s", _single_line(s.detail)))
             for s in report.steps]
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    where = Terminal(" on {}").format(report.vault_addr) if report.vault_addr else Terminal("")
    lines: list[str] = [Terminal("Revoking {} in {} (identity {}){}, cut-off {}").format(
        report.agent, report.environment, report.identity_name, where, report.cutoff), Terminal("")]
    for row in rows:  # cells are escaped before they are padded, so the columns line up as shown
        cells = [Terminal.value(cell.ljust(widths[i]) if i < 5 else cell) for i, cell in enumerate(row)]
        lines.append(Terminal("  {}").format(Terminal("  ").join(cells)).rstrip())
    lines.append(Terminal(""))
    undone = [s for s in report.steps if s.outcome not in (Outcome.REVOKED, Outcome.ALREADY)]
    if report.unknown_to_vault:
        lines.append(Terminal("This Vault ({}) does not know agent {} (no identity entity {}): wrong VAULT_ADDR, or "
                              "the stack was never applied to it. Nothing was revoked on Vault.").format(
            report.vault_addr, report.agent, report.identity_name))
    if undone:
        lines.append(Terminal("{} of {} step(s) not done: the agent may still have access.").format(
            len(undone), len(report.steps)))
        for item in report.remaining:
            until = (Terminal("at most until {}").format(item.expires) if item.expires_is_bound
                     else Terminal("until {}").format(item.expires or "?"))
            lines.append(Terminal("  Still alive: {} of lease {} (role {}), created {}, password valid {}; {}").format(
                item.kind, item.lease_id, item.role, item.issued or "?", until, _user_hint(item)))
        if record is not None:
            lines.append(Terminal("Recorded in {}. Fix the cause, then `agentiam revoke --resume` (safe to repeat; "
                                  "run it on a schedule to finish unattended).").format(str(record)))
    else:
        lines.append(Terminal("All {} steps done: the agent's tokens, logins, database users and AWS sessions are "
                              "cut off.").format(len(report.steps)))
    if report.status_in_spec == "active":
        lines.append(Terminal("Next: set `status: revoked` in {} and merge it, so the next `pulumi up` keeps the "
                              "agent revoked (an active spec would re-enable its entity).").format(report.source_file))
    else:
        lines.append(Terminal("The spec already says `status: {}`: `pulumi up` keeps it that way.").format(
            report.status_in_spec))
    return "\n".join(lines) + "\n"


def _render_text(reports: list[tuple[Revocation, Path | None]], as_list: bool, empty: str) -> str:
    return "\n".join(render_text(report, record) for report, record in reports) if reports else empty


def _render_json(reports: list[tuple[Revocation, Path | None]], as_list: bool, empty: str) -> str:
    documents = [dict(report.to_json(), pending_record=str(record) if record else None) for report, record in reports]
    # One agent, one object; --resume prints the list of what it ran (possibly empty).
    return json.dumps(documents if as_list else documents[0], indent=2, sort_keys=True) + "\n"


FORMATS = {"text": _render_text, "json": _render_json}  # by the name `--format` takes


@click.command(epilog=EPILOG)
@click.argument("name", required=False)
@click.option("--env", "stack", help="Stack / environment (a stacks/Pulumi.<env>.yaml must exist). Required unless "
              "--resume.")
@click.option("--resume", is_flag=True, help="Run again every revocation an earlier run left unfinished (recorded in "
              "the state folder), optionally only NAME and/or --env; each record is deleted once complete.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--vault-addr", envvar="VAULT_ADDR", help="Vault address (default: $VAULT_ADDR). The token is read "
              "from $VAULT_TOKEN only, so it never lands in shell history or the process list.")
@vault_ca_cert_option
@click.option("--aws-endpoint-url", help="IAM endpoint (tests, e.g. a moto server); default: AWS.")
@click.option("--no-aws", is_flag=True, help="Skip the AWS kill switch (Vault steps only).")
@click.option("--timeout", type=click.FloatRange(min=1), default=DEFAULT_TIMEOUT, show_default=True,
              help="Seconds every step gets; a step without an answer by then is reported FAILED and kept for "
                   "--resume (the others are not held up: all steps run at once).")
@click.option("--state-dir", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Where unfinished revocations are recorded [default: $AGENTIAM_STATE_DIR, else "
                   "~/.local/state/agentiam/revocations]. Use durable storage the scheduled --resume also sees.")
@format_option(FORMATS, "text", help="text: a table of steps; json: the same report for machines.")
@specs_option
@stacks_option
@handle_user_errors
def revoke(name: str | None, stack: str | None, resume: bool, yes: bool, vault_addr: str | None,
           vault_ca_cert: str | None, aws_endpoint_url: str | None, no_aws: bool, timeout: float,
           state_dir: Path | None, fmt: str, specs_dir: Path, stacks_dir: Path) -> None:
    """Revoke agent NAME in one environment now: entity, secret ids, leases, tokens, AWS sessions, all at once."""
    store = PendingStore(state_dir or default_state_dir())
    token = os.environ.get("VAULT_TOKEN")
    if not token:
        raise ConfigError("set VAULT_TOKEN to an operator token (and VAULT_ADDR or --vault-addr)")
    if resume:
        targets: list[tuple[str, str, str | None]] = [(p.agent, p.stack, vault_addr or p.vault_addr)
                                                      for p in store.pending(None, name)
                   if stack is None or stack in (p.stack, p.environment)]
        if not targets:
            _emit(fmt, [], as_list=True, empty=f"Nothing pending under {store.root}.\n")
            sys.exit(EXIT_REVOKED)
    else:
        if not name or not stack:
            raise UserError("give the agent NAME and --env ENV (or --resume)")
        targets = [(name, stack, vault_addr)]
    plans = []
    skipped = False
    for agent, stack_name, addr in targets:
        try:
            plans.append((agent_entry(agent, stack_name, specs_dir, stacks_dir), stack_name, addr))
        except UserError as exc:
            if not resume:
                raise
            # One record that cannot be resumed (its spec is gone or broken) must not hold up the others.
            click.echo(f"warning: cannot resume {agent} in {stack_name}: {exc}", err=True)
            skipped = True
    if any(not addr for _, _, addr in plans):
        raise ConfigError("set VAULT_ADDR (or --vault-addr) and VAULT_TOKEN to an operator token")
    for (entry, _), _, _ in plans:
        if (warning := legacy_credentials_warning(entry)) is not None:
            click.echo(f"warning: {warning}", err=True)
    if not yes:
        who = ", ".join(f"{entry.agent} ({entry.identity_name}) in {scope.environment}"
                        for (entry, scope), _, _ in plans)
        if not click.confirm(f"Revoke {who} now?", err=True):
            click.echo("Not confirmed: nothing was revoked.", err=True)
            sys.exit(EXIT_NOTHING_ATTEMPTED)
    # hvac and boto3 only load for this command: validate/plan stay fast (tests/cli/test_import_isolation.py).
    from agentiam.revoke.aws_adapter import AwsRevoker
    from agentiam.revoke.vault_adapter import VaultRevoker

    reports: list[tuple[Revocation, Path | None]] = []
    for (entry, scope), stack_name, addr in plans:
        vault = VaultRevoker(str(addr), token, ca_cert=vault_ca_cert)
        aws = None if no_aws else AwsRevoker(endpoint_url=aws_endpoint_url, region_name=scope.region)
        try:
            report = run_revoke(entry, scope, vault, aws, timeout=timeout,
                                progress=_progress(entry.agent) if fmt == "text" else None)
        finally:
            vault.close()
        try:
            record = store.record(report, stack_name)
        except ConfigError as exc:
            # The servers were asked already: say so loudly, but the report and the exit code must still come out.
            click.echo(f"warning: {exc}", err=True)
            record = None
        reports.append((report, record))
    _emit(fmt, reports, as_list=resume)
    sys.exit(EXIT_REVOKED if not skipped and all(report.complete for report, _ in reports) else EXIT_INCOMPLETE)


def _progress(agent: str) -> Callable[[Step], None]:
    """Each step's outcome on stderr as it ends: the AWS deny and the entity disable show within a second while a
    slow step (a database that does not answer) runs on; the report follows on stdout."""

    def show(step: Step) -> None:
        click.echo(f"[{step.seconds:6.2f}s] {agent}: {step.system} {step.action}: {step.outcome.value}", err=True)

    return show


def _emit(fmt: str, reports: list[tuple[Revocation, Path | None]], *, as_list: bool, empty: str = "") -> None:
    click.echo(FORMATS[fmt](reports, as_list, empty), nl=False)
