"""What git knows about a spec: since when each line says what it says (`git blame`), and its last commit.

A grant added 10 days ago cannot have been unused for 30 (docs/facts.md#aws-access-analyzer makes the same point
for identities): `check` judges a grant only when the lines granting it, and the line deploying the agent to the
environment, are older than the window. Blame dates are commit dates, so the real deployment came at or after them:
using them can only make a grant look younger, never older, than it is (it is then not judged). Lines not
committed yet are younger than anything. A shallow clone dates every line at its cut: run with the full history.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path

GIT_TIMEOUT_S = 30.0
_UNCOMMITTED = "0" * 40


@dataclass(frozen=True)
class Commit:
    """The last commit that changed a file."""

    sha: str
    time: float  # committer time, seconds since the epoch
    date: str  # committer date, ISO 8601


@dataclass
class History:
    """Git facts about files of one repository (None everywhere when the folder is not in one)."""

    root: Path | None
    shallow: bool = False
    now: float = 0.0  # what an uncommitted line's date is taken to be
    _blame: dict[str, dict[int, float] | None] = field(default_factory=dict)

    @classmethod
    def of(cls, folder: Path, now: float) -> History:
        top = _git(folder, "rev-parse", "--show-toplevel")
        if top is None:
            return cls(None, now=now)
        return cls(Path(top.strip()), _git(folder, "rev-parse", "--is-shallow-repository") == "true\n", now)

    def line_times(self, file: str) -> dict[int, float] | None:
        """1-based line -> committer time of the commit that last changed it (uncommitted: `now`); None if git
        cannot say (not a repository, file not tracked)."""
        if file not in self._blame:
            self._blame[file] = self._read_blame(file)
        return self._blame[file]

    def since(self, file: str, lines: list[int]) -> float | None:
        """The latest time any of `lines` changed (None if unknown)."""
        times = self.line_times(file)
        if times is None:
            return None
        known = [times.get(line) for line in lines]
        if any(t is None for t in known):
            return None
        return max(known)  # type: ignore[type-var]

    def last_commit(self, file: str) -> Commit | None:
        """The last commit that changed `file`, or None outside git / for a file never committed."""
        if self.root is None:
            return None
        out = _git(self.root, "log", "-1", "--format=%H%x00%ct%x00%cI", "--", str(Path(file).resolve()))
        if not out or "\x00" not in out:
            return None
        sha, when, date = out.strip().split("\x00")
        return Commit(sha, float(when), date)

    def uncommitted(self, file: str) -> bool:
        """Whether the file differs from the last commit (or is not tracked): not what was reviewed."""
        if self.root is None:
            return True
        out = _git(self.root, "status", "--porcelain", "--", str(Path(file).resolve()))
        return out is None or bool(out.strip())

    def _read_blame(self, file: str) -> dict[int, float] | None:
        if self.root is None:
            return None
        out = _git(self.root, "blame", "--porcelain", "--", str(Path(file).resolve()))
        if out is None:
            return None
        times: dict[str, float] = {}
        owner: dict[int, str] = {}
        current = ""
        for line in out.split("\n"):
            if line.startswith("\t"):
                continue
            parts = line.split(" ")
            if len(parts) >= 3 and len(parts[0]) == 40 and parts[1].isdigit() and parts[2].isdigit():
                current = parts[0]
                owner[int(parts[2])] = current
            elif parts[0] == "committer-time" and len(parts) == 2 and current:
                times[current] = float(parts[1])
        return {line: self.now if sha == _UNCOMMITTED else times.get(sha, self.now) for line, sha in owner.items()}


def _git(cwd: Path, *args: str) -> str | None:
    """git's output, or None when it fails, is missing or hangs (GIT_TIMEOUT_S)."""
    try:
        done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=GIT_TIMEOUT_S,
                              check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None
