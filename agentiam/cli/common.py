"""Options and error handling shared by the commands."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from agentiam.errors import AgentiamError, ConfigError, SpecError, UserError
from agentiam.findings import Finding, Severity

EXIT_OK = 0
EXIT_FINDINGS = 1  # guardrail violations (or what --fail-on selects)
EXIT_INPUT = 2  # unreadable/malformed input, bad config, a server that refused

_INPUT_RULE_PREFIXES = ("YAML", "SPEC", "CFG", "FILE")


def exit_code(findings: list[Finding]) -> int:
    """2 if any spec or stack config (or a file it references) could not be read, 1 if any guardrail error, else 0."""
    errors = [f for f in findings if f.severity is Severity.ERROR]
    if any(f.rule_id.startswith(_INPUT_RULE_PREFIXES) for f in errors):
        return EXIT_INPUT
    return EXIT_FINDINGS if errors else EXIT_OK


def stacks_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--stacks", "stacks_dir", type=click.Path(path_type=Path, file_okay=False), default="stacks",
                        show_default=True, help="Folder of Pulumi stack configs (Pulumi.<env>.yaml).")(func)


def specs_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--specs", "specs_dir", type=click.Path(path_type=Path, file_okay=False),
                        default="agent_specs", show_default=True, help="Folder of agent specs.")(func)


def vault_ca_cert_option(func: Callable[..., Any]) -> Callable[..., Any]:
    """`--vault-ca-cert` (default $VAULT_CACERT): the CA bundle verifying Vault's TLS certificate."""
    return click.option("--vault-ca-cert", envvar="VAULT_CACERT", type=click.Path(dir_okay=False, exists=True),
                        help="CA bundle verifying Vault's TLS certificate (default: $VAULT_CACERT).")(func)


def today_option(func: Callable[..., Any]) -> Callable[..., Any]:
    """`--today YYYY-MM-DD`: the date expiry (AGT004, AGT005) is judged against; passes a `datetime.date` or None."""
    return click.option("--today", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
                        callback=lambda _ctx, _param, value: value.date() if value else None,
                        help="Judge expiry (AGT004, AGT005) as of this date, e.g. to see what expires before a "
                             "release [default: today].")(func)


def write_output(text: str, output: Path | None) -> None:
    """A report on standard output, or in `output` (an unwritable file is the user's error, exit 2)."""
    if output is None:
        click.echo(text, nl=False)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UserError(f"--output {output}: cannot write: {exc.strerror}") from exc


def handle_user_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn the project's user errors into a clear message and exit code 2 (never a traceback)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (SpecError, ConfigError) as exc:
            if not exc.findings:  # a configuration problem with no file to point at
                click.echo(f"error: {exc}", err=True)
                sys.exit(EXIT_INPUT)
            for finding in exc.findings:
                click.echo(finding.render(), err=True)
            click.echo(f"{len(exc.findings)} error(s); nothing was planned.", err=True)
            sys.exit(exit_code(exc.findings) or EXIT_FINDINGS)
        except UserError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(EXIT_INPUT)
        except AgentiamError as exc:
            click.echo(f"internal error (please report): {exc}", err=True)
            sys.exit(3)

    return wrapper
