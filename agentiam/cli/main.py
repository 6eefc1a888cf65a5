"""Entry point of the `agentiam` console script.

Commands are imported only when invoked (click's lazy-group pattern): `agentiam validate` must not pay for the
diff engine, the plan's text layout or the Vault/AWS adapters of `revoke`.
"""

from __future__ import annotations

import importlib

import click

from agentiam import __version__

# command name -> "module:attribute"; listed in the order `--help` shows them.
COMMANDS = {
    "validate": "agentiam.cli.validate:validate",
    "plan": "agentiam.cli.plan:plan",
    "diff": "agentiam.cli.diff:diff",
    "snapshot": "agentiam.cli.snapshot:snapshot_command",
    "codeowners": "agentiam.cli.codeowners:codeowners",
    "shard": "agentiam.cli.shard:shard",
    "schema": "agentiam.cli.schema:schema",
    "new": "agentiam.cli.new:new",
    "revoke": "agentiam.cli.revoke:revoke",
    "inventory": "agentiam.cli.inventory:inventory",
    "check": "agentiam.cli.check:check",
    "events": "agentiam.cli.events:events",
    "audit-ids": "agentiam.cli.audit_ids:audit_ids",
    "compliance": "agentiam.cli.compliance:compliance",
    "migrate": "agentiam.cli.migrate:migrate",
    "bootstrap": "agentiam.cli.bootstrap:bootstrap",
    "doctor": "agentiam.cli.doctor:doctor",
}


class LazyGroup(click.Group):
    """A click group that imports a command's module the first time the command is needed."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attribute = target.split(":")
        return getattr(importlib.import_module(module_name), attribute)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """Each command with its whole first sentence, wrapped to the width: click's default cuts it at the
        width left beside the names (`Show the identity plan of one environment: roles, policies,...`)."""
        rows = []
        for name in self.list_commands(ctx):
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(limit=10_000)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 120},
             epilog="""\b
Start with:
  agentiam validate          # check every spec under agent_specs/
  agentiam plan --env dev    # see what will exist in dev
""")
@click.version_option(__version__, prog_name="agentiam")
def cli() -> None:
    """agentiam: identities for autonomous AI agents, as reviewed code."""


def main() -> None:
    cli()
