"""`agentiam snapshot`: what the Pulumi program really registers for a stack, as canonical JSON; no cloud, no secret."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from agentiam.cli.common import EXIT_FINDINGS, EXIT_OK, handle_user_errors
from agentiam.environment.load import stack_names
from agentiam.errors import UserError
from agentiam.program import snapshot


def _write(path: Path, text: str) -> None:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UserError(f"{path}: cannot write: {exc.strerror}") from exc


@click.command(epilog="""\b
Examples:
  agentiam snapshot --env dev --output dev.json      # one stack
  agentiam snapshot --all --output-dir snapshots/    # every stack: snapshots/<stack>.json
  agentiam snapshot --all --output-dir base-code/ --code ../main-checkout   # this folder's specs, other code
\b
The program runs under Pulumi's mock runtime exactly as `pulumi up` would run it here: Pulumi.yaml's `main`,
`name` and `stackConfigDir`, no AGENTIAM_* folders. Secret config values are placeholders and every secret is
masked. `agentiam diff --base-code-snapshots/--head-code-snapshots` compares two snapshot folders.
""")
@click.option("--env", "stack", default=None, help="One stack (a Pulumi.<stack>.yaml in the stack config folder).")
@click.option("--all", "every", is_flag=True, help="Every stack of the stack config folder.")
@click.option("--output", "output", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="With --env: the file to write (default: standard output).")
@click.option("--output-dir", "output_dir", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="With --all: the folder to write <stack>.json into (created if missing).")
@click.option("--code", "code_dir", type=click.Path(path_type=Path, file_okay=False, exists=True), default=".",
              show_default=True, help="Folder holding Pulumi.yaml and the program to run (its `components`); "
              "specs and stack configs are read from the working directory.")
@handle_user_errors
def snapshot_command(stack: str | None, every: bool, output: Path | None, output_dir: Path | None,
                     code_dir: Path) -> None:
    """Run the Pulumi program under mocks and write every resource it registers.
    Exit 0 ok, 1 a stack refused, 2 bad input."""
    if every == (stack is not None):
        raise click.UsageError("give exactly one of --env STACK and --all")
    if every and (output is not None or output_dir is None):
        raise click.UsageError("--all writes one file per stack: give --output-dir (not --output)")
    if stack is not None and output_dir is not None:
        raise click.UsageError("--env writes one file: give --output (or nothing, for standard output)")
    project = snapshot.pulumi_project(code_dir)
    snapshot.check_running_code(code_dir)
    data_dir = Path.cwd()
    stacks = stack_names(data_dir / project.stack_config_dir) if every else [stack]
    refused = []
    if output_dir is not None:
        try:
            output_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UserError(f"{output_dir}: cannot create: {exc.strerror}") from exc
    for name in stacks:
        taken = snapshot.take(str(name), project, data_dir)
        text = snapshot.dumps(taken)
        if taken["error"] is not None:
            refused.append((name, taken["error"]))
        if output_dir is not None:
            _write(output_dir / f"{name}.json", text)
        elif output is not None:
            _write(output, text)
        else:
            click.echo(text, nl=False)
    for name, error in refused:
        click.echo(f"stack {name}: the program refused it (recorded in its snapshot):\n{error}", err=True)
    if output_dir is not None:
        click.echo(f"wrote {len(stacks)} snapshot(s) to {output_dir}", err=True)
    sys.exit(EXIT_FINDINGS if refused else EXIT_OK)
