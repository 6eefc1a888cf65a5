"""Pull requests changing agentiam's own code, judged end to end as the workflow judges them.

A temporary git repository holds this project (code, specs, stacks). The base-code snapshot is taken by the base
revision's code (`agentiam snapshot --code <base checkout>`, a subprocess importing only that checkout), the
head-code snapshot by the head revision checked out into its own folder, in a subprocess with PYTHONPATH set to
it: each side's code really runs. A few seconds per snapshot, so few tests.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from agentiam.cli.main import cli
from agentiam.diff import toolchange
from agentiam.diff.compute import compute_diff
from agentiam.diff.gitsource import GitRepo
from agentiam.diff.model import DiffReport, Verdict
from tests.diff.conftest import PROJECT, git

SKIPPED = ("tests/", "bench/")  # not needed to compile anything: keeps the copy small


def snapshot_all(code: Path, data: Path, out: Path) -> None:
    """`agentiam snapshot --all` of the specs under `data`, run by the code under `code` and nothing else."""
    env = {**os.environ, "PYTHONPATH": str(code)}
    done = subprocess.run([sys.executable, "-P", "-c", "from agentiam.cli.main import main; main()", "snapshot",
                           "--all", "--code", str(code), "--output-dir", str(out)],
                          cwd=data, env=env, capture_output=True, text=True, check=False, timeout=300)
    assert done.returncode == 0, done.stderr


class ProjectRepo:
    """This project in a temporary git repository, its base snapshot taken once."""

    def __init__(self, root: Path, base_code: Path):
        self.root, self.base_code = root, base_code

    def pull_request(self, tmp_path: Path, name: str, change: Callable[[Path], None]) -> tuple[DiffReport, Path]:
        """Branch `name` off base, `change` the files, commit; snapshot it with its own code; the diff."""
        git(self.root, "checkout", "-q", "-B", name, "base")
        change(self.root)
        git(self.root, "commit", "-q", "-am", name)
        head = tmp_path / "head-checkout"
        git(self.root, "worktree", "add", "-q", "--detach", str(head), name)
        try:
            snapshot_all(head, head, tmp_path / "head-code")
        finally:
            git(self.root, "worktree", "remove", "--force", str(head))
        report = compute_diff(GitRepo(self.root), "base", name,
                              code_snapshots=(self.base_code, tmp_path / "head-code"))
        return report, tmp_path / "head-code"

    def fail_on_high(self, monkeypatch: pytest.MonkeyPatch, head: str, head_code: Path) -> int:
        monkeypatch.chdir(self.root)
        monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
        result = CliRunner().invoke(cli, ["diff", "--base", "base", "--head", head, "--fail-on", "high",
                                          "--base-code-snapshots", str(self.base_code),
                                          "--head-code-snapshots", str(head_code)])
        assert "Traceback" not in result.output
        return result.exit_code


@pytest.fixture(scope="module")
def project_repo(tmp_path_factory: pytest.TempPathFactory) -> ProjectRepo:
    root = tmp_path_factory.mktemp("project") / "repo"
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=PROJECT, capture_output=True,
                            check=True).stdout.decode().split("\0")
    for path in filter(None, listed):
        source = PROJECT / path
        if path.startswith(SKIPPED) or not source.is_file():
            continue
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, root / path)
    git(root, "init", "-q", "-b", "main")
    git(root, "config", "user.email", "reviewer@example.com")
    git(root, "config", "user.name", "Reviewer")
    git(root, "config", "commit.gpgsign", "false")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "base")
    git(root, "tag", "base")
    base_checkout = root.parent / "base-checkout"
    git(root, "worktree", "add", "-q", "--detach", str(base_checkout), "base")
    base_code = root.parent / "base-code"
    snapshot_all(base_checkout, base_checkout, base_code)  # the head's specs are the base's here: only code changes
    return ProjectRepo(root, base_code)


def _edit(path: str, old: str, new: str) -> Callable[[Path], None]:
    def change(root: Path) -> None:
        text = (root / path).read_text(encoding="utf-8")
        assert text.count(old) == 1, f"{old!r} not found exactly once in {path}"
        (root / path).write_text(text.replace(old, new), encoding="utf-8")
    return change


def test_a_capability_added_to_the_vault_policy_template(project_repo: ProjectRepo, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    report, head_code = project_repo.pull_request(tmp_path, "policy-template", _edit(
        "agentiam/plan/vault_policy.py", '    ("auth/token/renew-self", ("update",)),\n',
        '    ("auth/token/renew-self", ("update",)),\n    ("sys/policies/acl/*", ("update",)),\n'))
    assert report.agents == [] and report.environments == []  # judged with the base's code, the specs show nothing
    code = report.code
    assert code is not None and code.files == ("agentiam/plan/vault_policy.py",)
    assert code.verdict is Verdict.HIGH_RISK and code.compared == ("dev", "prod", "staging")
    for stack in code.stacks:  # every agent policy of every stack gains the path; nothing else changes
        assert {c.subject.split(" ")[0] for c in stack.changes} == {"vault:index/policy:Policy"}
        assert all(c.high_risk and c.field == "inputs.policy" and 'path "sys/policies/acl/*"' in (c.after or "")
                   for c in stack.changes)
    assert [len(s.changes) for s in code.stacks] == [7, 9, 8]  # agents in dev, prod, staging
    assert project_repo.fail_on_high(monkeypatch, "policy-template", head_code) == 1


def test_the_boundary_dropped_from_the_role_component(project_repo: ProjectRepo, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    report, head_code = project_repo.pull_request(tmp_path, "no-boundary", _edit(
        "components/aws_role.py", "max_session_duration=args.max_session_duration, "
                                  "permissions_boundary=args.permissions_boundary,",
        "max_session_duration=args.max_session_duration,"))
    # The plan still carries every boundary: only what the component registers shows the change.
    assert report.agents == [] and report.environments == []
    code = report.code
    assert code is not None and code.files == ("components/aws_role.py",) and code.verdict is Verdict.HIGH_RISK
    dropped = [c for s in code.stacks for c in s.changes if c.field == "inputs.permissionsBoundary"]
    assert len(dropped) == 7 + 8 + 9 and all(c.after is None and c.high_risk for c in dropped)
    assert all(c.subject.startswith("aws:iam/role:Role ") for c in dropped)
    assert project_repo.fail_on_high(monkeypatch, "no-boundary", head_code) == 1


def test_a_code_change_without_effect_is_neutral(project_repo: ProjectRepo, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    report, head_code = project_repo.pull_request(tmp_path, "comment", _edit(
        "agentiam/plan/vault_policy.py", "def merge_rules(", "# Merged per path.\ndef merge_rules("))
    code = report.code
    assert code is not None and code.stacks == () and code.verdict is Verdict.CHANGED
    (entry,) = code.general
    assert entry.op == toolchange.NO_EFFECT and not entry.risks
    assert project_repo.fail_on_high(monkeypatch, "comment", head_code) == 0
