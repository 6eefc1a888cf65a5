"""`agentiam audit-ids`: what Vault's audit log calls each agent (entity id, HMACs), for `check` and `events`."""

from __future__ import annotations

import os
from pathlib import Path

import click

from agentiam.audit.identities import audit_ids_document
from agentiam.check.project import load_project
from agentiam.cli.common import handle_user_errors, specs_option, stacks_option
from agentiam.errors import ConfigError
from agentiam.render.escape import Terminal


@click.command("audit-ids", epilog="""\b
Examples:
  export VAULT_ADDR=https://vault.prod.internal:8200 VAULT_TOKEN=...   # may read roles and entities, hash
  agentiam audit-ids --env prod --output prod-ids.json
  agentiam check audit.log --audit-ids prod-ids.json
""")
@click.option("--env", "environment", required=True, help="Environment whose agents to look up.")
@click.option("--output", type=click.Path(path_type=Path, dir_okay=False), required=True,
              help="File to write (no secret in it: HMACs are what the audit log shows anyway).")
@click.option("--vault-addr", envvar="VAULT_ADDR", help="Vault address (default: $VAULT_ADDR); token from "
              "$VAULT_TOKEN only.")
@click.option("--vault-ca-cert", envvar="VAULT_CACERT", type=click.Path(dir_okay=False, exists=True),
              help="CA bundle verifying Vault's TLS certificate (default: $VAULT_CACERT).")
@click.option("--audit-device", help="Audit device path whose HMAC key to use [default: the stack config's].")
@click.option("--timeout", type=click.FloatRange(min=1), default=60.0, show_default=True,
              help="Seconds all the Vault questions may take.")
@specs_option
@stacks_option
@handle_user_errors
def audit_ids(environment: str, output: Path, vault_addr: str | None, vault_ca_cert: str | None,
              audit_device: str | None, timeout: float, specs_dir: Path, stacks_dir: Path) -> None:
    """Ask Vault for each agent's entity id and the audit-device HMACs of its role id and identity name
    (`sys/audit-hash`), so `check` attributes failed logins, which carry nothing else."""
    token = os.environ.get("VAULT_TOKEN")
    if not vault_addr or not token:
        raise ConfigError("set VAULT_ADDR (or --vault-addr) and VAULT_TOKEN to an operator token")
    loaded = load_project(specs_dir, stacks_dir, (environment,))
    from agentiam.audit.vault_ids import fetch_audit_ids  # hvac only here

    ids, missing, device = {}, [], audit_device
    for plan in loaded.plans:
        device = audit_device or plan.platform.log_routing.audit.path
        result = fetch_audit_ids(plan, vault_addr, token, device=device, ca_cert=vault_ca_cert, deadline_s=timeout)
        ids.update(result.ids)
        missing += result.missing
    try:
        output.write_text(audit_ids_document({environment: ids}, device or ""), encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{output}: cannot write: {exc.strerror or exc}") from exc
    for name in missing:
        click.echo(Terminal("warning: Vault has no entity or AppRole role {} (never applied there?)").format(name),
                   err=True)
    click.echo(Terminal("wrote {}: {} agent(s)").format(str(output), len(ids)), err=True)
