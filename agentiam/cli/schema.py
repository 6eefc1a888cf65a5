"""`agentiam schema`: print the JSON Schema of an agent spec."""

from __future__ import annotations

import click

from agentiam.spec.json_schema import spec_json_schema_text


@click.command(epilog="""\b
Examples:
  agentiam schema                                       # print it
  agentiam schema > agent_specs/agent-spec.schema.json  # refresh the committed copy editors use
""")
def schema() -> None:
    """Print the JSON Schema of an agent spec (generated from the spec model)."""
    click.echo(spec_json_schema_text(), nl=False)
