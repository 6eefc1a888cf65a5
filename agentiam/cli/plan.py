"""`agentiam plan`: what will exist for every agent in one environment."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import click

from agentiam import project
from agentiam.cli.common import handle_user_errors, specs_option, stacks_option, today_option
from agentiam.plan.build import plan_json
from agentiam.render import plan_table


@click.command(epilog="""\b
Examples:
  agentiam plan --env dev                    # every identity, its grants, the platform, a summary
  agentiam plan --env prod --format json     # the full plan, as the Pulumi program applies it
  agentiam plan --env prod --today 2027-03-01   # plan as of a date (expiry judged then)
""")
@click.option("--env", "stack", required=True, help="Stack / environment (a stacks/Pulumi.<env>.yaml must exist).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="text: every agent with every grant, the environment-wide resources and a summary, laid out "
                   "to the terminal's width (COLUMNS) without cutting a value; json: the complete plan "
                   "(byte-identical for the same input).")
@today_option
@specs_option
@stacks_option
@handle_user_errors
def plan(stack: str, fmt: str, today: dt.date | None, specs_dir: Path, stacks_dir: Path) -> None:
    """Show the identity plan of one environment: roles, policies, Vault roles, lifetimes."""
    identity_plan, warnings = project.compile_plan(stack, specs_dir, stacks_dir, today)
    for warning in warnings:  # on stderr, so `--format json` stays a clean document on stdout
        click.echo(warning.render(), err=True)
    if fmt == "json":
        click.echo(plan_json(identity_plan), nl=False)
    else:
        click.echo(plan_table.render_plan(identity_plan, shutil.get_terminal_size().columns), nl=False)
