"""Entry point of the `agentiam` console script."""

from __future__ import annotations

import click

from agentiam import __version__
from agentiam.cli.diff import diff
from agentiam.cli.new import new
from agentiam.cli.plan import plan
from agentiam.cli.revoke import revoke
from agentiam.cli.schema import schema
from agentiam.cli.validate import validate


@click.group(context_settings={"help_option_names": ["-h", "--help"]}, epilog="""\b
Start with:
  agentiam validate          # check every spec under agent_specs/
  agentiam plan --env dev    # see what will exist in dev
""")
@click.version_option(__version__, prog_name="agentiam")
def cli() -> None:
    """agentiam: identities for autonomous AI agents, as reviewed code."""


cli.add_command(validate)
cli.add_command(plan)
cli.add_command(diff)
cli.add_command(schema)
cli.add_command(new)
cli.add_command(revoke)


def main() -> None:
    cli()
