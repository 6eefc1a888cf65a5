"""GitHub Actions output: workflow-command annotations on the spec lines, and the job summary.

Annotation texts are `Terminal` text (values with visible escapes), then escaped once more as a whole for the
workflow-command syntax (`escape.workflow_data`, `escape.workflow_property`) by `_command`, the one place a command
line is written. The job summary is the PR comment's Markdown (`diff_markdown`), escaped there.
"""

import os
from pathlib import Path

from agentiam.diff.model import DiffReport, Direction, Verdict
from agentiam.render.diff_common import change_text, risk_text
from agentiam.render.escape import Terminal, workflow_data, workflow_property


def _command(level: str, file: str, title: str, message: str, line: int | None = None,
             column: int | None = None) -> str:
    """`::error file=F,line=L,col=C,title=T::MESSAGE`, every part escaped for the workflow-command syntax."""
    where = f",line={line},col={column}" if line is not None else ""
    return (f"::{level} file={workflow_property(file)}{where},title={workflow_property(title)}"
            f"::{workflow_data(message)}")


def annotations(report: DiffReport) -> list[str]:
    """`::error` on each high-risk addition, `::warning` on each other widening with a risk label.

    One annotation per spec line and natural key, naming the environments it applies to (the same
    line usually widens dev, staging and prod alike); the text is the first environment's.
    """
    merged: dict[tuple[str, int, int, str, str], list[str]] = {}
    details: dict[tuple[str, int, int, str, str], Terminal] = {}
    for agent in report.agents:
        for change in agent.changes:
            if change.direction is not Direction.WIDER or not change.risks or change.line is None:
                continue
            level = "error" if change.high_risk else "warning"
            key = (agent.file, change.line, change.column or 1, level, f"{agent.agent}: {change.subject}")
            merged.setdefault(key, []).append(agent.environment)
            details.setdefault(key, Terminal("{}: {} - {}").format(agent.agent, change_text(change), risk_text(change)))
    lines = _code_annotations(report) + _environment_annotations(report)
    for key, envs in merged.items():
        file, line, column, level, _subject = key
        title = Terminal("agentiam diff: {} permission ({})").format(
            Terminal("high-risk") if level == "error" else Terminal("widened"), Terminal(", ").join(envs))
        message = details[key] + (Terminal(" (shown for {}; same change in {})").format(
            envs[0], Terminal(", ").join(envs[1:])) if len(envs) > 1 else Terminal(""))
        lines.append(_command(level, file, title, message, line, column))
    return lines


def _environment_annotations(report: DiffReport) -> list[str]:
    """Risky environment-wide changes, annotated on the stack config that changed (file-level: no line)."""
    lines = []
    for env in report.environments:
        for change in env.changes:
            if change.direction is not Direction.WIDER or not change.risks or not env.stack_files:
                continue
            level = "error" if change.high_risk else "warning"
            title = Terminal("agentiam diff: environment {} {}").format(
                env.environment, Terminal("high-risk") if change.high_risk else Terminal("widened"))
            message = Terminal("{} - {}").format(change_text(change), risk_text(change))
            lines.append(_command(level, env.stack_files[0], title, message))
    return lines


CODE_FILES_ANNOTATED = 10  # GitHub shows at most 10 error annotations per step anyway


def _code_annotations(report: DiffReport) -> list[str]:
    """High-risk changes caused by agentiam's own code, annotated on the files that cause them (file-level)."""
    code = report.code
    if code is None or code.verdict is not Verdict.HIGH_RISK:
        return []
    lines = []
    for change in code.general:
        if change.high_risk and change.subject in code.gate_files:
            lines.append(_command("error", change.subject, Terminal("agentiam diff: the review gate changed"),
                                  Terminal("{} - {}").format(change_text(change), risk_text(change))))
    tool_files = [f for f in code.files if f not in code.gate_files]
    stacks = [s for s in code.stacks if s.high_risk_changes]
    if stacks:
        message = Terminal("what deploys changes with the head's code: {} (details in the job summary)").format(
            Terminal("; ").join(Terminal("{} difference(s) in {}").format(len(s.changes), s.stack) for s in stacks))
    else:
        message = Terminal("; ").join(change_text(c) for c in code.general
                                      if c.high_risk and c.subject not in code.gate_files)
    for file in tool_files[:CODE_FILES_ANNOTATED] if message else []:
        lines.append(_command("error", file, Terminal("agentiam diff: the tool code changed"), message))
    return lines


def in_github_actions() -> bool:
    return os.environ.get("GITHUB_ACTIONS") == "true"


def append_step_summary(markdown: str) -> Path | None:
    """Append to `$GITHUB_STEP_SUMMARY` (the job's summary page); None when not set."""
    target = os.environ.get("GITHUB_STEP_SUMMARY")
    if not target:
        return None
    path = Path(target)
    with path.open("a", encoding="utf-8") as out:
        out.write(markdown)
    return path
