"""`agentiam inventory --live`: compile the environment's plan, read its Vault and AWS, report what differs.

Imported only when `--live` is given: it loads hvac and boto3 (through the inventory's adapters), which the offline
inventory never needs.
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import click

from agentiam.cli.inventory import write
from agentiam.errors import ConfigError
from agentiam.inventory.build import environment_plans
from agentiam.inventory.live import AwsState, Scan, ScanOptions, VaultState, exit_code
from agentiam.render import inventory_live

PROGRESS_EVERY = 1.0  # seconds between progress lines on stderr


class StderrProgress:
    """Progress of a long scan on standard error (the report on stdout stays a clean document): one line per part
    when it starts and ends, and at most one line a second in between."""

    def __init__(self) -> None:
        self._last = 0.0
        self._what = ""

    def __call__(self, what: str, done: int, total: int) -> None:
        now = time.monotonic()
        if what != self._what or done == total or now - self._last >= PROGRESS_EVERY:
            click.echo(f"scanning {what}: {done}/{total}", err=True)
            self._last, self._what = now, what


def run_live(environment: str, *, fmt: str, output: Path | None, vault_addr: str | None, vault_token: str | None,
             vault_ca_cert: str | None, aws_endpoint_url: str | None, no_vault: bool, no_aws: bool, no_tokens: bool,
             max_key_age: int, request_timeout: float, scan_timeout: float, today: dt.date | None, specs_dir: Path,
             stacks_dir: Path) -> int:
    """Run the scan and write the report; returns the exit code (0 in sync, 1 findings, 2 incomplete)."""
    now = dt.datetime.now(dt.timezone.utc) if today is None else dt.datetime.combine(
        today, dt.time(12), tzinfo=dt.timezone.utc)
    compiled = environment_plans(specs_dir, stacks_dir, [environment], now.date())
    for finding in compiled.findings:
        click.echo(finding.render(), err=True)
    plan, _config = compiled.plan(environment)
    if not no_vault and (not vault_addr or not vault_token):
        raise ConfigError("--live reads Vault: set VAULT_ADDR (or --vault-addr) and VAULT_TOKEN to a token that may "
                          "read the environment's mounts, roles, entities and tokens, or pass --no-vault")
    skipped = [("vault", "every Vault part (--no-vault)")] if no_vault else []
    skipped += [("aws", "every AWS part (--no-aws)")] if no_aws else []
    skipped += [("vault", "tokens (--no-tokens)")] if no_tokens and not no_vault else []
    vault: VaultState | None = None
    aws: AwsState | None = None
    if not no_vault:
        from agentiam.inventory.vault_state import VaultReader

        vault = VaultReader(vault_addr or "", vault_token or "", ca_cert=vault_ca_cert, timeout=request_timeout,
                            deadline=time.monotonic() + scan_timeout)
    if not no_aws:
        from agentiam.inventory.aws_state import AwsReader

        aws = AwsReader(endpoint_url=aws_endpoint_url, region_name=plan.region, timeout=request_timeout)
    scan = Scan(plan, stacks=compiled.stacks[environment], platform_stack=compiled.platform_stacks[environment],
                vault=vault, aws=aws, now=now, today=now.date(),
                options=ScanOptions(tokens=not no_tokens, max_key_age_days=max_key_age, timeout=scan_timeout),
                progress=StderrProgress(), skipped=skipped)
    try:
        report = scan.run()
    finally:
        if vault is not None:
            vault.close()
    write(inventory_live.FORMATS[fmt](report), output)
    return exit_code(report)
