"""The diff as plain text for terminals: environment-wide changes, then per agent its changes and risks, the
environments whose changes read the same once `{env}` and `{account}` are put back shown once, as the Markdown
comment does; lines of at most 120 columns, a longer one continued with a hanging indent.

Lines are `Terminal` text (`agentiam.render.escape`): every value is shown with escapes for control and invisible
characters, so a spec cannot recolour the terminal, overwrite a line or start one of its own.
"""

from __future__ import annotations

from itertools import groupby

from agentiam.diff.model import AgentDiff, Change, CodeDiff, DiffReport, EnvironmentDiff
from agentiam.render.diff_common import SIGN, SYSTEM_TITLE, change_text, counts, generic_values, head_label, word
from agentiam.render.escape import Terminal
from agentiam.render.text_layout import fold

WIDTH = 120  # columns: CI logs and review terminals
HANGING = 4  # further indent of a folded line's continuation
_EMPTY = Terminal("")
_SHARED = Terminal("    identical in these environments: {env} stands for each, {account} for its account")


def _change_lines(change: Change, kind: type[Terminal] = Terminal, where: Terminal = _EMPTY) -> list[Terminal]:
    """One change and its risk labels, indented under the agent or environment it belongs to."""
    return ([Terminal("    {} {:<8} {}{}").format(SIGN[change.direction], SYSTEM_TITLE[change.system],
                                                    change_text(change, kind), where)]
            + [Terminal("        ! {} ({}): {}").format(word(label.id), word(label.severity), kind.value(label.reason))
               for label in change.risks])


def _code_lines(code: CodeDiff) -> list[Terminal]:
    """Changes caused by agentiam's own code: the files, then per stack every difference (its label said once)."""
    wider, _narrower, high = counts(code)
    lines = [Terminal("changes caused by agentiam's own code: {}  (+{}{}; files: {})").format(
        code.verdict, wider, Terminal(", {} high risk").format(high) if high else _EMPTY,
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


def _environment_block(env: EnvironmentDiff, kind: type[Terminal]) -> tuple[Terminal, tuple[Terminal, ...]]:
    """(the part of its heading after the names, its change lines), with values in `kind`."""
    wider, narrower, high = counts(env)
    cause = Terminal(", ").join(kind.value(f) for f in env.stack_files) if env.stack_files \
        else Terminal("agent specs")
    tail = Terminal("{}  (+{} -{}{}; caused by {}, compiled {}").format(
        env.verdict, wider, narrower, Terminal(", {} high risk").format(high) if high else _EMPTY, cause,
        env.compiled)
    return tail, tuple(line for change in env.changes for line in _change_lines(change, kind))


def _environment_lines(report: DiffReport) -> list[Terminal]:
    """Environment-wide changes; environments whose changes read the same with `{env}` under one heading."""
    groups: dict[tuple, list[EnvironmentDiff]] = {}
    for env in report.environments:
        groups.setdefault(_environment_block(env, _generic(report, env.environment)), []).append(env)
    lines: list[Terminal] = []
    for (generic_tail, generic_lines), members in groups.items():
        shared = len(members) > 1
        tail, changes = (generic_tail, generic_lines) if shared else _environment_block(members[0], Terminal)
        lines.append(Terminal("environment {}: {})").format(Terminal(", ").join(e.environment for e in members), tail))
        lines += [_SHARED, *changes] if shared else changes
    return lines


def _generic(report: DiffReport, environment: str) -> type[Terminal]:
    return generic_values(Terminal, environment, report.accounts.get(environment, ""))


def _agent_block(agent: AgentDiff, kind: type[Terminal]) -> tuple[Terminal, tuple[Terminal, ...]]:
    """(its heading's verdict and counts, its note and change lines), with values in `kind`."""
    wider, narrower, high = counts(agent)
    tail = Terminal("{}  (+{} -{}{}{}").format(
        agent.verdict, wider, narrower, Terminal(", {} high risk").format(high) if high else _EMPTY,
        Terminal(", {} violation(s)").format(len(agent.findings)) if agent.findings else _EMPTY)
    lines = [Terminal("    note: {}").format(kind.value(note)) for note in agent.notes]
    for change in agent.changes:
        lines += _change_lines(change, kind, Terminal("  [{}:{}]").format(kind.value(agent.file), change.line)
                               if change.line else _EMPTY)
    return tail, tuple(lines)


def _agent_lines(report: DiffReport) -> list[Terminal]:
    """Per agent, one block per group of environments whose changes read the same with `{env}` put back."""
    blocks: list[tuple[Terminal, Terminal, Terminal, tuple[Terminal, ...]]] = []  # name, environments, tail, lines
    for name, entries in groupby(report.agents, key=lambda a: a.agent):
        groups: dict[tuple, list[AgentDiff]] = {}
        for agent in entries:
            groups.setdefault((agent.kind, _agent_block(agent, _generic(report, agent.environment))), []).append(agent)
        for (_kind, (generic_tail, generic_lines)), members in groups.items():
            shared = len(members) > 1
            tail, lines = (generic_tail, generic_lines) if shared else _agent_block(members[0], Terminal)
            blocks.append((Terminal.value(name), Terminal(", ").join(a.environment for a in members),
                           tail + Terminal(")"), (_SHARED, *lines) if shared else lines))
    name_width = max((len(b[0]) for b in blocks), default=0)
    env_width = max((len(b[1]) for b in blocks), default=0)
    out: list[Terminal] = []
    for name, environments, tail, lines in blocks:
        out.append(Terminal("{:<{}}  {:<{}}  {}").format(name, name_width, environments, env_width, tail))
        out += lines
    return out


def render_text(report: DiffReport, width: int = WIDTH) -> str:
    """Readable without colour or Markdown; what `agentiam diff` prints by default. Lines longer than `width`
    columns are folded at a space, continued with a hanging indent."""
    lines = [Terminal("agentiam diff: {} -> {} ({} spec file(s), {} stack config(s) changed; "
                      "{} spec file(s) compiled)").format(report.base, head_label(report.head),
                                                          len(report.changed_spec_files),
                                                          len(report.changed_stack_files), report.specs_compiled)]
    if report.code is not None:
        lines += _code_lines(report.code)
    lines += _environment_lines(report)
    if not report.agents:
        lines.append(Terminal("no agent x environment changes"))
    lines += _agent_lines(report)
    if report.findings:
        lines.append(Terminal("guardrail violations at {}:").format(head_label(report.head)))
        lines += [Terminal("  {}").format(f.render()) for f in report.findings]
    lines += [Terminal("note: {}").format(n) for n in report.notes]
    folded = [part for line in lines for part in fold(line, width, len(line) - len(line.lstrip(" ")) + HANGING)]
    return "\n".join(folded) + "\n"
