"""`agentiam new`: write a commented skeleton spec for a new agent, whose placeholders `validate` lists."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any

import click
from pydantic import TypeAdapter, ValidationError

from agentiam.cli.common import EXIT_INPUT, handle_user_errors
from agentiam.render.escape import Terminal
from agentiam.spec.json_schema import SCHEMA_FILE_NAME
from agentiam.spec.model import FunctionClass
from agentiam.spec.skeleton import skeleton
from agentiam.spec.types import AGENT_NAME_MAX, AgentName, Email, EnvironmentName, TeamName

_NAME_HELP = f"lowercase letters, digits and '-', 3-{AGENT_NAME_MAX} chars"


def _check(field_type: Any, value: str, hint: str, rule: str) -> None:
    """Refuse a value the spec model would refuse, so the skeleton's only findings are its placeholders."""
    try:
        TypeAdapter(field_type).validate_python(value)
    except ValidationError as exc:
        raise click.BadParameter(f"{value!r}: {rule}", param_hint=hint) from exc


@click.command(epilog="""\b
Examples:
  agentiam new invoice-summariser --function reporting --team billing-platform --sponsor jane.doe@example.com
  agentiam new stripe-refunds --function integration --env dev --env staging \\
      --output agent_specs/billing/stripe-refunds.yaml
  agentiam new log-triage --function monitoring --output -      # print instead of writing
""")
@click.argument("name")
@click.option("--function", "function", required=True, type=click.Choice([f.value for f in FunctionClass]),
              help="Function class: decides the agent's guardrails and permissions boundary.")
@click.option("--team", default="change-me", show_default=True, help="Owning team (slug).")
@click.option("--sponsor", default="change-me@example.com", show_default=True,
              help="E-mail of the human who sponsors the agent.")
@click.option("--env", "environments", multiple=True, default=("dev",), show_default=True,
              help="Environment to deploy to (repeat for several).")
@click.option("--output", type=click.Path(path_type=Path, dir_okay=False, allow_dash=True), default=None,
              help="Where to write the spec (default: agent_specs/<NAME>.yaml; '-' prints it).")
@click.option("--specs", "specs_dir", type=click.Path(path_type=Path, file_okay=False), default="agent_specs",
              show_default=True, help="Folder of agent specs (holds agent-spec.schema.json).")
@handle_user_errors
def new(name: str, function: str, team: str, sponsor: str, environments: tuple[str, ...], output: Path | None,
        specs_dir: Path) -> None:
    """Write a commented skeleton spec for a new agent. Refuses to overwrite an existing file."""
    _check(AgentName, name, "NAME", f"agent names are {_NAME_HELP}")
    _check(TeamName, team, "--team", "team names are lowercase letters, digits and '-'")
    _check(Email, sponsor, "--sponsor", "the sponsor is an e-mail address")
    for env in environments:
        _check(EnvironmentName, env, "--env", "environment names are 2-10 lowercase letters and digits")
    path = output if output is not None else specs_dir / f"{name}.yaml"
    to_stdout = str(path) == "-"
    schema_path = SCHEMA_FILE_NAME if to_stdout else Path(
        os.path.relpath(specs_dir / SCHEMA_FILE_NAME, path.parent if str(path.parent) else ".")).as_posix()
    text = skeleton(name, FunctionClass(function), team=team, sponsor=sponsor,
                    environments=list(dict.fromkeys(environments)), today=dt.date.today(), schema_path=schema_path)
    if to_stdout:
        click.echo(text, nl=False)
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("x", encoding="utf-8") as handle:  # "x": never overwrite, even if created meanwhile
            handle.write(text)
    except OSError as exc:  # a bad --output is the user's to fix: a message and exit 2, not a traceback
        exists = isinstance(exc, FileExistsError) and exc.filename == str(path)
        reason = "already exists; not overwriting it (choose another --output)" if exists else \
            f"cannot write it: {exc.strerror} ({exc.filename})"
        click.echo(f"error: {path} {reason}", err=True)
        raise SystemExit(EXIT_INPUT) from None
    click.echo(str(Terminal("wrote {}; next: replace its placeholders (`agentiam validate {}` lists them)").format(
        path, path)))  # str: click appends its newline with `+`, which Terminal text would escape
