"""Findings: the data every check produces, rendered by separate writers."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import Enum

# Spec keys and values are echoed in findings; a newline or escape sequence in them must not start a line of its
# own (a forged `::error::` workflow command in CI logs, a fake finding in a terminal), recolour a terminal or
# reorder the line (bidirectional overrides): `Terminal` shows them as escapes.
from agentiam.render.escape import Terminal


class Severity(str, Enum):
    """How bad a finding is; `error` blocks validation, `warning` does not."""

    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, order=True)
class Finding:
    """One problem, located in a spec file by line, column and field path."""

    file: str
    line: int
    column: int
    rule_id: str
    severity: Severity
    path: str
    message: str

    def render(self) -> str:
        """`file:line:col  error  RULE  field: message`, the line reviewers act on; the severity says whether it
        blocks (`error`) or not (`warning`)."""
        field = Terminal("{}: ").format(self.path) if self.path else Terminal("")
        return str(Terminal("{}:{}:{}  {}  {}  {}{}").format(self.file, self.line, self.column, self.severity,
                                                             self.rule_id, field, self.message))

    def as_dict(self) -> dict:
        data = asdict(self)
        data["severity"] = self.severity.value
        return data


def has_errors(findings: list[Finding]) -> bool:
    """True when any finding is an error (the exit code is derived from this)."""
    return any(f.severity is Severity.ERROR for f in findings)
