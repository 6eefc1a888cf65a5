"""The durable record of revoke-legacy runs: one JSON file per agent and environment, beside `agentiam revoke`'s.

`<state dir>/<env>/<agent>.migration.json` (`$AGENTIAM_STATE_DIR`, or `--state-dir`: the folder `agentiam revoke`
records in, so one durable folder serves both). A run is recorded before it touches anything, with who ran it and,
when forced, why; its steps are added when it ends. A forced run that cannot be recorded is not run. Each Vault role
revoke-legacy deletes is recorded with its settings first (never its role id, a login factor), so it can be
re-created. Writes are atomic (temporary file, fsync, rename), files private to the operator (0600).
"""

from __future__ import annotations

import getpass
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentiam.errors import ConfigError
from agentiam.revoke.state import write_private_json

STATE_FORMAT = 1
SUFFIX = ".migration.json"
KEPT_RUNS = 200  # older runs are dropped from the record; the forced ones are kept whatever their age


def operator() -> str:
    """Who runs the command, as the machine knows them (recorded with each run)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry for the uid (a container)
        return f"uid {os.getuid()}"


@dataclass
class MigrationRecord:
    """Everything revoke-legacy did for one agent in one environment."""

    agent: str
    environment: str
    runs: list[dict[str, Any]] = field(default_factory=list)
    retired: dict[str, dict[str, Any]] = field(default_factory=dict)  # credential subject -> when, how, settings

    def to_json(self) -> dict[str, Any]:
        return {"format": STATE_FORMAT, "agent": self.agent, "environment": self.environment, "runs": self.runs,
                "retired": self.retired}


class MigrationStore:
    """The folder of migration records (created on first write, 0700)."""

    def __init__(self, root: Path):
        self.root = root

    def path(self, environment: str, agent: str) -> Path:
        return self.root / environment / f"{agent}{SUFFIX}"

    def load(self, environment: str, agent: str) -> MigrationRecord:
        """The agent's record (empty when none); ConfigError naming the file when it cannot be read."""
        path = self.path(environment, agent)
        if not path.exists():
            return MigrationRecord(agent, environment)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("format") != STATE_FORMAT or data.get("agent") != agent:
                raise ValueError(f"not a format-{STATE_FORMAT} record of {agent}")
            return MigrationRecord(agent, environment, list(data.get("runs") or []), dict(data.get("retired") or {}))
        except (OSError, ValueError, TypeError, AttributeError) as exc:
            raise ConfigError(f"{path}: not a readable migration record ({exc}); move it away to go on") from exc

    def save(self, record: MigrationRecord) -> Path:
        """Write `record` atomically; ConfigError when the folder is not writable."""
        forced = [run for run in record.runs if run.get("forced")]
        recent = record.runs[-KEPT_RUNS:]
        record.runs = [run for run in record.runs if run in recent or run in forced]
        path = self.path(record.environment, record.agent)
        try:
            write_private_json(path, record.to_json())
        except OSError as exc:
            raise ConfigError(f"cannot write the migration record under {self.root}: {exc.strerror or exc}; set "
                              "AGENTIAM_STATE_DIR (or --state-dir) to a writable folder") from exc
        return path
