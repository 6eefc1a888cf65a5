"""Unfinished revocations, kept on disk until a later run finishes them (`agentiam revoke --resume`).

One JSON file per agent and environment, `<state dir>/<env>/<agent>.revocation.json`, written when a run leaves anything
undone (a failed step, a database user still alive) and deleted by the first run that completes. Writes are
atomic (temporary file, fsync, rename) so a crash never leaves half a record; files are private to the operator
(0600): they hold lease ids and the Vault address, no secret.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agentiam.errors import ConfigError
from agentiam.revoke import Outcome, Remaining, Revocation

STATE_FORMAT = 1
SUFFIX = ".revocation.json"  # only these files are records, whatever else shares the folder


def default_state_dir(environ: dict[str, str] | None = None) -> Path:
    """`$AGENTIAM_STATE_DIR`, else `$XDG_STATE_HOME/agentiam/revocations`, else
    `~/.local/state/agentiam/revocations`."""
    env = os.environ if environ is None else environ
    if env.get("AGENTIAM_STATE_DIR"):
        return Path(env["AGENTIAM_STATE_DIR"])
    base = Path(env["XDG_STATE_HOME"]) if env.get("XDG_STATE_HOME") else Path.home() / ".local" / "state"
    return base / "agentiam" / "revocations"


@dataclass(frozen=True)
class Pending:
    """What one unfinished revocation left: enough to run it again and to tell an operator what is alive."""

    agent: str
    environment: str
    stack: str  # the stack config (`--env`) the run read; shards of one environment differ from its name
    identity_name: str
    first_attempt: str  # cut-off of the first run that left something undone (ISO 8601 UTC)
    last_attempt: str
    vault_addr: str
    unfinished: list[str]  # "<system>: <step> <target>: <outcome> <detail>" of each step not done
    remaining: list[Remaining]
    path: Path


class PendingStore:
    """The folder of pending records (created on first write, 0700)."""

    def __init__(self, root: Path):
        self.root = root

    def _file(self, environment: str, agent: str) -> Path:
        return self.root / environment / f"{agent}{SUFFIX}"

    def record(self, report: Revocation, stack: str) -> Path | None:
        """Keep `report` if it left anything undone, else forget any earlier record; the record's path, or None."""
        path = self._file(report.environment, report.agent)
        if report.complete:
            try:
                path.unlink(missing_ok=True)
            except OSError as exc:
                raise ConfigError(f"cannot delete the finished revocation's record {path}: "
                                  f"{exc.strerror or exc}") from exc
            return None
        earlier = self.load(path) if path.exists() else None
        data: dict[str, Any] = {
            "format": STATE_FORMAT, "agent": report.agent, "environment": report.environment, "stack": stack,
            "identity_name": report.identity_name, "vault_addr": report.vault_addr,
            "first_attempt": earlier.first_attempt if earlier else report.cutoff, "last_attempt": report.cutoff,
            "unfinished": [f"{s.system}: {s.action} {s.target}: {s.outcome.value} {s.detail}" for s in report.steps
                           if s.outcome not in (Outcome.REVOKED, Outcome.ALREADY)],
            "remaining": [r.to_json() for r in report.remaining],
        }
        try:
            write_private_json(path, data)
        except OSError as exc:
            raise ConfigError(f"cannot record the unfinished revocation under {self.root}: {exc.strerror or exc}; "
                              "set AGENTIAM_STATE_DIR (or --state-dir) to a writable folder") from exc
        return path

    def load(self, path: Path) -> Pending:
        """One record; ConfigError naming the file if it cannot be read."""
        try:
            data = json.loads(path.read_text())
            return Pending(agent=str(data["agent"]), environment=str(data["environment"]), stack=str(data["stack"]),
                           identity_name=str(data["identity_name"]), first_attempt=str(data["first_attempt"]),
                           last_attempt=str(data["last_attempt"]), vault_addr=str(data.get("vault_addr", "")),
                           unfinished=[str(u) for u in data.get("unfinished", [])],
                           remaining=[Remaining.from_json(r) for r in data.get("remaining", [])], path=path)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"{path}: not a readable pending revocation ({exc}); move it away to go on") from exc

    def pending(self, environment: str | None = None, agent: str | None = None) -> list[Pending]:
        """Every record, optionally of one environment and/or agent, oldest first attempt first."""
        if not self.root.is_dir():
            return []
        pattern = f"{environment or '*'}/{agent or '*'}{SUFFIX}"
        return sorted((self.load(path) for path in self.root.glob(pattern)),
                      key=lambda p: (p.first_attempt, p.environment, p.agent))


def write_private_json(path: Path, data: Any) -> None:
    """Write `data` to `path` atomically (a temporary file renamed over it, synced first), readable by its owner
    only, its folder created private; OSError as raised."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        json.dump(data, out, indent=2, sort_keys=True)
        out.write("\n")
        out.flush()
        os.fsync(out.fileno())
    os.chmod(temporary, 0o600)
    os.replace(temporary, path)
