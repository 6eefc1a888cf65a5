"""`agentiam check`: what each agent really did in the logs, against what its plan grants."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from agentiam import project as core
from agentiam.audit.reader import ReadStats, read_events
from agentiam.check.engine import CheckEngine, CheckOptions
from agentiam.check.history import History
from agentiam.check.render import FORMATS, render
from agentiam.check.rules import Level
from agentiam.cli.common import (EXIT_FINDINGS, EXIT_INPUT, EXIT_OK, format_option, handle_user_errors, specs_option,
                                 stacks_option, write_output)
from agentiam.cli.logs_common import log_options, parse_span, prepare, window
from agentiam.render.escape import Terminal

FAIL_ON = ("low", "medium", "high", "never")


def _threshold(text: str) -> tuple[int, float]:
    count, _, span = text.partition("/")
    if not count.isdigit() or int(count) < 2 or not span:
        raise click.BadParameter(f"{text!r}: write COUNT/WINDOW with COUNT >= 2, e.g. 5/15m")
    return int(count), parse_span(span)


@click.command(epilog="""\b
Examples:
  agentiam check /var/log/vault/audit.log cloudtrail/*.json.gz --audit-ids prod-ids.json
  agentiam check audit.log --env prod --window 30d --format sarif --output check.sarif
  agentiam check audit.log --suggest          # also write the narrowed specs (unused permissions)
  zcat audit.log.*.gz | agentiam check - --vault-addr https://vault.internal:8200 --fail-on high
""")
@log_options
@click.option("--auth-failures", "auth_failures", default="5/15m", show_default=True,
              help="Failed logins per agent that make a burst: COUNT/WINDOW (Vault's lockout default).")
@format_option(FORMATS, "text", help="text for terminals, json for machines, markdown for an issue, sarif for "
                                      "code scanning (findings located on the spec lines).")
@click.option("--output", type=click.Path(path_type=Path, dir_okay=False), help="Write the report here (default: "
              "stdout).")
@click.option("--fail-on", type=click.Choice(FAIL_ON), default="medium", show_default=True,
              help="Exit 1 when a finding is at least this severe (scheduled jobs).")
@click.option("--suggest", is_flag=True, help="Write the narrowed specs: remove every permission unused in every "
              "environment of its spec (each edit validated first); then open a pull request.")
@specs_option
@stacks_option
@handle_user_errors
def check(logs: tuple[str, ...], environments: tuple[str, ...], audit_ids: tuple[Path, ...],
          vault_addr: str | None, vault_ca_cert: str | None, vault_timeout: float, since: str | None,
          until: str | None, span: str, auth_failures: str, fmt: str, output: Path | None, fail_on: str,
          suggest: bool, specs_dir: Path, stacks_dir: Path) -> None:
    """Judge agent activity in Vault audit logs and CloudTrail against each agent's plan: unused permissions,
    access outside the declared scope, repeated failed logins, use after expiry, while suspended or from elsewhere.

    LOGS are files (plain or gzip; `-` for stdin): Vault/OpenBao audit logs, CloudTrail files as delivered to S3,
    CloudTrail events one per line, CloudWatch Logs subscription records. Exit 0: nothing at --fail-on or above;
    1: findings; 2: unreadable input or configuration."""
    start, end = window(since, until, span)
    threshold, burst = _threshold(auth_failures)
    loaded, index, warnings = prepare(specs_dir, stacks_dir, environments, audit_ids, vault_addr, vault_ca_cert,
                                      vault_timeout)
    for warning in warnings:
        click.echo(Terminal("warning: {}").format(warning), err=True)
    configs = core.load_environments(stacks_dir)
    engine = CheckEngine(index, CheckOptions(start, end, threshold, burst, environments), loaded.specs, configs,
                         History.of(specs_dir, end))
    stats = ReadStats()
    engine.consume(read_events(logs, index, stats))
    report = engine.report(stats)
    text = render(fmt, report)
    write_output(text, output)
    if suggest:
        from agentiam.check.suggest import write_suggestions

        for line in write_suggestions(report, loaded, stacks_dir):
            click.echo(line, err=True)
    if report.problems:
        sys.exit(EXIT_INPUT)
    worst = report.worst()
    failing = fail_on != "never" and worst is not None and worst.rank >= Level(fail_on).rank
    sys.exit(EXIT_FINDINGS if failing else EXIT_OK)
