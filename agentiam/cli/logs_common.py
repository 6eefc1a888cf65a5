"""Options shared by the commands that read audit logs (`check`, `events`): window, audit ids, Vault."""

from __future__ import annotations

import datetime as dt
import os
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from agentiam.audit.identities import IdentityIndex, load_audit_ids
from agentiam.audit.model import parse_time
from agentiam.check.project import Project, load_project
from agentiam.errors import ConfigError

_DURATION = re.compile(r"(\d{1,9})([smhd])\Z")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_span(text: str) -> float:
    """`30d`, `12h`, `15m`, `90s` -> seconds."""
    match = _DURATION.match(text.strip())
    if match is None or int(match.group(1)) == 0:
        raise click.BadParameter(f"{text!r} is not a duration; write e.g. 30d, 12h, 15m or 90s")
    return int(match.group(1)) * _UNIT[match.group(2)]


def parse_moment(text: str) -> float:
    """An RFC 3339 time (`2026-11-30T12:00:00Z`) or a date (`2026-11-30`, midnight UTC) -> seconds."""
    value = parse_time(f"{text}T00:00:00Z" if len(text) == 10 else text)
    if value is None:
        raise click.BadParameter(f"{text!r} is not a date (2026-11-30) nor a UTC time (2026-11-30T12:00:00Z)")
    return value


def window(since: str | None, until: str | None, span: str) -> tuple[float, float]:
    end = parse_moment(until) if until else time.time()
    start = parse_moment(since) if since else end - parse_span(span)
    if start >= end:
        raise click.BadParameter("--since must be before --until")
    return start, end


def log_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """LOGS..., --env, --audit-ids, --vault-addr, --vault-ca-cert, --vault-timeout, --since, --until, --window."""
    options = [
        click.argument("logs", nargs=-1, required=True),
        click.option("--env", "environments", multiple=True, help="Judge this environment (repeatable; default: "
                     "every environment whose agents appear in the logs)."),
        click.option("--audit-ids", "audit_ids", multiple=True, type=click.Path(path_type=Path, dir_okay=False),
                     help="File written by `agentiam audit-ids` (entity ids and HMACs: attributes failed logins), "
                          "or the JSON of `pulumi stack output agents` (entity ids). Repeatable."),
        click.option("--vault-addr", help="Ask this Vault for the audit ids instead (token from $VAULT_TOKEN)."),
        click.option("--vault-ca-cert", envvar="VAULT_CACERT", type=click.Path(dir_okay=False, exists=True),
                     help="CA bundle verifying Vault's TLS certificate (default: $VAULT_CACERT)."),
        click.option("--vault-timeout", type=click.FloatRange(min=1), default=60.0, show_default=True,
                     help="Seconds the Vault questions may take in all."),
        click.option("--since", help="Window start (2026-11-01 or 2026-11-01T00:00:00Z) [default: until - window]."),
        click.option("--until", help="Window end [default: now]."),
        click.option("--window", "span", default="30d", show_default=True, help="Window length (30d, 12h, 15m)."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def prepare(specs_dir: Path, stacks_dir: Path, environments: tuple[str, ...], audit_ids: tuple[Path, ...],
            vault_addr: str | None, vault_ca_cert: str | None, vault_timeout: float,
            today: dt.date | None = None) -> tuple[Project, IdentityIndex, list[str]]:
    """The project, the index of every agent's names, and warnings (agents Vault does not know)."""
    loaded = load_project(specs_dir, stacks_dir, environments, today)
    index = IdentityIndex.from_plans(loaded.plans)
    for path in audit_ids:
        load_audit_ids(index, path)
    warnings: list[str] = []
    if vault_addr:
        token = os.environ.get("VAULT_TOKEN")
        if not token:
            raise ConfigError("--vault-addr needs an operator token in $VAULT_TOKEN")
        from agentiam.audit.vault_ids import fetch_audit_ids  # hvac: only when asked to talk to Vault

        for env, plan in sorted(index.plans.items()):
            result = fetch_audit_ids(plan, vault_addr, token, ca_cert=vault_ca_cert, deadline_s=vault_timeout)
            index.add_audit_ids(env, result.ids)
            warnings += [f"{env}: Vault at {vault_addr} has no entity or AppRole role {name}"
                         for name in result.missing]
    return loaded, index, warnings
