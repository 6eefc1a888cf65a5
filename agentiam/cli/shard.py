"""`agentiam shard`: write the stack files splitting an environment into stacks of at most N agents."""

from __future__ import annotations

import shlex
from pathlib import Path

import click

from agentiam.cli.common import handle_user_errors, specs_option, stacks_option
from agentiam.deploy.shard import environment_agents, plan_shards, write_shards
from agentiam.render.escape import Terminal


@click.command(epilog="""\b
Examples:
  agentiam shard --env prod --max-agents 800            # write stacks/Pulumi.prod-<i>.yaml as needed
  agentiam shard --env prod --max-agents 800 --check    # CI: exit 1 if the files are not as they should be
""")
@click.option("--env", "environment", required=True, help="Environment to split (its `agentiam:environment.name`).")
@click.option("--max-agents", type=click.IntRange(min=1), required=True,
              help="Most agents one stack may provision; the shard count grows until the fullest shard fits.")
@click.option("--check", is_flag=True, help="Write nothing; exit 1 if any file would be created or changed.")
@specs_option
@stacks_option
@handle_user_errors
def shard(environment: str, max_agents: int, check: bool, specs_dir: Path, stacks_dir: Path) -> None:
    """Split an environment across stacks of at most --max-agents agents, writing their stack config files.

    Only `selection` changes in existing stack files; new shards copy the owner's config without its encrypted
    values. The shard count never shrinks, and stays as it is while every shard fits."""
    agents = environment_agents(specs_dir, stacks_dir, environment)
    command = shlex.join(["agentiam", "shard", "--env", environment, "--max-agents", str(max_agents)])
    layout = plan_shards(environment, max_agents, agents, stacks_dir, command)
    if not check:
        write_shards(layout)
    verb = {"created": "would create", "updated": "would update"} if check else {}
    for shard_file in layout.files:
        click.echo(str(Terminal("{}  {} (shard {}, {} agents)").format(
            verb.get(shard_file.action, shard_file.action), shard_file.path, shard_file.shard_index,
            f"{shard_file.agents:,}")))
        for key in shard_file.dropped_secrets if not check else ():
            click.echo(str(Terminal("    then: pulumi config set --secret --stack {} {} '...'").format(
                shard_file.stack, key.split(":", 1)[-1])))
    click.echo(str(Terminal("{}: {} agents in {} stack(s) of at most {}{}").format(
        layout.environment, f"{layout.agents:,}", layout.shard_count, f"{max(f.agents for f in layout.files):,}",
        f"; {layout.moved:,} agent(s) move to another stack (docs/fleet.md#sharding)" if layout.moved else "")))
    if check and layout.changed:
        raise SystemExit(1)
