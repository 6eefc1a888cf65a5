"""Wording shared by the diff writers: one sentence per change, so Markdown, text and annotations agree."""

from __future__ import annotations

from collections.abc import Callable

from agentiam.diff.model import AgentDiff, Change, Direction, EnvironmentDiff

SIGN = {Direction.WIDER: "+", Direction.NARROWER: "-", Direction.NEUTRAL: "~"}
SYSTEM_TITLE = {"agent": "agent", "function": "function class", "aws": "AWS", "vault": "Vault", "database": "database",
                "lifetime": "credential lifetime", "network": "network", "owner": "ownership", "other": "other",
                "trust": "trust", "environment": "environment", "boundary": "boundary", "connection": "db connection",
                "mount": "Vault mount", "logging": "log routing", "audit": "Vault audit", "code": "code"}
EXPANSION_SHOWN = 12  # actions listed for a wildcard before "and N more"


def plain(text: str) -> str:
    return text


# Phrases per (system, op); op "" is the system's fallback. {s} subject, {b} before, {a} after.
_PHRASES = {
    ("vault", "added"): "path {s} added with [{a}]",
    ("vault", "removed"): "path {s} removed (was [{b}])",
    ("vault", ""): "path {s} {op}: [{b}] -> [{a}]",
    ("database", "added"): "{a} credentials for database {s} added",
    ("database", "removed"): "{b} credentials for database {s} removed",
    ("database", ""): "database {s} access {b} -> {a}",
    ("trust", "added"): "{s} added: {a}",
    ("boundary", "added"): "{s} allowed by the class ceiling",
    ("boundary", "removed"): "{s} no longer allowed by the class ceiling",
    ("environment", "added"): "environment {s} added",
    ("environment", "removed"): "environment {s} removed",
}
# Boundary existence changes read differently from its actions (subject `<class> boundary`).
_BOUNDARY_EXISTS = {"added": "{s} created ({a})", "removed": "{s} deleted ({b})"}


def listed(count: int, names: list[str], code: Callable[[str], str]) -> str:
    """`reaches 63 actions: a, b, ... and 51 more` (plain writers show the first EXPANSION_SHOWN)."""
    shown = ", ".join(code(a) for a in names[:EXPANSION_SHOWN])
    more = count - EXPANSION_SHOWN
    return f"; reaches {count} actions: {shown}" + (f" and {more} more" if more > 0 else "")


CODE_VALUE_SHOWN = 300  # characters of a value a code change shows; the JSON report and the snapshots have all


def _clip(text: str | None) -> str:
    if text is None:
        return "(absent)"
    return text if len(text) <= CODE_VALUE_SHOWN else f"{text[:CODE_VALUE_SHOWN]}… ({len(text)} characters)"


def code_change_text(change: Change, code: Callable[[str], str] = plain) -> str:
    """A change caused by agentiam's own code (`agentiam.diff.toolchange`): a resource, a field, or a file."""
    subject = code(change.subject)
    if change.op == "not compiled":
        return f"{subject} changed: its effect was not compiled ({code(_clip(change.after))})"
    if change.op == "no effect":
        return f"{subject} changed: no effect on what deploys ({_clip(change.after)})"
    if change.op == "added" and change.after and not change.field:
        return f"{subject} registered only by the head's code"
    if change.op == "removed" and change.before and not change.field:
        return f"{subject} no longer registered by the head's code"
    if change.field:
        return f"{subject}: {code(change.field)} {code(_clip(change.before))} -> {code(_clip(change.after))}"
    return f"{subject} {change.op}: the review gate itself"


def change_text(change: Change, code: Callable[[str], str] = plain,
                expansion: Callable[[int, list[str], Callable[[str], str]], str] = listed) -> str:
    """`iam:PassRole` (Write) added on arn:..., in words a reviewer can check against the spec."""
    if change.system == "code":
        return code_change_text(change, code)
    subject = code(change.subject)
    level = f" ({change.access_level})" if change.access_level else ""
    on = f" on {', '.join(code(r) for r in change.resources)}" if change.resources else ""
    if change.system == "aws":
        if change.op in ("widened", "narrowed"):
            return f"{subject}{level} scope {change.op}: {code(change.before or '')} -> {code(change.after or '')}"
        if change.op == "subsumed":
            return f"{subject}{level} replaced by {code(change.after or '')}{on}"
        reached = expansion(len(change.expands_to), list(change.expands_to), code) if change.expands_to else ""
        return f"{subject}{level} {change.op}{on}{reached}"
    if change.system == "agent" and change.subject != "status":
        state = change.after if change.op == "added" else change.before
        return f"agent {change.op} (status {state})"
    phrase = _PHRASES.get((change.system, change.op)) or _PHRASES.get((change.system, ""))
    if change.system == "boundary" and change.subject.endswith(" boundary"):
        phrase = _BOUNDARY_EXISTS.get(change.op, phrase)
    elif change.system == "boundary" and change.after and change.op == "added":
        phrase = "{s} listed by the class ceiling, {a}"
    elif change.system == "trust" and change.after is None:
        phrase = None
    if change.system == "boundary" and change.access_level and phrase and "{s}" in phrase:
        phrase = phrase.replace("{s}", "{s} (" + change.access_level + ")", 1)
    if phrase:
        return phrase.format(s=subject, op=change.op, b=change.before, a=change.after)
    if change.before is None and change.after is None:
        return f"{subject} {change.op}"
    if change.before is None:
        return f"{subject} {change.op}: {change.after}"
    if change.after is None:
        return f"{subject} {change.op} (was {change.before})"
    return f"{subject} {change.op}: {change.before} -> {change.after}"


def risk_text(change: Change) -> str:
    """`privilege-escalation (high): ...; wildcard (medium): ...`."""
    return "; ".join(f"{r.id} ({r.severity}): {r.reason}" for r in change.risks)


def counts(agent: AgentDiff | EnvironmentDiff) -> tuple[int, int, int]:
    """(widening, narrowing, high-risk) change counts of one agent x environment, or of one environment."""
    return (agent.count(Direction.WIDER), agent.count(Direction.NARROWER), len(agent.high_risk_changes))


def head_label(head: str) -> str:
    return "the working tree" if head == "WORKTREE" else head
