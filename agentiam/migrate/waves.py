"""Migration waves: low-risk agents first, never all at once (field guide, phase 3), from the blast radius the
inventory computes (`agentiam.inventory.blast`), never re-derived here.

An agent's risk is its worst environment's: first whether a compromise could change anything or send anything out
(the blast radius' `changes` and `sends_to`: write access or external reach), then its tier. Read-only agents
(reporting, monitoring, most retrieval) go first, lowest tier first; agents that write or reach out go last. A wave
holds agents of one risk only and at most `cap` of them. The waves the specs declare (`migration.wave`) are checked
against the same order: an agent migrating before a lower-risk agent of its own team, or a wave above the cap, is a
finding on the spec's `migration.wave` line.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from agentiam.findings import Finding, Severity
from agentiam.inventory.build import build_inventory, environment_plans_located
from agentiam.inventory.model import InventoryEntry, Tier
from agentiam.plan.build import migration_plan
from agentiam.spec.validate import LoadedSpec

DEFAULT_CAP = 10
ORDER_RULE = "MIG001"  # a higher-risk agent of a team migrates before a lower-risk one of the same team
CAP_RULE = "MIG002"  # a declared wave holds more agents than the cap


@dataclass(frozen=True)
class Candidate:
    """One agent to migrate, with the risk the inventory gives it (its worst environment)."""

    agent: str
    team: str
    function: str
    tier: Tier
    read_only: bool  # no environment's blast radius changes or sends anything
    reasons: tuple[str, ...]  # the tier rules that fired in its worst environment
    wave: int | None  # declared in the spec (`migration.wave`)
    migrating: bool  # the spec has a `migration` section
    file: str

    @property
    def risk(self) -> tuple[int, int]:
        """Lower migrates first: read-only before write or external reach, then by tier."""
        return (0 if self.read_only else 1, self.tier.rank)

    @property
    def risk_label(self) -> str:
        return f"{'read-only' if self.read_only else 'writes or reaches out'}, tier {self.tier.value}"


@dataclass(frozen=True)
class Wave:
    number: int
    risk: str
    agents: tuple[Candidate, ...]


@dataclass(frozen=True)
class SharedCredential:
    """A legacy credential several agents declare: it is retired once the last of them has migrated."""

    subject: str
    agents: tuple[tuple[str, int], ...]  # (agent, proposed wave)

    @property
    def after_wave(self) -> int:
        return max(wave for _, wave in self.agents)


@dataclass(frozen=True)
class WavePlan:
    cap: int
    waves: tuple[Wave, ...]
    findings: tuple[Finding, ...]
    shared: tuple[SharedCredential, ...]
    considered: int  # agents looked at (with a migration section, or every agent with --all)


def candidates(entries: Iterable[InventoryEntry], specs: Sequence[LoadedSpec]) -> list[Candidate]:
    """One candidate per agent, its risk the worst of its environments' blast radii."""
    by_agent: dict[str, list[InventoryEntry]] = {}
    for entry in entries:
        by_agent.setdefault(entry.agent, []).append(entry)
    loaded = {s.spec.name: s for s in specs}
    found = []
    for agent, items in sorted(by_agent.items()):
        worst = max(items, key=lambda e: (e.blast.tier.rank, e.environment))
        spec = loaded[agent].spec
        found.append(Candidate(
            agent=agent, team=worst.owner_team, function=worst.function, tier=worst.blast.tier,
            read_only=all(not e.blast.changes and not e.blast.sends_to for e in items),
            reasons=tuple(r.rule for r in worst.blast.reasons), wave=spec.migration.wave if spec.migration else None,
            migrating=spec.migration is not None, file=loaded[agent].file))
    return found


def propose(agents: Iterable[Candidate], cap: int) -> tuple[Wave, ...]:
    """Waves of one risk each, at most `cap` agents, lowest risk first (then by team and name, so a team's agents
    of one risk move together)."""
    if cap < 1:
        raise ValueError("the cap per wave is at least 1")
    ordered = sorted(agents, key=lambda c: (c.risk, c.team, c.agent))
    waves: list[Wave] = []
    for candidate in ordered:
        last = waves[-1] if waves else None
        if last is not None and last.agents[0].risk == candidate.risk and len(last.agents) < cap:
            waves[-1] = Wave(last.number, last.risk, (*last.agents, candidate))
        else:
            waves.append(Wave(len(waves) + 1, candidate.risk_label, (candidate,)))
    return tuple(waves)


def check_declared(agents: Sequence[Candidate], specs: Sequence[LoadedSpec], cap: int) -> list[Finding]:
    """The spec waves that break the order within a team, or exceed the cap; located on `migration.wave`."""
    loaded = {s.spec.name: s for s in specs}
    declared = [c for c in agents if c.wave is not None]
    findings: list[Finding] = []
    for agent in declared:
        earlier_risk = [other for other in declared if other.team == agent.team and other.risk < agent.risk
                        and (other.wave or 0) > (agent.wave or 0)]
        if earlier_risk:
            other = min(earlier_risk, key=lambda o: (o.risk, o.wave, o.agent))
            findings.append(loaded[agent.agent].document.finding(
                ORDER_RULE, ("migration", "wave"),
                f"{agent.agent} ({agent.risk_label}) migrates in wave {agent.wave}, before {other.agent} of the same "
                f"team {agent.team} ({other.risk_label}) in wave {other.wave}: migrate the lower-risk agents first",
                Severity.ERROR))
    sizes: dict[int, list[Candidate]] = {}
    for agent in declared:
        sizes.setdefault(agent.wave or 0, []).append(agent)
    for wave, members in sorted(sizes.items()):
        if len(members) > cap:
            for agent in members:
                findings.append(loaded[agent.agent].document.finding(
                    CAP_RULE, ("migration", "wave"), f"wave {wave} holds {len(members)} agents, above the cap of "
                    f"{cap} per wave: never migrate too many agents at once", Severity.ERROR))
    return sorted(findings)


def shared_credentials(specs: Sequence[LoadedSpec], waves: Sequence[Wave]) -> tuple[SharedCredential, ...]:
    """Legacy credentials more than one agent declares, with the proposed wave of each."""
    wave_of = {c.agent: w.number for w in waves for c in w.agents}
    declared: dict[str, set[str]] = {}
    for loaded in specs:
        migration = loaded.spec.migration
        if migration is None or loaded.spec.name not in wave_of:
            continue
        for environment in migration.environments:
            plan = migration_plan(loaded.spec, environment)
            for credential in plan.legacy if plan else ():
                declared.setdefault(credential.subject, set()).add(loaded.spec.name)
    return tuple(SharedCredential(subject, tuple(sorted(((a, wave_of[a]) for a in agents), key=lambda x: (x[1], x[0]))))
                 for subject, agents in sorted(declared.items()) if len(agents) > 1)


def plan_waves(specs_dir: Path, stacks_dir: Path, today: dt.date, cap: int = DEFAULT_CAP,
               everyone: bool = False) -> WavePlan:
    """Waves for the agents with a migration section (every agent with `everyone`), and the declared waves'
    findings. Raises SpecError when a spec has an error (the inventory's rule: expired specs are listed)."""
    compiled = environment_plans_located(specs_dir, stacks_dir, None, today)
    inventory = build_inventory(compiled.plans(), today, compiled.accounts, compiled.deployed)
    agents = [c for c in candidates(inventory.entries, compiled.specs) if everyone or c.migrating]
    waves = propose(agents, cap)
    return WavePlan(cap, waves, tuple(check_declared(agents, compiled.specs, cap)),
                    shared_credentials(compiled.specs, waves), len(agents))
