"""`agentiam migrate` reports as text and JSON. Text lines are composed through `agentiam.render.escape`
(`Terminal`): agent names, credential ids, notes, server messages and log addresses are values, shown with escapes
for control and invisible characters, so none can recolour the terminal or forge a line."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from agentiam.migrate.legacy import (
    DONE,
    AgentStatus,
    LegacyRevocation,
    Outcome,
    Stage,
    Step,
)
from agentiam.migrate.waves import WavePlan
from agentiam.render.escape import Terminal
from agentiam.spec.types import format_duration

MIGRATE_FORMAT = 1


def _columns(rows: Sequence[Sequence[object]], last_free: bool = True) -> list[Terminal]:
    """Rows as aligned columns: every cell escaped before it is padded, so the columns line up as shown."""
    cells = [[Terminal.value(cell) for cell in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(cells[0]))] if cells else []
    lines = []
    for row in cells:
        padded = [cell if last_free and i == len(row) - 1 else Terminal.value(cell.ljust(widths[i]))
                  for i, cell in enumerate(row)]
        lines.append(Terminal("  {}").format(Terminal("  ").join(padded)))
    return lines


# --- plan --------------------------------------------------------------------------------------------------------


def plan_text(plan: WavePlan) -> str:
    lines = [Terminal("Migration waves: {} agent(s), at most {} per wave, lowest risk first (blast radius as "
                      "`agentiam inventory` computes it)").format(plan.considered, plan.cap)]
    for wave in plan.waves:
        lines += [Terminal(""), Terminal("wave {}  ({})").format(wave.number, wave.risk)]
        lines += _columns([(c.agent, c.team, c.function, Terminal(", ").join(c.reasons)) for c in wave.agents])
    if plan.shared:
        lines += [Terminal(""), Terminal("Shared legacy credentials (retired once every agent declaring them has "
                                         "migrated):")]
        for shared in plan.shared:
            who = Terminal(", ").join(Terminal("{} (wave {})").format(a, w) for a, w in shared.agents)
            lines.append(Terminal("  {}: {}; after wave {}").format(shared.subject, who, shared.after_wave))
    lines.append(Terminal(""))
    if plan.findings:
        lines.append(Terminal("Declared waves (migration.wave) out of order or over the cap:"))
        lines += [Terminal.value(f.render()) for f in plan.findings]
        lines.append(Terminal("{} finding(s)").format(len(plan.findings)))
    else:
        lines.append(Terminal("Declared waves (migration.wave): in order, none over the cap."))
    return "\n".join(lines) + "\n"


def plan_json(plan: WavePlan) -> str:
    return json.dumps({
        "format": MIGRATE_FORMAT, "cap": plan.cap, "agents": plan.considered,
        "waves": [{"wave": w.number, "risk": w.risk, "agents": [
            {"agent": c.agent, "team": c.team, "function": c.function, "tier": c.tier.value,
             "read_only": c.read_only, "reasons": list(c.reasons), "declared_wave": c.wave, "file": c.file}
            for c in w.agents]} for w in plan.waves],
        "shared_credentials": [{"credential": s.subject, "agents": [{"agent": a, "wave": w} for a, w in s.agents],
                                "after_wave": s.after_wave} for s in plan.shared],
        "findings": [f.as_dict() for f in plan.findings]}, indent=2, sort_keys=True) + "\n"


# --- status ------------------------------------------------------------------------------------------------------

_STAGE_HINT = {
    Stage.IDENTITY_MISSING: Terminal("create it first: `pulumi up` on its stack"),
    Stage.NOT_STARTED: Terminal("switch the agent to its identity, then set parallel_run_started"),
    Stage.PARALLEL_RUN: Terminal("keep both running until READY AT"),
    Stage.READY: Terminal("agentiam migrate revoke-legacy"),
    Stage.BLOCKED: Terminal("see the credentials kept below"),
    Stage.REVOKED: Terminal("watch for authentication failures"),
}


def status_text(statuses: Sequence[AgentStatus], environment: str, notes: Sequence[str], now: str) -> str:
    lines = [Terminal("Migration status in {} as of {} ({} agent(s))").format(environment, now, len(statuses)),
             Terminal("")]
    rows: list[tuple[object, ...]] = [("AGENT", "WAVE", "STAGE", "SINCE", "READY AT", "AUTH FAILURES", "NEXT")]
    for s in statuses:
        failures: object = "-" if s.auth_failures is None else s.auth_failures
        rows.append((s.agent, s.wave or "-", s.stage, s.start or s.declared_start or "-", s.ready_at or "-",
                     failures, _STAGE_HINT[s.stage]))
    lines += _columns(rows)
    for s in statuses:
        lines += [Terminal(""), Terminal("{} ({}, team {}){}:").format(
            s.agent, s.stage, s.team, Terminal("") if s.live else Terminal(", not read from the servers"))]
        if s.declared_start and s.start and s.start != s.declared_start:
            lines.append(Terminal("  parallel run declared from {}, counted from {}: the new identity did not exist "
                                  "before").format(s.declared_start, s.start))
        for c in s.credentials:
            lines.append(Terminal("  {}: {} ({})").format(c.subject, c.state, c.detail))
            if c.last_used:
                lines.append(Terminal("    last used {} ({})").format(c.last_used, c.last_used_from))
            if c.kept:
                lines.append(Terminal("    kept: {}").format(c.kept))
            if c.refused_since:
                lines.append(Terminal("    refused {} time(s) since the cutover (logs): something still tries "
                                      "it").format(c.refused_since))
        for note in s.notes:
            lines.append(Terminal("  note: {}").format(note))
    for note in notes:
        lines += [Terminal(""), Terminal("note: {}").format(note)]
    return "\n".join(lines) + "\n"


def status_json(statuses: Sequence[AgentStatus], environment: str, notes: Sequence[str], now: str) -> str:
    return json.dumps({"format": MIGRATE_FORMAT, "environment": environment, "now": now, "notes": list(notes),
                       "agents": [s.to_json() for s in statuses]}, indent=2, sort_keys=True) + "\n"


# --- revoke-legacy -----------------------------------------------------------------------------------------------


def step_line(step: Step) -> Terminal:
    """One step as it ends (stderr progress)."""
    return Terminal("[{}s] {} {}: {} {}").format(f"{step.seconds:6.2f}", step.system, step.action, step.target,
                                                 step.outcome)


def revocation_text(report: LegacyRevocation) -> str:
    lasted = "-" if report.lasted is None else format_duration(max(0, int(report.lasted))) or "0s"
    lines = [Terminal("Retiring the legacy credentials of {} in {} (identity {}), run by {}").format(
        report.agent, report.environment, report.identity_name, report.operator),
        Terminal("  parallel run: declared from {}, counted from {}, lasted {} of {}").format(
            report.declared_start or "-", report.start or "-", lasted, format_duration(report.required))]
    if report.forced:
        lines.append(Terminal("  FORCED by {}: {}").format(report.operator, report.reason))
    lines.append(Terminal(""))
    rows: list[tuple[object, ...]] = [("SYSTEM", "STEP", "TARGET", "RESULT", "AFTER", "DETAIL")]
    rows += [(s.system, s.action, s.target, s.outcome, f"{s.seconds:.2f}s", " ".join(s.detail.split()))
             for s in report.steps]
    lines += _columns(rows)
    lines.append(Terminal(""))
    done = [s for s in report.steps if s.outcome in DONE and s.system != "check"]
    kept = [s for s in report.steps if s.outcome is Outcome.KEPT and s.system != "check"]
    failed = [s for s in report.steps if s.outcome is Outcome.FAILED]
    if report.refused is not None:
        lines.append(Terminal("Nothing was retired: {}.").format(report.refused))
    elif failed:
        lines.append(Terminal("{} step(s) FAILED: the legacy credentials are not all retired; fix the cause and run "
                              "again (every step is read back, so a re-run finishes what is left).").format(
                                  len(failed)))
    elif kept:
        lines.append(Terminal("{} retired, {} kept on purpose (see why above): run again once that changes.").format(
            len(done), len(kept)))
    else:
        lines.append(Terminal("Every legacy credential is retired ({} step(s), each read back). Next: watch for "
                              "authentication failures with `agentiam migrate status --logs ...`.").format(len(done)))
    if report.record:
        lines.append(Terminal("Recorded in {}.").format(report.record))
    return "\n".join(lines) + "\n"


def revocation_json(report: LegacyRevocation) -> str:
    data: dict[str, Any] = {"format": MIGRATE_FORMAT, **report.to_json()}
    return json.dumps(data, indent=2, sort_keys=True) + "\n"
