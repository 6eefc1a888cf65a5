"""Temporary projects for the migration tests: the repository's stack configs (and their agent CA) plus specs."""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TODAY = dt.date(2026, 12, 1)


def new_project(root: Path, specs: dict[str, str]) -> Path:
    """`root` holding stacks/ (copied) and agent_specs/<name>.yaml for each spec; returns `root`."""
    (root / "agent_specs").mkdir(parents=True)
    shutil.copytree(REPO / "stacks", root / "stacks")
    for name, text in specs.items():
        (root / "agent_specs" / f"{name}.yaml").write_text(text, encoding="utf-8")
    return root


@pytest.fixture
def project_factory(tmp_path: Path) -> Callable[[dict[str, str]], Path]:
    counter = iter(range(1000))
    return lambda specs: new_project(tmp_path / f"project{next(counter)}", specs)


def spec(name: str, *, team: str = "billing-platform", function: str = "reporting", extra: str = "",
         environments: str = "[dev, prod]", migration: str = "") -> str:
    """A small valid spec: read-only unless `extra` grants more (appended under `permissions:`)."""
    return (f"spec_version: 1\nname: {name}\ndescription: Test agent {name} for the migration tests.\n"
            f"owner:\n  team: {team}\n  sponsor: maria.keller@example.com\n  contact: \"#{team}\"\n"
            f"function: {function}\nenvironments: {environments}\nexpires: 2027-06-30\n"
            f"permissions:\n  aws:\n    - sid: read-reports\n      actions: [s3:GetObject]\n"
            f"      resources: [\"arn:aws:s3:::{team}-{{env}}-reports/*\"]\n{extra}{migration}")
