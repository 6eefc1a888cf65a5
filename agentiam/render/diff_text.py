"""The diff as plain text for terminals: one line per agent x environment, then its changes and risks."""

from __future__ import annotations

from agentiam.diff.model import Change, CodeDiff, DiffReport
from agentiam.render.diff_common import SIGN, SYSTEM_TITLE, change_text, counts, head_label


def _change_lines(change: Change, where: str = "") -> list[str]:
    """One change and its risk labels, indented under the agent or environment it belongs to."""
    return ([f"    {SIGN[change.direction]} {SYSTEM_TITLE[change.system]:<8} {change_text(change)}{where}"]
            + [f"        ! {label.id} ({label.severity}): {label.reason}" for label in change.risks])


def _code_lines(code: CodeDiff) -> list[str]:
    """Changes caused by agentiam's own code: the files, then per stack every difference (its label said once)."""
    wider, _narrower, high = counts(code)
    lines = [f"changes caused by agentiam's own code: {code.verdict.value}  (+{wider}"
             + (f", {high} high risk" if high else "") + f"; files: {', '.join(code.files) or 'none'})"]
    for change in code.general:
        lines += _change_lines(change)
    for stack in code.stacks:
        lines.append(f"  stack {stack.stack}: {len(stack.changes)} difference(s) between base-code and head-code "
                     "snapshots")
        lines += [f"    {SIGN[c.direction]} {change_text(c)}" for c in stack.changes]
        labels = sorted({label for c in stack.changes for label in c.risks})
        lines += [f"        ! {label.id} ({label.severity}): {label.reason}" for label in labels]
    return lines


def render_text(report: DiffReport) -> str:
    """Readable without colour or Markdown; what `agentiam diff` prints by default."""
    lines = [f"agentiam diff: {report.base} -> {head_label(report.head)} "
             f"({len(report.changed_spec_files)} spec file(s), {len(report.changed_stack_files)} stack config(s) "
             f"changed; {report.specs_compiled} spec file(s) compiled)"]
    if report.code is not None:
        lines += _code_lines(report.code)
    for env in report.environments:
        wider, narrower, high = counts(env)
        cause = ", ".join(env.stack_files) or "agent specs"
        lines.append(f"environment {env.environment}: {env.verdict.value}  (+{wider} -{narrower}"
                     + (f", {high} high risk" if high else "") + f"; caused by {cause}, compiled {env.compiled})")
        for change in env.changes:
            lines += _change_lines(change)
    if not report.agents:
        lines.append("no agent x environment changes")
    width = max((len(a.agent) for a in report.agents), default=0)
    for agent in report.agents:
        wider, narrower, high = counts(agent)
        tail = f"+{wider} -{narrower}" + (f", {high} high risk" if high else "")
        tail += f", {len(agent.findings)} violation(s)" if agent.findings else ""
        lines.append(f"{agent.agent:<{width}}  {agent.environment:<8}  {agent.verdict.value}  ({tail})")
        lines += [f"    note: {note}" for note in agent.notes]
        for change in agent.changes:
            lines += _change_lines(change, f"  [{agent.file}:{change.line}]" if change.line else "")
    if report.findings:
        lines.append(f"guardrail violations at {head_label(report.head)}:")
        lines += [f"  {f.render()}" for f in report.findings]
    lines += [f"note: {n}" for n in report.notes]
    return "\n".join(lines) + "\n"
