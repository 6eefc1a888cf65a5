"""The diff as plain text for terminals: one line per agent x environment, then its changes and risks.

Lines are `Terminal` text (`agentiam.render.escape`): every value is shown with escapes for control and invisible
characters, so a spec cannot recolour the terminal, overwrite a line or start one of its own.
"""

from __future__ import annotations

from agentiam.diff.model import Change, CodeDiff, DiffReport
from agentiam.render.diff_common import SIGN, SYSTEM_TITLE, change_text, counts, head_label, word
from agentiam.render.escape import Terminal


def _change_lines(change: Change, where: Terminal = Terminal("")) -> list[Terminal]:
    """One change and its risk labels, indented under the agent or environment it belongs to."""
    return ([Terminal("    {} {:<8} {}{}").format(SIGN[change.direction], SYSTEM_TITLE[change.system],
                                                    change_text(change, Terminal), where)]
            + [Terminal("        ! {} ({}): {}").format(word(label.id), word(label.severity), label.reason)
               for label in change.risks])


def _code_lines(code: CodeDiff) -> list[Terminal]:
    """Changes caused by agentiam's own code: the files, then per stack every difference (its label said once)."""
    wider, _narrower, high = counts(code)
    lines = [Terminal("changes caused by agentiam's own code: {}  (+{}{}; files: {})").format(
        code.verdict, wider, Terminal(", {} high risk").format(high) if high else Terminal(""),
        Terminal(", ").join(code.files) if code.files else Terminal("none"))]
    for change in code.general:
        lines += _change_lines(change)
    for stack in code.stacks:
        lines.append(Terminal("  stack {}: {} difference(s) between base-code and head-code snapshots").format(
            stack.stack, len(stack.changes)))
        lines += [Terminal("    {} {}").format(SIGN[c.direction], change_text(c, Terminal)) for c in stack.changes]
        labels = sorted({label for c in stack.changes for label in c.risks})
        lines += [Terminal("        ! {} ({}): {}").format(word(label.id), word(label.severity), label.reason)
                  for label in labels]
    return lines


def render_text(report: DiffReport) -> str:
    """Readable without colour or Markdown; what `agentiam diff` prints by default."""
    lines = [Terminal("agentiam diff: {} -> {} ({} spec file(s), {} stack config(s) changed; "
                      "{} spec file(s) compiled)").format(report.base, head_label(report.head),
                                                          len(report.changed_spec_files),
                                                          len(report.changed_stack_files), report.specs_compiled)]
    if report.code is not None:
        lines += _code_lines(report.code)
    for env in report.environments:
        wider, narrower, high = counts(env)
        cause = Terminal(", ").join(env.stack_files) if env.stack_files else Terminal("agent specs")
        lines.append(Terminal("environment {}: {}  (+{} -{}{}; caused by {}, compiled {})").format(
            env.environment, env.verdict, wider, narrower,
            Terminal(", {} high risk").format(high) if high else Terminal(""), cause, env.compiled))
        for change in env.changes:
            lines += _change_lines(change)
    if not report.agents:
        lines.append(Terminal("no agent x environment changes"))
    shown = [Terminal.value(a.agent) for a in report.agents]
    width = max((len(name) for name in shown), default=0)
    for agent, name in zip(report.agents, shown):
        wider, narrower, high = counts(agent)
        tail = Terminal("+{} -{}").format(wider, narrower) + (
            Terminal(", {} high risk").format(high) if high else Terminal(""))
        tail += Terminal(", {} violation(s)").format(len(agent.findings)) if agent.findings else Terminal("")
        lines.append(Terminal("{:<{}}  {:<8}  {}  ({})").format(name, width, agent.environment, agent.verdict, tail))
        lines += [Terminal("    note: {}").format(note) for note in agent.notes]
        for change in agent.changes:
            lines += _change_lines(change, Terminal("  [{}:{}]").format(agent.file, change.line)
                                   if change.line else Terminal(""))
    if report.findings:
        lines.append(Terminal("guardrail violations at {}:").format(head_label(report.head)))
        lines += [Terminal("  {}").format(f.render()) for f in report.findings]
    lines += [Terminal("note: {}").format(n) for n in report.notes]
    return "\n".join(lines) + "\n"
