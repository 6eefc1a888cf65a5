"""Git repositories with chosen commit dates: `check` dates grants with `git blame`, so tests set the history."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def commit_all(root: Path, when: dt.datetime, message: str = "specs") -> None:
    """Commit everything under `root` (a repository is created first if needed), dated `when`."""
    stamp = when.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S+0000")
    env = {**os.environ, "GIT_AUTHOR_DATE": stamp, "GIT_COMMITTER_DATE": stamp, "GIT_AUTHOR_NAME": "Reviewer",
           "GIT_AUTHOR_EMAIL": "reviewer@example.com", "GIT_COMMITTER_NAME": "Reviewer",
           "GIT_COMMITTER_EMAIL": "reviewer@example.com"}
    if not (root / ".git").exists():
        subprocess.run(["git", "init", "-q", "-b", "main"], cwd=root, check=True, env=env)
    subprocess.run(["git", "add", "-A"], cwd=root, check=True, env=env)
    subprocess.run(["git", "commit", "-q", "--allow-empty", "-m", message], cwd=root, check=True, env=env)


def copy_examples(root: Path, when: dt.datetime) -> Path:
    """The bundled specs and stack configs in a new repository under `root`, committed at `when`."""
    shutil.copytree(REPO / "agent_specs", root / "agent_specs")
    shutil.copytree(REPO / "stacks", root / "stacks")
    shutil.copy(REPO / "Pulumi.yaml", root / "Pulumi.yaml")
    commit_all(root, when)
    return root
