"""Changes caused by agentiam's own code: which files count, what two snapshots differ in, how it is reported.

Real temporary git repositories (tests/diff/conftest.py); the snapshots here are built with `snapshot.build` from
records written by hand, so every kind of difference and every broken artifact is covered in milliseconds. The
end-to-end cases, with snapshots made by the real program at both revisions, are in test_toolchange_program.py.

Regenerate the golden file after an intended change: AGENTIAM_REGEN_GOLDEN=1 python -m pytest tests/diff
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from click.testing import CliRunner

from agentiam.cli.main import cli
from agentiam.diff import toolchange
from agentiam.diff.affected import affected_stacks
from agentiam.diff.compute import compute_diff
from agentiam.diff.gitsource import GitRepo
from agentiam.diff.model import Direction, Verdict
from agentiam.program import snapshot
from agentiam.render.diff_github import annotations
from agentiam.render.diff_json import report_dict
from agentiam.render.diff_markdown import render_markdown
from agentiam.render.diff_text import render_text
from tests.render.github_markdown import github_html, render
from tests.diff.conftest import FIXTURES, PROJECT, SpecRepo

GOLDEN = FIXTURES / "code-change.md"
STACKS = ("dev", "staging", "prod")
ROLE = "aws:iam/role:Role"
POLICY = "vault:index/policy:Policy"


@pytest.mark.parametrize(("path", "kind"), [
    ("agentiam/plan/vault_policy.py", "tool"), ("components/aws_role.py", "tool"), ("__main__.py", "tool"),
    ("Pulumi.yaml", "tool"), ("pyproject.toml", "tool"), (".ci/constraints.txt", "tool"),
    ("requirements.txt", "tool"), ("requirements/dev.txt", "tool"), ("setup.py", "tool"), ("setup.cfg", "tool"),
    ("sitecustomize.py", "tool"), ("agentiam/README.md", "tool"), ("docs.py", "tool"), ("testsuite/x.py", "tool"),
    ("uv.lock", "tool"), (".gitattributes", "tool"),
    (".github/workflows/agentiam.yml", "gate"), (".github/CODEOWNERS", "gate"),
    (".github/actions/x/action.yml", "gate"),
    ("README.md", "inert"), ("CHANGELOG.md", "inert"), ("docs/guide.md", "inert"), ("docs/a/b.png", "inert"),
    ("tests/diff/test_x.py", "inert"), ("bench/bench_diff.py", "inert"), ("LICENSE", "inert"), (".gitignore", "inert"),
    ("agent_specs/billing/x.yaml", "input"), ("stacks/Pulumi.dev.yaml", "input"),
    ("stacks/ca/dev-agents-ca.pem", "input"),
])
def test_every_path_is_input_inert_gate_or_else_tool(path: str, kind: str) -> None:
    assert toolchange.classify(path, ["agent_specs", "stacks"]) == kind


def _cli(repo: SpecRepo, monkeypatch: pytest.MonkeyPatch, *args: str, actions: bool = False):
    monkeypatch.chdir(repo.root)
    for key in ("GITHUB_ACTIONS", "GITHUB_STEP_SUMMARY"):
        monkeypatch.delenv(key, raising=False)
    if actions:
        monkeypatch.setenv("GITHUB_ACTIONS", "true")
    return CliRunner().invoke(cli, ["diff", *args])


def test_a_workflow_change_is_high_risk_without_any_snapshot(spec_repo: SpecRepo,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    spec_repo.write(".github/workflows/agentiam.yml", "on: push\njobs: {}\n")
    spec_repo.commit("quieter gate")
    code = spec_repo.diff().code
    assert code is not None and code.gate_files == (".github/workflows/agentiam.yml",)
    (gate,) = code.general
    assert (gate.op, gate.subject, gate.direction) == ("added", ".github/workflows/agentiam.yml", Direction.WIDER)
    assert [(r.id, r.severity) for r in gate.risks] == [("gate-changed", "high")]
    assert code.verdict is Verdict.HIGH_RISK
    result = _cli(spec_repo, monkeypatch, "--base", "base", "--head", "HEAD", "--fail-on", "high", actions=True)
    assert result.exit_code == 1, result.output
    assert "::error file=.github/workflows/agentiam.yml,title=agentiam diff%3A the review gate changed::" \
        in result.output


def test_docs_tests_and_readme_are_not_code(spec_repo: SpecRepo, monkeypatch: pytest.MonkeyPatch) -> None:
    spec_repo.write("README.md", "# new words\n")
    spec_repo.write("docs/guide.md", "more words\n")
    spec_repo.write("tests/test_new.py", "def test(): pass\n")
    spec_repo.commit("docs")
    assert spec_repo.diff().code is None
    result = _cli(spec_repo, monkeypatch, "--base", "base", "--head", "HEAD", "--fail-on", "high")
    assert result.exit_code == 0, result.output
    assert "agentiam's own code" not in result.output


def test_changed_tool_code_without_snapshots_is_high_and_named(spec_repo: SpecRepo,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    spec_repo.write("agentiam/plan/vault_policy.py", "TEMPLATE = 'path \"sys/*\"'\n")
    spec_repo.write("setup.py", "import os\n")
    spec_repo.commit("template")
    report = spec_repo.diff()
    assert report.agents == [] and report.environments == []  # the specs' plan cannot see it
    assert report.code is not None and report.code.files == ("agentiam/plan/vault_policy.py", "setup.py")
    (entry,) = report.code.general
    assert entry.op == toolchange.NOT_COMPILED and entry.high_risk
    assert entry.risks[0].reason == "its effect was not compiled: agentiam/plan/vault_policy.py, setup.py"
    assert "agentiam's own code changed: its effect was not compiled (no snapshots were given" in render_text(report)
    assert _cli(spec_repo, monkeypatch, "--base", "base", "--head", "HEAD", "--fail-on", "high").exit_code == 1
    # The label is there whatever the policy; the exit code is what --fail-on asks for.
    assert _cli(spec_repo, monkeypatch, "--base", "base", "--head", "HEAD").exit_code == 0


def test_a_file_moved_out_of_the_tool_counts_and_a_base_ahead_is_not_blamed(spec_repo: SpecRepo) -> None:
    spec_repo.write("agentiam/helper.py", "X = 1\n")
    spec_repo.commit("tool file", tag="with-tool")
    (spec_repo.root / "docs").mkdir()
    (spec_repo.root / "agentiam" / "helper.py").rename(spec_repo.root / "docs" / "helper.py")
    spec_repo.commit("move it to docs")
    code = compute_diff(GitRepo(spec_repo.root), "with-tool", "HEAD").code
    assert code is not None and code.files == ("agentiam/helper.py",)
    assert code.general[0].op == toolchange.NOT_COMPILED
    # A pull request branched before the base gained tool code is judged on its own changes only.
    from tests.diff.conftest import git
    git(spec_repo.root, "checkout", "-q", "-b", "pr", "base")
    spec_repo.write("README.md", "words\n")
    spec_repo.commit("docs only")
    assert compute_diff(GitRepo(spec_repo.root), "main", "pr").code is None


def test_untracked_code_in_the_working_tree_counts(spec_repo: SpecRepo) -> None:
    spec_repo.write("sitecustomize.py", "import os\n")
    code = spec_repo.diff("base", None).code
    assert code is not None and code.files == ("sitecustomize.py",)


# --------------------------------------------------------------------------------------------------------
# Snapshot folders written from records


def _record(type_token: str, name: str, inputs: dict[str, Any], *, stack: str = "dev", deps: tuple[str, ...] = (),
            options: dict[str, Any] | None = None, parent: str | None = None) -> SimpleNamespace:
    def urn(qualified: str) -> str:
        return f"urn:pulumi:{stack}::agentiam::{qualified}"
    return SimpleNamespace(type_token=type_token, name=name, inputs=inputs, urn=urn(f"{type_token}::{name}"),
                           parent_urn=urn(parent) if parent else None, custom=True, secret_inputs=frozenset(),
                           dependencies=frozenset(urn(d) for d in deps),
                           options={"version": "7.51.1", **(options or {})})


def _resources(stack: str, boundary: bool = True,
               policy: str = 'path "secret/data/x" {\n  capabilities = ["read"]\n}\n',
               extra: bool = False, options: dict[str, Any] | None = None) -> list[SimpleNamespace]:
    inputs = {"name": f"agent-{stack}-a", "maxSessionDuration": 3600.0,
              "assumeRolePolicy": json.dumps({"Statement": [{"Action": ["sts:AssumeRole"], "Effect": "Allow"}]})}
    if boundary:
        inputs["permissionsBoundary"] = f"arn:aws:iam::111111111111:policy/agentiam-{stack}-boundary"
    records = [_record(ROLE, f"agent-{stack}-a-role", inputs, stack=stack, options=options,
                       deps=("aws:iam/policy:Policy::boundary",) if boundary else ()),
               _record(POLICY, f"agent-{stack}-a-policy", {"name": f"agent-{stack}-a", "policy": policy}, stack=stack)]
    if extra:
        records.append(_record("aws:iam/rolePolicy:RolePolicy", f"agent-{stack}-a-extra", {"policy": "{}"},
                               stack=stack))
    return records


def _write(folder: Path, stacks: tuple[str, ...] = STACKS, outputs: dict[str, Any] | None = None,
           **kwargs: Any) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for stack in stacks:
        data = snapshot.build(stack, "agentiam", stack, _resources(stack, **kwargs), outputs or {"environment": stack},
                              [], {})
        (folder / f"{stack}.json").write_text(snapshot.dumps(data), encoding="utf-8")
    return folder


@pytest.fixture
def tool_pr(spec_repo: SpecRepo) -> SpecRepo:
    """A pull request changing a tool file (its content is irrelevant: the snapshots say what it does)."""
    spec_repo.write("components/aws_role.py", "# the boundary is optional now\n")
    spec_repo.commit("components")
    return spec_repo


def _code(repo: SpecRepo, base_dir: Path, head_dir: Path):  # type: ignore[no-untyped-def]
    report = compute_diff(GitRepo(repo.root), "base", "HEAD", code_snapshots=(base_dir, head_dir))
    assert report.code is not None
    return report


def test_identical_snapshots_make_the_code_change_neutral(tool_pr: SpecRepo, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    base, head = _write(tmp_path / "base"), _write(tmp_path / "head")
    code = _code(tool_pr, base, head).code
    assert code.verdict is Verdict.CHANGED
    assert code.compared == ("dev", "prod", "staging") and code.stacks == ()
    (entry,) = code.general
    assert (entry.op, entry.direction, entry.risks) == (toolchange.NO_EFFECT, Direction.NEUTRAL, ())
    assert code.files == ("components/aws_role.py",)
    result = _cli(tool_pr, monkeypatch, "--base", "base", "--head", "HEAD", "--fail-on", "high",
                  "--base-code-snapshots", str(base), "--head-code-snapshots", str(head))
    assert result.exit_code == 0, result.output
    assert "no effect on what deploys (3 stack(s) compiled" in result.output


def test_every_difference_is_a_high_risk_change_caused_by_code(tool_pr: SpecRepo, tmp_path: Path) -> None:
    base = _write(tmp_path / "base", outputs={"environment": "x", "agents": {"a": {"role": "r"}}})
    head = _write(tmp_path / "head", boundary=False, extra=True, options={"retainOnDelete": True},
                  policy='path "secret/data/x" {\n  capabilities = ["read", "update"]\n}\n',
                  outputs={"environment": "x", "agents": {"a": {"role": "r2"}}})
    report = _code(tool_pr, base, head)
    code = report.code
    assert code.verdict is Verdict.HIGH_RISK and [s.stack for s in code.stacks] == ["dev", "prod", "staging"]
    dev = code.stacks[0]
    assert all(c.direction is Direction.WIDER and c.high_risk for c in dev.changes)
    assert {r.reason for c in dev.changes for r in c.risks} == {"caused by agentiam's own code: components/aws_role.py"}
    found = {(c.op, c.subject, c.field, c.before, c.after) for c in dev.changes}
    assert found == {
        ("added", "aws:iam/rolePolicy:RolePolicy agent-dev-a-extra", "", None,
         "aws:iam/rolePolicy:RolePolicy::agent-dev-a-extra"),
        ("changed", "aws:iam/role:Role agent-dev-a-role", "dependencies", "aws:iam/policy:Policy::boundary", None),
        ("changed", "aws:iam/role:Role agent-dev-a-role", "inputs.permissionsBoundary",
         "arn:aws:iam::111111111111:policy/agentiam-dev-boundary", None),
        ("changed", "aws:iam/role:Role agent-dev-a-role", "options.retainOnDelete", None, "true"),
        ("changed", "vault:index/policy:Policy agent-dev-a-policy", "inputs.policy",
         '[path "secret/data/x" {] capabilities = ["read"]',
         '[path "secret/data/x" {] capabilities = ["read", "update"]'),
        ("changed", "stack outputs", "outputs.agents.a.role", "r", "r2"),
    }
    markdown = render_markdown(report)
    if os.environ.get("AGENTIAM_REGEN_GOLDEN"):
        GOLDEN.write_text(markdown)
    assert markdown == GOLDEN.read_text()
    data = report_dict(report)["code"]
    assert data["verdict"] == "widened: high risk" and len(data["stacks"][0]["changes"]) == 6
    assert affected_stacks(report_dict(report), PROJECT / "stacks") == ["dev", "prod", "staging"]
    lines = annotations(report)
    assert lines == ["::error file=components/aws_role.py,title=agentiam diff%3A the tool code changed::what deploys "
                     "changes with the head's code: 6 difference(s) in dev; 6 difference(s) in prod; 6 difference(s) "
                     "in staging (details in the job summary)"]


def test_a_json_policy_is_compared_statement_by_statement(tool_pr: SpecRepo, tmp_path: Path) -> None:
    base = _write(tmp_path / "base")
    head = tmp_path / "head"
    head.mkdir()
    for stack in STACKS:
        records = _resources(stack)
        records[0].inputs["assumeRolePolicy"] = json.dumps(
            {"Statement": [{"Action": ["sts:AssumeRole", "sts:TagSession"], "Effect": "Allow"}]})
        data = snapshot.build(stack, "agentiam", stack, records, {"environment": stack}, [], {})
        (head / f"{stack}.json").write_text(snapshot.dumps(data))
    (change,) = _code(tool_pr, base, head).code.stacks[0].changes
    assert (change.field, change.before, change.after) == (
        "inputs.assumeRolePolicy.Statement[0].Action", '["sts:AssumeRole"]', '["sts:AssumeRole", "sts:TagSession"]')


def _fifo(path: Path) -> None:
    os.mkfifo(path)


def _symlink(path: Path) -> None:
    path.symlink_to(path.parent.parent / "base" / path.name)


def _huge(path: Path) -> None:
    with path.open("wb") as handle:
        handle.truncate(toolchange.MAX_SNAPSHOT_BYTES + 1)


@pytest.mark.parametrize(("spoil", "message"), [
    (lambda p: p.unlink(), "dev.json: missing (was stack dev snapshotted?)"),
    (lambda p: p.write_text("{not json"), "dev.json: not JSON"),
    (lambda p: p.write_bytes(b"\xff\xfe"), "dev.json: not JSON"),
    (lambda p: p.write_text("[" * 100_000 + "]" * 100_000), "dev.json: not JSON"),
    (lambda p: p.write_text("1" * 5000), "dev.json: not JSON"),
    (lambda p: p.write_text('{"kind": "agentiam-program-snapshot", "format": 1, "stack": "prod"}'),
     "not an `agentiam snapshot` of stack dev: it is of stack 'prod'"),
    (lambda p: p.write_text(p.read_text().replace('"dependencies": [', '"dependencies": [7, ', 1)),
     "resources[0] lacks key/type/name/parent/inputs/dependencies/options"),
    (lambda p: (p.unlink(), _fifo(p)), "dev.json: not a regular file"),
    (lambda p: (p.unlink(), _symlink(p)), "dev.json: not a regular file"),
    (lambda p: (p.unlink(), _huge(p)), "over the 268435456-byte limit"),
])
def test_a_broken_head_snapshot_is_high_risk_never_a_crash(  # type: ignore[no-untyped-def]
        tool_pr: SpecRepo, tmp_path: Path, spoil, message: str) -> None:
    base, head = _write(tmp_path / "base"), _write(tmp_path / "head")
    spoil(head / "dev.json")
    code = _code(tool_pr, base, head).code
    assert code.verdict is Verdict.HIGH_RISK
    (dev,) = code.stacks  # the other stacks were still compared: identical
    (entry,) = dev.changes
    assert entry.op == toolchange.NOT_COMPILED and entry.high_risk and message in entry.after
    assert code.general == ()


def test_missing_folders_and_a_stack_only_one_side_has(tool_pr: SpecRepo, tmp_path: Path) -> None:
    base = _write(tmp_path / "base")
    code = _code(tool_pr, base, tmp_path / "absent").code
    (entry,) = code.general
    assert entry.op == toolchange.NOT_COMPILED and entry.high_risk and "absent: no such folder" in entry.after
    head = _write(tmp_path / "head", stacks=(*STACKS, "qa"))  # the head's code compiled a stack the base did not
    (head / "<img src=x>.json").write_text("{}")  # not a stack name: never in the report
    code = _code(tool_pr, base, head).code
    assert code.compared == ("dev", "prod", "qa", "staging")
    (qa,) = code.stacks
    assert qa.stack == "qa" and "base/qa.json: missing" in qa.changes[0].after


def test_snapshots_differing_without_a_changed_tool_file_still_count(spec_repo: SpecRepo, tmp_path: Path) -> None:
    spec_repo.write("README.md", "words\n")
    spec_repo.commit("docs")
    base, head = _write(tmp_path / "base"), _write(tmp_path / "head", boundary=False)
    code = _code(spec_repo, base, head).code
    assert code.files == () and code.verdict is Verdict.HIGH_RISK
    assert "though no tool file changed" in code.stacks[0].changes[0].risks[0].reason
    # Broken snapshots with no tool file changed: the base's code is the code; said, not judged.
    code = _code(spec_repo, base, tmp_path / "absent").code
    assert code.verdict is Verdict.CHANGED and code.general[0].direction is Direction.NEUTRAL


def test_both_snapshot_options_or_neither(spec_repo: SpecRepo, monkeypatch: pytest.MonkeyPatch) -> None:
    result = _cli(spec_repo, monkeypatch, "--base", "base", "--base-code-snapshots", "x")
    assert result.exit_code == 2 and "give both --base-code-snapshots and --head-code-snapshots" in result.output


def test_file_names_a_pull_request_chose_cannot_put_html_in_the_comment(spec_repo: SpecRepo) -> None:
    spec_repo.write("agentiam/<img src=x onerror=alert(1)>.py", "X = 1\n")
    spec_repo.commit("odd name")
    report = spec_repo.diff()
    assert report.code is not None and report.code.files == ("agentiam/<img src=x onerror=alert(1)>.py",)
    rendered = render(render_markdown(report))  # as GitHub's parser reads the comment
    assert "img" not in rendered.tags and rendered.links == ()
    assert "<img src=x onerror=alert(1)>" in github_html(render_markdown(report)).replace("&lt;", "<").replace(
        "&gt;", ">")  # shown as text, inside code
