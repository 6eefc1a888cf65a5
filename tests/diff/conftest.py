"""A real git repository per test: the project's stack configs plus frozen copies of two bundled specs."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from agentiam.diff.compute import compute_diff
from agentiam.diff.gitsource import GitRepo
from agentiam.diff.model import AgentDiff, DiffReport

PROJECT = Path(__file__).resolve().parents[2]
FIXTURES = PROJECT / "tests" / "fixtures" / "diff"
INVOICE = "agent_specs/billing/invoice-reader.yaml"
PAYMENT = "agent_specs/billing/payment-gateway-sync.yaml"


def git(root: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True)
    return done.stdout


@dataclass
class SpecRepo:
    """A temp git repository of specs and stack configs, with helpers to change and commit them."""

    root: Path

    def read(self, path: str) -> str:
        return (self.root / path).read_text()

    def write(self, path: str, text: str) -> None:
        target = self.root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)

    def edit(self, path: str, old: str, new: str) -> None:
        """Replace one exact snippet (the test fails loudly if the fixture no longer contains it)."""
        text = self.read(path)
        assert text.count(old) == 1, f"{old!r} not found exactly once in {path}"
        self.write(path, text.replace(old, new))

    def line_of(self, path: str, snippet: str) -> int:
        """1-based line of the first line containing `snippet`."""
        for number, line in enumerate(self.read(path).splitlines(), start=1):
            if snippet in line:
                return number
        raise AssertionError(f"{snippet!r} not in {path}")

    def commit(self, message: str, tag: str | None = None) -> str:
        git(self.root, "add", "-A")
        git(self.root, "commit", "-q", "--allow-empty", "-m", message)
        if tag:
            git(self.root, "tag", tag)
        return git(self.root, "rev-parse", "HEAD").strip()

    def diff(self, base: str = "base", head: str | None = "HEAD") -> DiffReport:
        return compute_diff(GitRepo(self.root), base, head)


def new_spec_repo(root: Path) -> SpecRepo:
    """A git repository at `root` (created) with the project's stack configs and the frozen specs, tagged `base`."""
    root.mkdir(parents=True)
    git(root, "init", "-q", "-b", "main")
    git(root, "config", "user.email", "reviewer@example.com")
    git(root, "config", "user.name", "Reviewer")
    git(root, "config", "commit.gpgsign", "false")
    (root / "stacks").mkdir()
    for config in sorted((PROJECT / "stacks").glob("Pulumi.*.yaml")):
        shutil.copy(config, root / "stacks" / config.name)
    shutil.copytree(PROJECT / "stacks" / "ca", root / "stacks" / "ca")
    shutil.copytree(FIXTURES / "specs", root / "agent_specs")
    repo = SpecRepo(root)
    repo.commit("base specs", tag="base")
    return repo


@pytest.fixture
def spec_repo(tmp_path: Path) -> SpecRepo:
    return new_spec_repo(tmp_path / "repo")


def entry(report: DiffReport, agent: str, environment: str) -> AgentDiff:
    """The diff of one agent x environment (fails if absent)."""
    for item in report.agents:
        if item.agent == agent and item.environment == environment:
            return item
    raise AssertionError(f"no diff entry for {agent} in {environment}: "
                         f"{[(a.agent, a.environment) for a in report.agents]}")


def labels(change) -> set[str]:
    return {r.id for r in change.risks}
