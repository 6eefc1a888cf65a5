"""`agentiam inventory`: every agent identity with what it holds, reaches and could do if compromised; with `--live`,
what really exists on Vault and AWS next to the plan (undeclared, long-lived, drifted)."""

from __future__ import annotations

import datetime as dt
import os
import sys
from pathlib import Path

import click
from click.core import ParameterSource

from agentiam.cli.common import (EXIT_OK, format_option, formats, handle_user_errors, specs_option, stacks_option,
                                 today_option, write_output)
from agentiam.render import inventory_csv, inventory_json, inventory_markdown, inventory_text
from agentiam.inventory.build import SORT_KEYS, compile_inventory, select
from agentiam.inventory.model import TIER_ORDER, Inventory
from agentiam.spec.model import FunctionClass

FORMATS = formats(inventory_text, inventory_json, inventory_csv, inventory_markdown)
TIERS = [tier.value for tier in TIER_ORDER]
LIVE_ONLY = ("vault_addr", "vault_ca_cert", "aws_endpoint_url", "no_vault", "no_aws", "no_tokens", "max_key_age",
             "request_timeout", "scan_timeout")


def _render(inventory: Inventory, fmt: str) -> str:
    return FORMATS[fmt](inventory)


write = write_output  # the report on standard output, or in `output`


@click.command(epilog="""\b
Examples:
  agentiam inventory                                   # every agent x environment, worst blast radius first
  agentiam inventory --env prod --min-tier high        # what a compromise in prod would hurt most
  agentiam inventory --team billing-platform --format csv --output billing.csv
  agentiam inventory --format markdown --output inventory.md   # a page for compliance
\b
Live (one environment; operator token in VAULT_TOKEN, AWS from the standard chain):
  agentiam inventory --env prod --live                 # undeclared, long-lived and drifted identities
  agentiam inventory --env prod --live --format json --output drift.json
\b
Exit codes: 0 in sync (offline: always, unless specs are invalid); 1 findings (--live: something undeclared,
long-lived or drifted); 2 could not read (bad input, or a server that could not be read: the report says what
was and was not checked).
""")
@click.option("--env", "envs", multiple=True, help="Environment (repeatable; default: every stack config's). "
              "--live takes exactly one.")
@click.option("--team", "teams", multiple=True, help="Only agents of this owning team (repeatable).")
@click.option("--function", "functions", multiple=True, type=click.Choice([f.value for f in FunctionClass]),
              help="Only agents of this function class (repeatable).")
@click.option("--tier", "tiers", multiple=True, type=click.Choice(TIERS), help="Only identities in this "
              "blast-radius tier (repeatable).")
@click.option("--min-tier", type=click.Choice(TIERS), default=None, help="Only identities in this tier or worse.")
@click.option("--agent", "agents", multiple=True, help="Only this agent (repeatable).")
@click.option("--sort", type=click.Choice(SORT_KEYS), default="tier", show_default=True,
              help="Order of the entries (tier: worst first).")
@format_option(FORMATS, "text",
              help="text: a table and details for terminals; json for machines; csv for spreadsheets and SIEMs; "
                   "markdown: a page for compliance readers.")
@click.option("--output", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Write to this file instead of standard output.")
@click.option("--live", is_flag=True, help="Read the environment's Vault and AWS and compare them with the plan.")
@click.option("--vault-addr", envvar="VAULT_ADDR", help="--live: Vault address (default: $VAULT_ADDR). The token is "
              "read from $VAULT_TOKEN only, so it never lands in shell history or the process list.")
@click.option("--vault-ca-cert", envvar="VAULT_CACERT", type=click.Path(dir_okay=False, exists=True),
              help="--live: CA bundle verifying Vault's TLS certificate (default: $VAULT_CACERT).")
@click.option("--aws-endpoint-url", help="--live: IAM endpoint (tests, e.g. a moto server); default: AWS.")
@click.option("--no-vault", is_flag=True, help="--live: do not read Vault.")
@click.option("--no-aws", is_flag=True, help="--live: do not read AWS.")
@click.option("--no-tokens", is_flag=True, help="--live: skip the scan of every Vault token (one lookup per token).")
@click.option("--max-key-age", type=click.IntRange(min=1), default=90, show_default=True,
              help="--live: days after which an IAM access key is reported as high risk.")
@click.option("--request-timeout", type=click.FloatRange(min=0.1), default=10.0, show_default=True,
              help="--live: seconds one request to Vault or AWS may take (connect and each read).")
@click.option("--scan-timeout", type=click.FloatRange(min=1), default=900.0, show_default=True,
              help="--live: seconds the whole scan may take; what is left unread is reported (exit 2).")
@today_option
@specs_option
@stacks_option
@handle_user_errors
def inventory(envs: tuple[str, ...], teams: tuple[str, ...], functions: tuple[str, ...], tiers: tuple[str, ...],
              min_tier: str | None, agents: tuple[str, ...], sort: str, fmt: str, output: Path | None, live: bool,
              vault_addr: str | None, vault_ca_cert: str | None, aws_endpoint_url: str | None, no_vault: bool,
              no_aws: bool, no_tokens: bool, max_key_age: int, request_timeout: float, scan_timeout: float,
              today: dt.date | None, specs_dir: Path, stacks_dir: Path) -> None:
    """List every agent identity: function, owner, credentials, reach and blast radius; --live: find drift."""
    if live:
        if len(envs) != 1:
            raise click.UsageError("--live reads one environment's servers: give exactly one --env")
        from agentiam.cli.inventory_live import run_live

        code = run_live(envs[0], fmt=fmt, output=output, vault_addr=vault_addr, vault_token=os.environ.get(
            "VAULT_TOKEN"), vault_ca_cert=vault_ca_cert, aws_endpoint_url=aws_endpoint_url, no_vault=no_vault,
            no_aws=no_aws, no_tokens=no_tokens, max_key_age=max_key_age, request_timeout=request_timeout,
            scan_timeout=scan_timeout, today=today, specs_dir=specs_dir, stacks_dir=stacks_dir)
        sys.exit(code)
    ctx = click.get_current_context()
    given = [f"--{name.replace('_', '-')}" for name in LIVE_ONLY
             if ctx.get_parameter_source(name) is ParameterSource.COMMANDLINE]
    if given:
        raise click.UsageError(f"{', '.join(given)} only apply with --live")
    result, warnings = compile_inventory(specs_dir, stacks_dir, envs or None, today)
    for warning in warnings:  # on stderr, so the report on stdout stays a clean document
        click.echo(warning.render(), err=True)
    result = select(result, teams=teams, functions=functions, tiers=tiers, min_tier=min_tier, agents=agents,
                    sort=sort)
    write(_render(result, fmt), output)
    sys.exit(EXIT_OK)
