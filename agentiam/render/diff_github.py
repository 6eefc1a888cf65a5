"""GitHub Actions output: workflow-command annotations on the spec lines, and the job summary."""

from __future__ import annotations

import os
from pathlib import Path

from agentiam.diff.model import DiffReport, Direction, Verdict
from agentiam.render.diff_common import change_text, risk_text


def _escape_data(text: str) -> str:
    # Workflow commands: %, CR and LF must be escaped in the message (GitHub docs, "workflow commands").
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def annotations(report: DiffReport) -> list[str]:
    """`::error` on each high-risk addition, `::warning` on each other widening with a risk label.

    One annotation per spec line and natural key, naming the environments it applies to (the same
    line usually widens dev, staging and prod alike); the text is the first environment's.
    """
    merged: dict[tuple[str, int, int, str, str], list[str]] = {}
    details: dict[tuple[str, int, int, str, str], str] = {}
    for agent in report.agents:
        for change in agent.changes:
            if change.direction is not Direction.WIDER or not change.risks or change.line is None:
                continue
            level = "error" if change.high_risk else "warning"
            key = (agent.file, change.line, change.column or 1, level, f"{agent.agent}: {change.subject}")
            merged.setdefault(key, []).append(agent.environment)
            details.setdefault(key, f"{agent.agent}: {change_text(change)} - {risk_text(change)}")
    lines = _code_annotations(report) + _environment_annotations(report)
    for key, envs in merged.items():
        file, line, column, level, _subject = key
        title = f"agentiam diff: {'high-risk' if level == 'error' else 'widened'} permission ({', '.join(envs)})"
        message = details[key] + (f" (shown for {envs[0]}; same change in {', '.join(envs[1:])})"
                                   if len(envs) > 1 else "")
        lines.append(f"::{level} file={_escape_property(file)},line={line},col={column},"
                     f"title={_escape_property(title)}::{_escape_data(message)}")
    return lines


def _environment_annotations(report: DiffReport) -> list[str]:
    """Risky environment-wide changes, annotated on the stack config that changed (file-level: no line)."""
    lines = []
    for env in report.environments:
        for change in env.changes:
            if change.direction is not Direction.WIDER or not change.risks or not env.stack_files:
                continue
            level = "error" if change.high_risk else "warning"
            title = f"agentiam diff: environment {env.environment} {'high-risk' if change.high_risk else 'widened'}"
            message = f"{change_text(change)} - {risk_text(change)}"
            lines.append(f"::{level} file={_escape_property(env.stack_files[0])},title={_escape_property(title)}"
                         f"::{_escape_data(message)}")
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
            lines.append(f"::error file={_escape_property(change.subject)},"
                         f"title={_escape_property('agentiam diff: the review gate changed')}"
                         f"::{_escape_data(change_text(change) + ' - ' + risk_text(change))}")
    tool_files = [f for f in code.files if f not in code.gate_files]
    stacks = [s for s in code.stacks if s.high_risk_changes]
    if stacks:
        what = "; ".join(f"{len(s.changes)} difference(s) in {s.stack}" for s in stacks)
        message = f"what deploys changes with the head's code: {what} (details in the job summary)"
    else:
        reasons = [change_text(c) for c in code.general if c.high_risk and c.subject not in code.gate_files]
        message = "; ".join(reasons)
    for file in tool_files[:CODE_FILES_ANNOTATED] if message else []:
        lines.append(f"::error file={_escape_property(file)},"
                     f"title={_escape_property('agentiam diff: the tool code changed')}"
                     f"::{_escape_data(message)}")
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
