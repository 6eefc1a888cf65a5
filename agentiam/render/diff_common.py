"""Wording shared by the diff writers: one sentence per change, so Markdown, text and annotations agree.

Every sentence is built in the writer's output kind (`agentiam.render.escape`): the wording below is the project's
own, everything taken from the change (subjects, values, resources, reasons) enters as a value and is escaped.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from typing import TypeVar

from agentiam.diff.model import SEVERITY_ORDER, AgentDiff, Change, CodeDiff, Direction, EnvironmentDiff, Op, System
from agentiam.diff.risk import LABELS
from agentiam.iam.catalogue import ACCESS_LEVELS
from agentiam.render.escape import Terminal, Trusted, Wording

K = TypeVar("K", bound=Trusted)
W = Wording

SIGN = {Direction.WIDER: W("+"), Direction.NARROWER: W("-"), Direction.NEUTRAL: W("~")}
SYSTEM_TITLE = {System.AGENT: W("agent"), System.FUNCTION: W("function class"), System.AWS: W("AWS"),
                System.VAULT: W("Vault"), System.DATABASE: W("database"), System.LIFETIME: W("credential lifetime"),
                System.NETWORK: W("network"), System.OWNER: W("ownership"), System.OTHER: W("other"),
                System.TRUST: W("trust"), System.ENVIRONMENT: W("environment"), System.BOUNDARY: W("boundary"),
                System.CONNECTION: W("db connection"), System.MOUNT: W("Vault mount"),
                System.LOGGING: W("log routing"), System.AUDIT: W("Vault audit"), System.CODE: W("code"),
                System.MIGRATION: W("migration")}
EXPANSION_SHOWN = 12  # actions listed for a wildcard before "and N more"

# The engine's vocabulary (every `Op`), shown as words.
VOCABULARY = Wording.vocabulary((*Op, *ACCESS_LEVELS, *SEVERITY_ORDER, *(label.id for label in LABELS)))

# Phrases per (system, op); op "" is the system's fallback. {s} subject, {b} before, {a} after.
_PHRASES = {
    ("vault", "added"): W("path {s} added with [{a}]"),
    ("vault", "removed"): W("path {s} removed (was [{b}])"),
    ("vault", ""): W("path {s} {op}: [{b}] -> [{a}]"),
    ("database", "added"): W("{a} credentials for database {s} added"),
    ("database", "removed"): W("{b} credentials for database {s} removed"),
    ("database", ""): W("database {s} access {b} -> {a}"),
    ("trust", "added"): W("{s} added: {a}"),
    ("boundary", "added"): W("{s} allowed by the class ceiling"),
    ("boundary", "removed"): W("{s} no longer allowed by the class ceiling"),
    ("environment", "added"): W("environment {s} added"),
    ("environment", "removed"): W("environment {s} removed"),
}
# Boundary existence changes read differently from its actions (subject `<class> boundary`).
_BOUNDARY_EXISTS = {"added": W("{s} created ({a})"), "removed": W("{s} deleted ({b})")}


def word(text: str | None) -> Wording | str | None:
    """A word of the engine's vocabulary as wording; any other text stays a value."""
    return VOCABULARY.get(text, text) if text is not None else None


def listed(count: int, names: Sequence[str], kind: type[K]) -> K:
    """`; reaches 63 actions: a, b, ... and 51 more` (plain writers show the first EXPANSION_SHOWN)."""
    text = kind.compose(W("; reaches {} actions: {}"), count, kind.compose(W(", ")).join(names[:EXPANSION_SHOWN]))
    more = count - EXPANSION_SHOWN
    return text + kind.compose(W(" and {} more"), more) if more > 0 else text


def _levels(access_level: str, kind: type[K]) -> K:
    """` (Read, Write)`: the catalogue's access levels."""
    return kind.compose(W(" ({})"), kind.compose(W(", ")).join(word(level) for level in access_level.split(", ")))


CODE_VALUE_SHOWN = 300  # characters of a value a code change shows; the JSON report and the snapshots have all


def _clip(text: str | None) -> str:
    if text is None:
        return "(absent)"
    return text if len(text) <= CODE_VALUE_SHOWN else f"{text[:CODE_VALUE_SHOWN]}… ({len(text)} characters)"


def code_change_text(change: Change, kind: type[K] = Terminal) -> K:  # type: ignore[assignment]
    """A change caused by agentiam's own code (`agentiam.diff.toolchange`): a resource, a field, or a file."""
    subject = change.subject
    if change.op == "not compiled":
        return kind.compose(W("{} changed: its effect was not compiled ({})"), subject, _clip(change.after))
    if change.op == "no effect":
        return kind.compose(W("{} changed: no effect on what deploys ({})"), subject, _clip(change.after))
    if change.op == "added" and change.after and not change.field:
        return kind.compose(W("{} registered only by the head's code"), subject)
    if change.op == "removed" and change.before and not change.field:
        return kind.compose(W("{} no longer registered by the head's code"), subject)
    if change.field:
        return kind.compose(W("{}: {} {} -> {}"), subject, change.field, _clip(change.before), _clip(change.after))
    return kind.compose(W("{} {}: the review gate itself"), subject, word(change.op))


def change_text(change: Change, kind: type[K] = Terminal,  # type: ignore[assignment]
                expansion: Callable[[int, Sequence[str], type[K]], K] = listed) -> K:
    """`iam:PassRole` (Write) added on arn:..., in words a reviewer can check against the spec."""
    if change.system == "code":
        return code_change_text(change, kind)
    empty = kind.compose(W(""))
    level = _levels(change.access_level, kind) if change.access_level else empty
    op = word(change.op)
    on = kind.compose(W(" on {}"), kind.compose(W(", ")).join(change.resources)) if change.resources else empty
    if change.system == "aws":
        if change.op in ("widened", "narrowed"):
            return kind.compose(W("{}{} scope {}: {} -> {}"), change.subject, level, op, change.before or "",
                                change.after or "")
        if change.op == "subsumed":
            return kind.compose(W("{}{} replaced by {}{}"), change.subject, level, change.after or "", on)
        reached = expansion(len(change.expands_to), change.expands_to, kind) if change.expands_to else empty
        return kind.compose(W("{}{} {}{}{}"), change.subject, level, op, on, reached)
    if change.system == "agent" and change.subject != "status":
        return kind.compose(W("agent {} (status {})"), op, change.after if change.op == "added" else change.before)
    phrase = _PHRASES.get((change.system, change.op)) or _PHRASES.get((change.system, ""))
    if change.system == "boundary" and change.subject.endswith(" boundary"):
        phrase = _BOUNDARY_EXISTS.get(change.op, phrase)
    elif change.system == "boundary" and change.after and change.op == "added":
        phrase = W("{s} listed by the class ceiling, {a}")
    elif change.system == "trust" and change.after is None:
        phrase = None
    subject = change.subject
    if change.system == "boundary" and change.access_level and phrase and "{s}" in phrase:
        subject = kind.compose(W("{}{}"), change.subject, level)
    if phrase:
        return kind.compose(phrase, s=subject, op=op, b=word(change.before), a=word(change.after))
    if change.before is None and change.after is None:
        return kind.compose(W("{} {}"), subject, op)
    if change.before is None:
        return kind.compose(W("{} {}: {}"), subject, op, change.after)
    if change.after is None:
        return kind.compose(W("{} {} (was {})"), subject, op, change.before)
    return kind.compose(W("{} {}: {} -> {}"), subject, op, change.before, change.after)


def risk_text(change: Change, kind: type[K] = Terminal) -> K:  # type: ignore[assignment]
    """`privilege-escalation (high): ...; wildcard (medium): ...`."""
    return kind.compose(W("; ")).join(kind.compose(W("{} ({}): {}"), word(r.id), word(r.severity), r.reason)
                                      for r in change.risks)


def counts(agent: AgentDiff | EnvironmentDiff | CodeDiff) -> tuple[int, int, int]:
    """(widening, narrowing, high-risk) change counts of one agent x environment, or of one environment."""
    return (agent.count(Direction.WIDER), agent.count(Direction.NARROWER), len(agent.high_risk_changes))


def head_label(head: str, kind: type[K] = Terminal) -> K:  # type: ignore[assignment]
    """The head revision as written on the command line, or `the working tree`."""
    return kind.compose(W("the working tree")) if head == "WORKTREE" else kind.value(head)


@functools.lru_cache(maxsize=256)
def generic_values(kind: type[K], environment: str, account: str) -> type[K]:
    """`kind` whose values read `{env}` / `{account}` for this environment's name and account id, as the spec
    writes them (inside values only: the markup or wording around them is never rewritten). Changes of several
    environments that read the same this way are shown once, for all of them."""
    name = re.compile(rf"(?<![A-Za-z0-9]){re.escape(environment)}(?![A-Za-z0-9])")
    return kind.with_values(lambda text: name.sub("{env}", text.replace(account, "{account}") if account else text))
