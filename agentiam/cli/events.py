"""`agentiam events`: the agents' normalised records as JSON Lines, for a SIEM."""

from __future__ import annotations

import sys
from pathlib import Path

import click
import orjson

from agentiam.audit.reader import ReadStats, read_events
from agentiam.cli.common import EXIT_INPUT, handle_user_errors, specs_option, stacks_option
from agentiam.cli.logs_common import log_options, prepare, window
from agentiam.errors import ConfigError
from agentiam.render.escape import Terminal


@click.command(epilog="""\b
Examples:
  agentiam events /var/log/vault/audit.log > agent-events.jsonl
  agentiam events cloudtrail/*.json.gz --since 2026-11-01 --audit-ids prod-ids.json --output events.jsonl
""")
@log_options
@click.option("--output", type=click.Path(path_type=Path, dir_okay=False), help="Write here (default: stdout).")
@specs_option
@stacks_option
@handle_user_errors
def events(logs: tuple[str, ...], environments: tuple[str, ...], audit_ids: tuple[Path, ...],
           vault_addr: str | None, vault_ca_cert: str | None, vault_timeout: float, since: str | None,
           until: str | None, span: str, output: Path | None, specs_dir: Path, stacks_dir: Path) -> None:
    """Write one JSON record per agent action (agent, environment, source, action, resource, time, result, the
    original lines' ids): Vault audit logs and CloudTrail, read as `agentiam check` reads them.

    Only agents' records are written (and failed logins on agents' auth mounts, unattributed when no agent's ids
    match), within the window (default: the last 30 days). Exit 2 on unreadable input."""
    start, end = window(since, until, span)
    _, index, warnings = prepare(specs_dir, stacks_dir, environments, audit_ids, vault_addr, vault_ca_cert,
                                 vault_timeout)
    for warning in warnings:
        click.echo(Terminal("warning: {}").format(warning), err=True)
    stats = ReadStats()
    wanted = set(environments)
    try:
        sink = open(output, "wb") if output is not None else sys.stdout.buffer  # noqa: SIM115 - closed below
    except OSError as exc:
        raise ConfigError(f"{output}: cannot write: {exc.strerror or exc}") from exc
    written = 0
    try:
        for event in read_events(logs, index, stats):
            if start <= event.time <= end and (not wanted or event.environment in wanted):
                sink.write(orjson.dumps(event.as_dict()) + b"\n")
                written += 1
        sink.flush()
    finally:
        if output is not None:
            sink.close()
    click.echo(Terminal("{} record(s) written from {} line(s) of {} file(s)").format(written, stats.lines,
                                                                                   stats.files), err=True)
    for problem in stats.damaged:
        click.echo(Terminal("input problem: {}").format(problem), err=True)
    if stats.damaged:
        sys.exit(EXIT_INPUT)
