"""Build the inventory from identity plans (pure), and the facade that compiles the plans of the chosen environments.

Every value comes from the plan entry (`agentiam.plan.model.AgentPlan`): names, lifetimes, the IAM policy, the Vault
policy's paths, database roles, egress. Nothing is re-derived from the specs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

from agentiam import project
from agentiam.project import _cyclic_gc_paused  # noqa: PLC2701 - the one helper for it, private to the facade
from agentiam.environment.model import EnvironmentConfig, Selection
from agentiam.errors import ConfigError, SpecError
from agentiam.findings import Finding, Severity
from agentiam.iam import catalogue
from agentiam.inventory.blast import Subject, access_levels, assess, widest
from agentiam.inventory.model import (
    TIER_ORDER,
    AwsGrant,
    Credentials,
    DatabaseGrant,
    Endpoint,
    EnvironmentInfo,
    Inventory,
    InventoryEntry,
    Tier,
    VaultGrant,
)
from agentiam.environment.load import read_stacks
from agentiam.plan.build import build_plan, selected
from agentiam.plan.model import AgentPlan, IdentityPlan
from agentiam.rules.identity import NOT_EXPIRED
from agentiam.spec.validate import LoadedSpec, ValidSpec
from agentiam.spec.types import format_duration

# An expired spec is refused by `validate` (AGT004), yet its identity still exists until someone acts: the inventory
# lists it, marked expired, instead of refusing to run. Every other error still stops it (nothing half-read).
TOLERATED = frozenset({NOT_EXPIRED.id})


def _aws_grants(entry: AgentPlan) -> tuple[AwsGrant, ...]:
    grants = []
    for statement in entry.aws.statements():
        actions, resources = statement.actions, statement.resources
        grants.append(AwsGrant(sid=statement.sid, actions=actions, access_levels=access_levels(actions),
                               resources=resources, reach=widest(resources).label,
                               accounts=statement.resource_accounts or ()))
    return tuple(grants)


def _kv_owner(path: str, kv_mount: str, environment: str) -> str | None:
    """The agent whose folder holds a KV path, as guardrail AGT037 reads it: `<folder>/<agent>/...` below the
    mount's `data/` or `metadata/`, environment segments aside."""
    for prefix in (f"{kv_mount}/data/", f"{kv_mount}/metadata/"):
        if path.startswith(prefix):
            segments = [s for s in path[len(prefix):].split("/") if s != environment]
            owner = segments[1] if len(segments) > 1 else None
            return owner if owner and "*" not in owner and "+" not in owner else None
    return None


def _vault_grants(entry: AgentPlan, kv_mount: str) -> tuple[VaultGrant, ...]:
    """The agent policy's paths beyond its own token, database and AWS credentials: its KV secrets."""
    return tuple(VaultGrant(path, tuple(caps), _kv_owner(path, kv_mount, entry.environment))
                 for path, caps in entry.vault.secret_rules().items())


def inventory_entry(entry: AgentPlan, env: EnvironmentConfig, accounts: Mapping[str, str], today: dt.date,
                    deployed_in: tuple[str, ...]) -> InventoryEntry:
    """The inventory entry of one plan entry; `accounts`: every known environment's account id by name."""
    vault = entry.vault
    aws_role = vault.aws_secret_role
    active = entry.status == "active"
    aws = _aws_grants(entry)
    databases = tuple(DatabaseGrant(role.database, role.access, tuple(role.schemas), tuple(role.privileges),
                                    role.name, role.default_ttl, role.max_ttl) for role in vault.database_roles)
    kv = _vault_grants(entry, env.vault.kv_mount)
    egress = tuple(Endpoint(e["host"], int(e["port"]), e["purpose"]) for e in entry.egress.endpoints)
    aws_usable = entry.aws.kill_switch_policy is None and aws_role is not None
    blast = assess(Subject(environment=entry.environment, account_id=env.account_id, active=active, aws=aws,
                           aws_usable=aws_usable, databases=databases, vault=kv, egress=egress,
                           token_max_ttl=vault.token_role.token_explicit_max_ttl,
                           aws_session_ttl=aws_role.max_sts_ttl if aws_role else None, agent=entry.agent),
                   accounts)
    rate = None
    if active and vault.rate_limit is not None:
        rate = f"{vault.rate_limit.rate:g}/{format_duration(vault.rate_limit.interval)}"
    return InventoryEntry(
        agent=entry.agent, environment=entry.environment, identity_name=entry.identity_name,
        function=entry.function, status=entry.status, description=entry.description, owner_team=entry.owner_team,
        sponsor=entry.owner_sponsor, contact=entry.owner_contact, expires=entry.expires,
        expires_in_days=(dt.date.fromisoformat(entry.expires) - today).days, source_file=entry.source_file,
        spec_digest=entry.spec_digest, deployed_in=deployed_in,
        credentials=Credentials(
            # The working token's lifetimes are its token role's (the AppRole token only mints it, for 60 s).
            token_ttl=vault.token_role.token_period, token_max_ttl=vault.token_role.token_explicit_max_ttl,
            secret_id_ttl=vault.approle.secret_id_ttl, secret_id_num_uses=vault.approle.secret_id_num_uses,
            aws_session_ttl=aws_role.max_sts_ttl if aws_role else None, aws_role_arn=entry.aws.role_arn,
            certificate_common_name=vault.entity.cert_alias_name,
            bound_cidrs=tuple(vault.token_role.token_bound_cidrs)),
        aws=aws, aws_usable=aws_usable, databases=databases, vault=kv, egress=egress, vault_login_rate=rate,
        shared_with=tuple((share.path, tuple(share.agents)) for share in vault.kv_shares),
        blast=blast)


def build_inventory(plans: Iterable[tuple[IdentityPlan, EnvironmentConfig]], today: dt.date,
                    accounts: Mapping[str, str] | None = None,
                    deployed: Mapping[str, Sequence[str]] | None = None) -> Inventory:
    """The inventory of the given plans (one per environment, with its config). Pure and deterministic.

    `accounts`: every known environment's account id (default: the plans'); `deployed`: every environment each agent
    is deployed to (default: those of the plans it appears in). With both given, `plans` is read once, in order: a
    generator building one plan at a time keeps one environment's plan in memory, not all of them.
    """
    if accounts is None or deployed is None:
        plans = list(plans)
        accounts = accounts or {env.name: env.account_id for _, env in plans}
        found: dict[str, list[str]] = {}
        for plan, _ in plans:
            for entry in plan.agents:
                found.setdefault(entry.agent, []).append(plan.environment)
        deployed = deployed or found
    entries: list[InventoryEntry] = []
    environments = []
    for plan, env in plans:
        environments.append(EnvironmentInfo(plan.environment, plan.account_id, plan.region))
        with _cyclic_gc_paused():  # acyclic data only (bench/bench_inventory.py: ~2x on 10,000 agents with the GC on)
            entries += [inventory_entry(entry, env, accounts, today,
                                        tuple(deployed.get(entry.agent, (entry.environment,))))
                        for entry in plan.agents]
    return Inventory(today=today.isoformat(), environments=tuple(environments),
                     entries=tuple(sort_entries(entries, "tier")), catalogue_version=catalogue.data_version())


# --- compile: specs and stack configs -> plans of every environment ------------------------------------------


_Kept = TypeVar("_Kept", bound=ValidSpec)


@dataclass(frozen=True)
class Compiled(Generic[_Kept]):
    """The checked specs of the chosen environments and what the inventory needs besides their plans."""

    specs: list[_Kept]  # as plans read them (`ValidSpec`), or with their documents (`environment_plans_located`)
    configs: dict[str, EnvironmentConfig]  # the chosen environments, selection cleared: every shard's agents
    accounts: dict[str, str]  # every configured environment's account id
    deployed: dict[str, list[str]]  # agent -> the environments its spec lists
    stacks: dict[str, dict[str, str]]  # environment -> agent -> the stack that provisions it
    platform_stacks: dict[str, str]  # environment -> the stack owning its environment-wide resources
    findings: list[Finding]  # what did not stop the inventory: warnings, expired specs

    def plan(self, environment: str) -> tuple[IdentityPlan, EnvironmentConfig]:
        """The plan of one chosen environment, with every agent of it, whatever its shard (built on each call)."""
        env = self.configs[environment]
        with _cyclic_gc_paused():
            return build_plan(self.specs, env), env

    def plans(self) -> Iterator[tuple[IdentityPlan, EnvironmentConfig]]:
        """The chosen environments' plans, one at a time."""
        for name in self.configs:
            yield self.plan(name)


def environment_plans(specs_dir: Path, stacks_dir: Path, environments: Iterable[str] | None,
                      today: dt.date) -> Compiled[ValidSpec]:
    """Read and check every spec for the chosen environments (default: all). Raises SpecError when a spec has an
    error other than expiry, ConfigError for an unknown environment or bad stack configs. Specs are kept as plans
    read them, without their parsed documents (less than half the memory: docs/benchmarks.md)."""
    return _compiled(specs_dir, stacks_dir, environments, today, LoadedSpec.without_document)


def environment_plans_located(specs_dir: Path, stacks_dir: Path, environments: Iterable[str] | None,
                              today: dt.date) -> Compiled[LoadedSpec]:
    """`environment_plans` keeping each spec's document, for callers that report findings on spec fields."""
    return _compiled(specs_dir, stacks_dir, environments, today, project.whole_spec)


def _compiled(specs_dir: Path, stacks_dir: Path, environments: Iterable[str] | None, today: dt.date,
              keep: Callable[[LoadedSpec], _Kept]) -> Compiled[_Kept]:
    configs = project.load_environments(stacks_dir)
    chosen = sorted(configs) if environments is None else list(dict.fromkeys(environments))
    unknown = [name for name in chosen if name not in configs]
    if unknown:
        raise ConfigError(f"no stack config for environment(s) {', '.join(unknown)} under {stacks_dir} "
                          f"(known: {', '.join(sorted(configs)) or 'none'})")
    # Streamed as `agentiam validate` streams: each spec judged, then kept as `keep` makes it.
    specs, findings, _count = project.check_specs([specs_dir], stacks_dir, today, configs, keep, tolerated=TOLERATED)
    blocking = [f for f in findings if f.severity is Severity.ERROR and f.rule_id not in TOLERATED]
    if blocking:
        raise SpecError(blocking)
    stack_configs = [(stack.stack, stack.config) for stack in read_stacks(stacks_dir)[0]]  # checked above
    stacks, platform = {}, {}
    for name in chosen:
        shards = [(stack, config) for stack, config in stack_configs if config.name == name]
        stacks[name] = {loaded.spec.name: stack for stack, config in shards for loaded in specs
                        if name in loaded.spec.environments and selected(loaded.spec, config)}
        platform[name] = next(stack for stack, config in shards if config.selection.shared_resources)
    deployed = {s.spec.name: [env for env in sorted(configs) if env in s.spec.environments] for s in specs}
    return Compiled(specs, {name: configs[name].model_copy(update={"selection": Selection()}) for name in chosen},
                    {name: config.account_id for name, config in configs.items()}, deployed, stacks, platform,
                    findings)


def compile_inventory(specs_dir: Path = project.DEFAULT_SPECS_DIR, stacks_dir: Path = project.DEFAULT_STACKS_DIR,
                      environments: Iterable[str] | None = None, today: dt.date | None = None
                      ) -> tuple[Inventory, list[Finding]]:
    """The inventory of the chosen environments (default: all), and the findings that did not stop it."""
    today = today or dt.date.today()
    compiled = environment_plans(specs_dir, stacks_dir, environments, today)
    return build_inventory(compiled.plans(), today, compiled.accounts, compiled.deployed), compiled.findings


# --- selecting and ordering -------------------------------------------------------------------------------------

SORT_KEYS = ("tier", "agent", "team", "environment", "expires", "function")


def sort_entries(entries: Iterable[InventoryEntry], key: str) -> list[InventoryEntry]:
    """Entries ordered by `key` (worst tier first for `tier`), then by agent and environment."""
    def base(e: InventoryEntry) -> tuple:
        return (e.agent, e.environment)
    orders = {
        "tier": lambda e: (-e.blast.tier.rank, *base(e)),
        "agent": base,
        "team": lambda e: (e.owner_team, *base(e)),
        "environment": lambda e: (e.environment, e.agent),
        "expires": lambda e: (e.expires, *base(e)),
        "function": lambda e: (e.function, *base(e)),
    }
    if key not in orders:
        raise ConfigError(f"unknown sort key {key!r} (one of {', '.join(SORT_KEYS)})")
    return sorted(entries, key=orders[key])


def select(inventory: Inventory, *, teams: Iterable[str] = (), functions: Iterable[str] = (),
           tiers: Iterable[str] = (), min_tier: str | None = None, agents: Iterable[str] = (),
           sort: str = "tier") -> Inventory:
    """The entries matching every given filter (each filter: any of its values), in `sort` order."""
    teams, functions, agents = set(teams), set(functions), set(agents)
    wanted = {Tier(t) for t in tiers}
    floor = Tier(min_tier).rank if min_tier else TIER_ORDER[0].rank
    kept = [e for e in inventory.entries
            if (not teams or e.owner_team in teams) and (not functions or e.function in functions)
            and (not agents or e.agent in agents) and (not wanted or e.blast.tier in wanted)
            and e.blast.tier.rank >= floor]
    return Inventory(inventory.today, inventory.environments, tuple(sort_entries(kept, sort)),
                     inventory.catalogue_version)
