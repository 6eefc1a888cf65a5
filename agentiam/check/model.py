"""Check findings and the report: data, rendered by separate writers (text, JSON, Markdown, SARIF)."""

from __future__ import annotations

import heapq
import itertools
from dataclasses import dataclass, field
from typing import Any

from agentiam.audit.model import AgentEvent, format_time
from agentiam.check.rules import Level

MAX_EVIDENCE = 5  # earliest records kept per finding; the count says how many there were


@dataclass(frozen=True, order=True)
class Evidence:
    """One log record behind a finding: when, where it is (file:line) and the log's own ids."""

    time: float
    lines: tuple[str, ...]
    ids: tuple[str, ...]
    detail: str = ""  # the error the log gave, the origin address...

    def as_dict(self) -> dict[str, Any]:
        return {"time": format_time(self.time), "lines": list(self.lines), "ids": list(self.ids),
                "detail": self.detail or None}


_tiebreak = itertools.count()


@dataclass
class Tally:
    """Records of one kind: how many, the time span, and the earliest few as evidence (bounded memory)."""

    count: int = 0
    first: float = float("inf")
    last: float = float("-inf")
    _earliest: list[tuple[float, int, Evidence]] = field(default_factory=list)  # max-heap on time (negated)

    def add(self, event: AgentEvent, detail: str = "") -> None:
        self.count += 1
        self.first = min(self.first, event.time)
        self.last = max(self.last, event.time)
        if len(self._earliest) < MAX_EVIDENCE or -self._earliest[0][0] > event.time:
            item = (-event.time, next(_tiebreak), Evidence(event.time, tuple(event.lines), tuple(event.ids), detail))
            if len(self._earliest) < MAX_EVIDENCE:
                heapq.heappush(self._earliest, item)
            else:
                heapq.heapreplace(self._earliest, item)

    def evidence(self) -> list[Evidence]:
        return sorted(item[2] for item in self._earliest)


@dataclass
class CheckFinding:
    """One finding about one agent x environment (or, for unattributed failed logins, one auth mount)."""

    rule_id: str
    severity: Level
    agent: str | None
    environment: str | None
    subject: str  # what it is about: an action, a path, a grant, an address
    message: str
    count: int = 0
    first: float | None = None
    last: float | None = None
    evidence: list[Evidence] = field(default_factory=list)
    suggestion: str | None = None
    file: str = ""  # the spec file (and field) to change, when there is one
    line: int = 0
    column: int = 0
    field: str = ""
    removal: tuple = ()  # the spec path `--suggest` removes (unused in every environment of the spec), or ()

    @property
    def sort_key(self) -> tuple:
        return (-self.severity.rank, self.rule_id, self.environment or "", self.agent or "", self.subject)

    def as_dict(self) -> dict[str, Any]:
        return {"rule_id": self.rule_id, "severity": self.severity.value, "agent": self.agent,
                "environment": self.environment, "subject": self.subject, "message": self.message,
                "count": self.count, "first": format_time(self.first) if self.first is not None else None,
                "last": format_time(self.last) if self.last is not None else None,
                "evidence": [e.as_dict() for e in self.evidence], "suggestion": self.suggestion,
                "file": self.file or None, "line": self.line or None, "column": self.column or None,
                "field": self.field or None, "removable": bool(self.removal)}


@dataclass
class AgentActivity:
    """What one agent x environment did in the window (for the report and `compliance`)."""

    agent: str
    environment: str
    events: int = 0
    logins: int = 0
    failed_logins: int = 0
    denied: int = 0
    first: float | None = None
    last: float | None = None
    grants: int = 0
    unused: int = 0
    judged: bool = False  # unused permissions judged (old enough, input covers the window)
    not_judged_because: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"agent": self.agent, "environment": self.environment, "events": self.events, "logins": self.logins,
                "failed_logins": self.failed_logins, "denied": self.denied,
                "first": format_time(self.first) if self.first is not None else None,
                "last": format_time(self.last) if self.last is not None else None,
                "grants": self.grants, "unused": self.unused, "unused_judged": self.judged,
                "not_judged_because": self.not_judged_because or None}


@dataclass
class CheckReport:
    """Everything `check` found, with what it read and what it could not judge."""

    since: float
    until: float
    environments: list[str]
    findings: list[CheckFinding]
    activity: list[AgentActivity]
    notes: list[str]
    input: dict[str, Any]
    problems: list[str]  # input that could not be read (exit 2)

    def as_dict(self) -> dict[str, Any]:
        return {"format": 1, "window": {"since": format_time(self.since), "until": format_time(self.until)},
                "environments": self.environments, "input": self.input, "problems": self.problems,
                "notes": self.notes, "summary": self.summary(),
                "findings": [f.as_dict() for f in self.findings], "agents": [a.as_dict() for a in self.activity]}

    def summary(self) -> dict[str, int]:
        return {level.value: sum(f.severity is level for f in self.findings) for level in reversed(Level)}

    def worst(self) -> Level | None:
        return max((f.severity for f in self.findings), key=lambda level: level.rank, default=None)
