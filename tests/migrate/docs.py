"""Example output for docs/migrate.md from real runs: the reports a test's commands built are captured, the names
and times that differ between runs (random environment, key ids, accessors, clock, paths) are replaced in the data,
and the tool's own text renderer draws them again (so columns line up as the tool lays them out).

After an intended change: AGENTIAM_REGEN_GOLDEN=1 python -m pytest tests/migrate tests/integration/test_migrate.py
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Callable
from enum import Enum
from pathlib import Path
from typing import Any

import pytest

from agentiam.migrate import render
from agentiam.migrate.legacy import AgentStatus, LegacyRevocation
from agentiam.migrate.render import revocation_text as _revocation_text
from agentiam.migrate.render import status_text as _status_text
from tests.check.test_docs import _section

DOC = Path(__file__).resolve().parents[2] / "docs" / "migrate.md"
BASE = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.timezone.utc)  # the parallel run's start as the page shows it
_STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


def section(name: str, body: str) -> None:
    """docs/migrate.md's `<!-- name -->` section is `body` (rewritten under AGENTIAM_REGEN_GOLDEN=1)."""
    _section(DOC, name, body)


@dataclasses.dataclass
class Scrub:
    """Replacements for what differs between runs: exact strings, and every timestamp moved so that `start` reads
    BASE (see `_moved`)."""

    start: dt.datetime
    names: dict[str, str]  # replaced wherever they occur (longest first)
    words: dict[str, str] = dataclasses.field(default_factory=dict)  # replaced as whole words only (a user name)

    def text(self, value: str) -> str:
        for old, new in sorted(self.names.items(), key=lambda kv: -len(kv[0])):
            value = value.replace(old, new)
        for old, new in self.words.items():
            value = re.sub(rf"\b{re.escape(old)}\b", new, value)
        return _STAMP.sub(self._moved, value)

    def _moved(self, match: re.Match[str]) -> str:
        """Near the start (setting up, a probe after it) a loaded machine takes seconds or minutes: those read one
        minute before BASE or BASE; the run's clock moves in whole hours, and so do lifetimes: to the hour."""
        moment = dt.datetime.strptime(match.group(0), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc)
        offset = (moment - self.start).total_seconds()
        if abs(offset) < 600:
            moved = BASE - dt.timedelta(minutes=1) if offset < 0 else BASE
        else:
            moved = BASE + dt.timedelta(hours=round(offset / 3600))
        return moved.strftime("%Y-%m-%dT%H:%M:%SZ")

    def __call__(self, value: Any) -> Any:
        if isinstance(value, Enum):  # outcomes and stages are str enums: kept as they are
            return value
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, (list, tuple)):
            return type(value)(self(v) for v in value)
        if isinstance(value, dict):
            return {self(k): self(v) for k, v in value.items()}
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            changes = {f.name: self(getattr(value, f.name)) for f in dataclasses.fields(value)}
            if "seconds" in changes:  # step timings differ on every run
                changes["seconds"] = 0.0
            return dataclasses.replace(value, **changes)
        return value


@dataclasses.dataclass
class Capture:
    """Every status list and revocation report the CLI rendered, in order (json or text alike)."""

    statuses: list[tuple[list[AgentStatus], str, list[str], str]] = dataclasses.field(default_factory=list)
    revocations: list[LegacyRevocation] = dataclasses.field(default_factory=list)

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        def statuses(original: Callable[..., str]) -> Callable[..., str]:
            def wrapper(statuses: Any, environment: str, notes: Any, now: str) -> str:
                self.statuses.append((list(statuses), environment, list(notes), now))
                return original(statuses, environment, notes, now)
            return wrapper

        def revocation(original: Callable[[LegacyRevocation], str]) -> Callable[[LegacyRevocation], str]:
            def wrapper(report: LegacyRevocation) -> str:
                self.revocations.append(report)
                return original(report)
            return wrapper

        for name in ("status_text", "status_json"):
            monkeypatch.setattr(render, name, statuses(getattr(render, name)))
        for name in ("revocation_text", "revocation_json"):
            monkeypatch.setattr(render, name, revocation(getattr(render, name)))

    def status_text(self, index: int, scrub: Scrub) -> str:
        statuses, environment, notes, now = self.statuses[index]
        return _status_text(scrub(statuses), scrub(environment), scrub(notes), scrub(now))

    def revocation_text(self, index: int, scrub: Scrub) -> str:
        return _revocation_text(scrub(self.revocations[index]))


def console(command: str, output: str) -> str:
    """A console block: the command as a team types it, then what the tool printed."""
    return f"```console\n$ {command}\n{output}```\n"
