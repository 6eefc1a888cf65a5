"""Shared fixtures of the CLI tests: a copy of the project (specs + stacks) to run commands in."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def project_dir(tmp_path, monkeypatch) -> Path:
    """The committed example specs and stack configs, copied; the working directory for the command."""
    shutil.copytree(REPO / "agent_specs", tmp_path / "agent_specs")
    shutil.copytree(REPO / "stacks", tmp_path / "stacks")
    shutil.copy(REPO / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    monkeypatch.chdir(tmp_path)
    return tmp_path
