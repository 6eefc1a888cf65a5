"""`agentiam compliance`: per control, what agentiam enforces, the evidence per agent, and the gaps."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from agentiam.check.history import History
from agentiam.check.project import load_project
from agentiam.cli.common import (format_option, handle_user_errors, specs_option, stacks_option, today_option,
                                 write_output)
from agentiam.compliance.evidence import build_report, read_check_report
from agentiam.compliance.render import FORMATS, render


@click.command(epilog="""\b
Examples:
  agentiam compliance --format html --output compliance.html
  agentiam check audit.log --format json --output check.json
  agentiam compliance --env prod --check-report check.json --format markdown
""")
@click.option("--env", "environments", multiple=True, help="Only this environment (repeatable; default: all).")
@click.option("--check-report", type=click.Path(path_type=Path, dir_okay=False),
              help="`agentiam check --format json` output: activity per agent and open findings (gaps).")
@format_option(FORMATS, "markdown", help="markdown for a wiki or an issue, html for a page, json for machines.")
@click.option("--output", type=click.Path(path_type=Path, dir_okay=False), help="Write here (default: stdout).")
@today_option
@specs_option
@stacks_option
@handle_user_errors
def compliance(environments: tuple[str, ...], check_report: Path | None, fmt: str, output: Path | None,
               today: dt.date | None, specs_dir: Path, stacks_dir: Path) -> None:
    """Evidence per control (NIST 800-53 IA-2, AU-2, AC-6; ISO 27001 A.5.15; SOC 2 CC6.1; PCI DSS 4.0.1 10.2):
    what agentiam enforces, per agent its identity, lifetimes, boundary, log routing, reviewed commit, digest and
    last review date, and the gaps (missing fields, controls not met, open `check` findings)."""
    day = today or dt.date.today()
    loaded = load_project(specs_dir, stacks_dir, environments, day)
    check = read_check_report(check_report) if check_report else None
    report = build_report(loaded, History.of(specs_dir, dt.datetime.now(dt.timezone.utc).timestamp()), day, check)
    write_output(render(fmt, report), output)
