"""What `migrate status` and `migrate revoke-legacy` read before asking any server: every spec (a credential is
shared by whoever declares it, in any environment), the plans, the targets; then the logs, once.

Every spec must be valid, as for the inventory (an expired one is tolerated): a spec that does not load could
declare the very credential about to be revoked.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from agentiam.audit.identities import AuditIds, IdentityIndex
from agentiam.errors import UserError
from agentiam.inventory.build import environment_plans
from agentiam.migrate.evidence import LogEvidence, read_logs
from agentiam.migrate.legacy import LegacyVault, Target, sharers_of
from agentiam.plan.model import IdentityPlan


@dataclass(frozen=True)
class Fleet:
    """One environment's plan, and who else declares each legacy credential anywhere."""

    plan: IdentityPlan
    targets: tuple[Target, ...]  # the environment's agents with a migration there, by name


def load_fleet(specs_dir: Path, stacks_dir: Path, environment: str, today: dt.date,
               agents: Sequence[str] = ()) -> Fleet:
    """The environment's migrating agents (only `agents` when given). UserError for an unknown agent, or one with
    no migration in this environment; SpecError when a spec has an error."""
    compiled = environment_plans(specs_dir, stacks_dir, None, today)
    if environment not in compiled.configs:
        known = ", ".join(sorted(compiled.configs))
        raise UserError(f"no stack config for environment {environment!r} (known: {known})")
    plans = {name: compiled.plan(name)[0] for name in compiled.configs}
    shares = sharers_of(entry for plan in plans.values() for entry in plan.agents)
    plan, config = plans[environment], compiled.configs[environment]
    by_name = {entry.agent: entry for entry in plan.agents}
    for name in agents:
        if name not in by_name:
            deployed = compiled.deployed.get(name)
            where = f"deployed to {', '.join(deployed)}" if deployed else f"not declared under {specs_dir}"
            raise UserError(f"agent {name!r} is not in {environment} ({where})")
        if by_name[name].migration is None:
            raise UserError(f"agent {name!r} declares no migration in {environment}: add a `migration` section "
                            "listing its legacy credentials (docs/migrate.md)")
    chosen = [by_name[name] for name in agents] if agents else [e for e in plan.agents if e.migration is not None]
    device = plan.platform.log_routing.audit.path
    targets = tuple(Target(entry, config, device, shares.get((entry.agent, entry.environment), {}))
                    for entry in sorted(chosen, key=lambda e: e.agent))
    return Fleet(plan, targets)


def accessor_hmacs(fleet: Fleet, vault: LegacyVault | None) -> dict[str, str]:
    """The audit log's HMAC of every legacy token accessor (sys/audit-hash), when Vault is asked; ServerError when
    Vault fails."""
    accessors = sorted({c.name for t in fleet.targets for c in t.migration.legacy if c.kind == "vault-token"})
    if vault is None or not accessors:
        return {}
    device = fleet.plan.platform.log_routing.audit.path
    return {accessor: vault.audit_hash(device, accessor) for accessor in accessors}


def read_evidence(paths: Iterable[str], fleet: Fleet, hmacs: dict[str, str],
                  ids: dict[str, AuditIds] | None = None) -> LogEvidence:
    """One pass over the logs for every target's legacy credentials and every agent of the environment (a shared
    credential's other agents count too). `ids`: entity ids and HMACs from `agentiam audit-ids`, to attribute
    failed logins."""
    index = IdentityIndex.from_plans([fleet.plan])
    if ids:
        index.add_audit_ids(fleet.plan.environment, ids)
    credentials = {c.subject: c for t in fleet.targets for c in t.migration.legacy}
    return read_logs(paths, index, credentials.values(), hmacs)

