"""`agentiam revoke`: the kill switch. Cuts one agent off on Vault and AWS now and reports each step."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from agentiam.cli.common import EXIT_INPUT, handle_user_errors, specs_option, stacks_option
from agentiam.errors import ConfigError
from agentiam.revoke import Outcome, Revocation, agent_entry, revoke as run_revoke


def render_text(report: Revocation) -> str:
    """The step table and what to do next; nothing secret (paths, names, counts)."""
    rows = [("SYSTEM", "STEP", "TARGET", "RESULT", "DETAIL")]
    rows += [(s.system, s.action, s.target, s.outcome.value, s.detail) for s in report.steps]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = [f"Revoking {report.agent} in {report.environment} (identity {report.identity_name}), "
             f"cut-off {report.cutoff}", ""]
    for row in rows:
        lines.append("  " + "  ".join(cell.ljust(widths[i]) if i < 4 else cell for i, cell in enumerate(row)).rstrip())
    lines.append("")
    failed = [s for s in report.steps if s.outcome is Outcome.FAILED]
    if failed:
        lines.append(f"{len(failed)} of {len(report.steps)} step(s) FAILED: the agent may still have access. "
                     "Fix the cause and run the command again (it is safe to repeat).")
    else:
        lines.append(f"All {len(report.steps)} steps done: the agent's tokens, logins, database users and AWS "
                     "sessions are cut off.")
    if report.status_in_spec == "active":
        lines.append(f"Next: set `status: revoked` in {report.source_file} and merge it, so the next "
                     "`pulumi up` keeps the agent revoked (an active spec would re-enable its entity).")
    else:
        lines.append(f"The spec already says `status: {report.status_in_spec}`: `pulumi up` keeps it that way.")
    return "\n".join(lines) + "\n"


@click.command(epilog="""\b
Examples:
  export VAULT_ADDR=https://vault.internal:8200 VAULT_TOKEN=...   # an operator token
  agentiam revoke invoice-reader --env prod               # asks for confirmation
  agentiam revoke invoice-reader --env prod --yes --format json
""")
@click.argument("name")
@click.option("--env", "stack", required=True, help="Stack / environment (a stacks/Pulumi.<env>.yaml must exist).")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--vault-addr", envvar="VAULT_ADDR", help="Vault address (default: $VAULT_ADDR). The token is read "
              "from $VAULT_TOKEN only, so it never lands in shell history or the process list.")
@click.option("--vault-ca-cert", envvar="VAULT_CACERT", type=click.Path(dir_okay=False, exists=True),
              help="CA bundle verifying Vault's TLS certificate (default: $VAULT_CACERT).")
@click.option("--aws-endpoint-url", help="IAM endpoint (tests, e.g. a moto server); default: AWS.")
@click.option("--no-aws", is_flag=True, help="Skip the AWS kill switch (Vault steps only).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="text: a table of steps; json: the same report for machines.")
@specs_option
@stacks_option
@handle_user_errors
def revoke(name: str, stack: str, yes: bool, vault_addr: str | None, vault_ca_cert: str | None,
           aws_endpoint_url: str | None, no_aws: bool, fmt: str, specs_dir: Path, stacks_dir: Path) -> None:
    """Revoke agent NAME in one environment now: entity, secret ids, leases, tokens, AWS sessions."""
    entry, plan = agent_entry(name, stack, specs_dir, stacks_dir)
    token = os.environ.get("VAULT_TOKEN")
    if not vault_addr or not token:
        raise ConfigError("set VAULT_ADDR (or --vault-addr) and VAULT_TOKEN to an operator token")
    if not yes:
        click.confirm(f"Revoke {name} ({entry.identity_name}) in {plan.environment} now?", abort=True, err=True)
    # hvac and boto3 only load for this command: validate/plan stay fast (STYLE.md).
    from agentiam.revoke.vault_adapter import VaultRevoker

    vault = VaultRevoker(vault_addr, token, ca_cert=vault_ca_cert)
    aws = None
    if not no_aws:
        from agentiam.revoke.aws_adapter import AwsRevoker

        aws = AwsRevoker(endpoint_url=aws_endpoint_url, region_name=plan.region)
    try:
        report = run_revoke(entry, plan, vault, aws)
    finally:
        vault.close()
    if fmt == "json":
        click.echo(json.dumps(report.to_json(), indent=2, sort_keys=True))
    else:
        click.echo(render_text(report), nl=False)
    if not report.ok:
        sys.exit(EXIT_INPUT)
