"""`agentiam doctor`: a read-only preflight of one stack against its live Vault / OpenBao and AWS account."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import click

from agentiam import project
from agentiam.cli.common import vault_ca_cert_option, EXIT_FINDINGS, EXIT_OK, handle_user_errors, specs_option, stacks_option
from agentiam.errors import ConfigError
from agentiam.render.escape import Terminal

if TYPE_CHECKING:
    from agentiam.deploy.doctor import Report

DEFAULT_TIMEOUT = 60.0

EPILOG = """\b
Exit codes:
  0  every check passed (warnings allowed, unless --strict)
  1  a check failed (or, with --strict, warned): the report says what to fix
  2  nothing was checked: bad input or configuration
\b
Examples:
  export VAULT_ADDR=https://vault.internal:8200 VAULT_TOKEN=...   # the deployer's token
  agentiam doctor --env dev
  agentiam doctor --env prod --role auditor --strict             # the scheduled job's read-only token
  agentiam doctor --env dev --no-aws                             # Vault only
\b
Read-only: Vault is only read (GET, LIST, sys/capabilities-self, auth/token/lookup-self), AWS only through
Get/List calls. Every call has a deadline (--timeout bounds the whole run).
"""


def _padded(cells: list[Terminal], widths: list[int]) -> Terminal:
    space = Terminal(" ")
    padded = [cell + Terminal("").join([space] * (widths[i] - len(cell))) for i, cell in enumerate(cells)]
    return (Terminal("  ") + Terminal("  ").join(padded)).rstrip()


def render_text(report: Report) -> str:
    """The checks as a table, each with what was seen and, unless it passed, the fix; nothing secret."""
    from agentiam.deploy.doctor import Status

    header = [Terminal("RESULT"), Terminal("ID"), Terminal("SYSTEM"), Terminal("CHECK")]
    rows = [[Terminal.value(c.status.value), Terminal.value(c.id), Terminal.value(c.system), Terminal.value(c.title)]
            for c in report.checks]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    where = Terminal(" on {}").format(report.vault_addr) if report.vault_addr else Terminal("")
    lines = [Terminal("agentiam doctor: stack {} (environment {}){}").format(report.stack, report.environment, where),
             Terminal(""), _padded(header, widths)]
    for row, check in zip(rows, report.checks, strict=True):
        lines += [_padded(row, widths), Terminal("      {}").format(check.detail)]
        if check.fix and check.status is not Status.PASS:
            lines.append(Terminal("      fix: {}").format(check.fix))
    skipped = sum(c.status is Status.SKIP for c in report.checks)
    lines += [Terminal(""), Terminal("{} check(s): {} failed, {} warning(s), {} not run.").format(
        len(report.checks), len(report.failed), len(report.warned), skipped)]
    return "\n".join(lines) + "\n"


@click.command(epilog=EPILOG)
@click.option("--env", "stack", required=True, help="Stack / environment (a stacks/Pulumi.<env>.yaml must exist).")
@click.option("--vault-addr", envvar="VAULT_ADDR", help="Vault address (default: $VAULT_ADDR). The token is read "
              "from $VAULT_TOKEN only: the deployer's, the one `pulumi up` uses.")
@vault_ca_cert_option
@click.option("--aws-endpoint-url", help="AWS endpoint for IAM and STS (tests, e.g. a moto server); default: AWS.")
@click.option("--no-aws", is_flag=True, help="Skip the AWS checks.")
@click.option("--timeout", type=click.FloatRange(min=1), default=DEFAULT_TIMEOUT, show_default=True,
              help="Seconds the whole run may take; a server without an answer by then fails its check and its "
                   "other checks are not run.")
@click.option("--role", type=click.Choice(["deployer", "auditor"]), default="deployer", show_default=True,
              help="Whose token VAULT_TOKEN is: the deployer's (`pulumi up`) or the auditor's (the scheduled, "
                   "read-only checks); V05 checks that token holds its policy and no more.")
@click.option("--strict", is_flag=True, help="Exit 1 on warnings too.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="text: a table with each fix; json: the same report for machines.")
@specs_option
@stacks_option
@handle_user_errors
def doctor(stack: str, vault_addr: str | None, vault_ca_cert: str | None, aws_endpoint_url: str | None,
           no_aws: bool, timeout: float, role: str, strict: bool, fmt: str, specs_dir: Path,
           stacks_dir: Path) -> None:
    """Check a stack's live Vault and AWS account before `pulumi up`: each check passes, warns or fails with its fix."""
    plan, _ = project.compile_plan(stack, specs_dir, stacks_dir)
    token = os.environ.get("VAULT_TOKEN")
    if vault_addr and not token:
        raise ConfigError("set VAULT_TOKEN to the deployer's token (the one `pulumi up` uses)")
    deadline = time.monotonic() + timeout
    # hvac and boto3 load only when this command runs (validate/plan, and `doctor --help`, stay fast).
    from agentiam.deploy.doctor import run_doctor, to_json
    from agentiam.deploy.doctor_aws import DoctorAws
    from agentiam.deploy.doctor_vault import DoctorVault

    vault = DoctorVault(vault_addr, str(token), ca_cert=vault_ca_cert, deadline=deadline) if vault_addr else None
    aws = None if no_aws else DoctorAws(region=plan.region, endpoint_url=aws_endpoint_url)
    try:
        report = run_doctor(plan, stack, vault, aws, deadline=deadline, role=role)
    finally:
        if vault is not None:
            vault.close()
    click.echo(to_json(report) if fmt == "json" else render_text(report), nl=False)
    bad = report.failed or (strict and report.warned)
    sys.exit(EXIT_FINDINGS if bad else EXIT_OK)
