"""`agentiam validate`: check specs against the schema and every guardrail."""

from __future__ import annotations

import datetime as dt
import os
import sys
from pathlib import Path

import click

from agentiam import project
from agentiam.cli.common import exit_code, format_option, handle_user_errors, stacks_option, today_option
from agentiam.render import findings as render_findings


def _usable_cpus() -> int:
    """CPUs this process may run on (its affinity where the OS has one, as on Linux; else every CPU)."""
    affinity = getattr(os, "sched_getaffinity", None)
    return len(affinity(0)) if affinity is not None else os.cpu_count() or 1


@click.command(epilog="""\b
Examples:
  agentiam validate                          # every spec under agent_specs/
  agentiam validate agent_specs/billing      # one folder
  agentiam validate --format sarif > agentiam.sarif   # code-scanning annotations
  agentiam validate --today 2027-03-01       # what will have expired by then
  agentiam validate --jobs 1                 # one process (default: one worker per CPU for large fleets)
""")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path, exists=True))
@format_option(render_findings.FORMATS, "text",
               help="text for terminals, json for machines, sarif for code-scanning annotations on the spec lines.")
@click.option("--jobs", type=click.IntRange(min=0), default=0, show_default=True,
              help="Worker processes parsing and checking files; 0: one per CPU this process may use. Only a "
                   "fleet of more than 256 specs starts any; findings are the same for every value.")
@today_option
@stacks_option
@handle_user_errors
def validate(paths: tuple[Path, ...], fmt: str, jobs: int, today: dt.date | None, stacks_dir: Path) -> None:
    """Validate agent specs: schema, guardrails, environment facts. Exit 0 ok, 1 violations, 2 unreadable input."""
    # One worker per usable CPU measured fastest on 2 CPUs, even loaded by other jobs (docs/benchmarks.md).
    workers = jobs or _usable_cpus()
    result = project.validate(list(paths) or [project.DEFAULT_SPECS_DIR], stacks_dir, today, keep_specs=False,
                              jobs=workers)
    click.echo(render_findings.render(fmt, result.findings, result.files_checked), nl=False)
    sys.exit(exit_code(result.findings))
