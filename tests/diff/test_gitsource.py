"""Reading specs from git objects: blob ids like git's, one `cat-file` process, clear errors."""

from __future__ import annotations

import os
import subprocess

import pytest

from agentiam.diff import gitsource
from agentiam.diff.gitsource import GitError, GitRepo, blob_id
from agentiam.errors import SpecError
from agentiam.inputs.files import Problem
from tests.diff.conftest import INVOICE, PAYMENT, SpecRepo, git


def test_blob_id_matches_git_hash_object(spec_repo: SpecRepo) -> None:
    for path in (INVOICE, PAYMENT, "stacks/Pulumi.prod.yaml"):
        expected = git(spec_repo.root, "hash-object", path).strip()
        assert blob_id((spec_repo.root / path).read_bytes()) == expected


def test_snapshot_lists_specs_and_stack_configs_only(spec_repo: SpecRepo) -> None:
    spec_repo.write("agent_specs/README.md", "not a spec\n")
    spec_repo.write("stacks/sharded/Pulumi.dev-1.yaml", "config: {}\n")  # sub-folder: not a stack of this project
    spec_repo.commit("noise")
    snapshot = GitRepo(spec_repo.root).snapshot("HEAD", "agent_specs", "stacks")
    assert sorted(snapshot.specs) == [INVOICE, PAYMENT]
    assert sorted(snapshot.stacks) == ["stacks/Pulumi.dev.yaml", "stacks/Pulumi.prod.yaml",
                                       "stacks/Pulumi.staging.yaml"]
    assert snapshot.specs[INVOICE] == git(spec_repo.root, "rev-parse", f"HEAD:{INVOICE}").strip()


def test_worktree_snapshot_hashes_files_on_disk(spec_repo: SpecRepo) -> None:
    spec_repo.edit(PAYMENT, "  token_max_ttl: 8h\n", "  token_max_ttl: 12h\n")
    snapshot, contents = GitRepo(spec_repo.root).worktree_snapshot("agent_specs", "stacks")
    committed = GitRepo(spec_repo.root).snapshot("HEAD", "agent_specs", "stacks")
    assert snapshot.specs[INVOICE] == committed.specs[INVOICE]
    assert snapshot.specs[PAYMENT] != committed.specs[PAYMENT]
    assert contents[PAYMENT] == (spec_repo.root / PAYMENT).read_bytes()


def test_blobs_are_read_by_one_process(spec_repo: SpecRepo, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = GitRepo(spec_repo.root)
    snapshot = repo.snapshot("HEAD", "agent_specs", "stacks")
    calls: list[list[str]] = []
    real_run = subprocess.run

    def counting_run(args, *rest, **kwargs):
        calls.append(list(args))
        return real_run(args, *rest, **kwargs)

    monkeypatch.setattr(gitsource.subprocess, "run", counting_run)
    oids = list(snapshot.specs.values()) + list(snapshot.stacks.values())
    blobs = repo.read_blobs(oids)
    assert calls == [["git", "cat-file", "--batch"]]
    assert blobs[snapshot.specs[INVOICE]] == (spec_repo.root / INVOICE).read_bytes()
    assert len(blobs) == len(set(oids)) == 5


def test_unknown_revision_and_option_like_revision_are_refused(spec_repo: SpecRepo) -> None:
    repo = GitRepo(spec_repo.root)
    with pytest.raises(GitError, match="unknown revision 'origin/main'"):
        repo.resolve("origin/main")
    with pytest.raises(GitError, match="not a revision"):
        repo.resolve("--output=/tmp/x")


def test_folder_outside_the_repository_is_refused(spec_repo: SpecRepo, tmp_path) -> None:
    with pytest.raises(GitError, match="not inside the git repository"):
        GitRepo(spec_repo.root).relative(tmp_path)


def test_worktree_snapshot_untracked_deleted_and_ignored(spec_repo: SpecRepo) -> None:
    spec_repo.write("agent_specs/billing/new-agent.yaml", "name: new-agent\n")
    spec_repo.write("agent_specs/billing/scratch.yaml", "name: scratch\n")
    spec_repo.write(".gitignore", "agent_specs/billing/scratch.yaml\n")
    (spec_repo.root / INVOICE).unlink()
    snapshot, contents = GitRepo(spec_repo.root).worktree_snapshot("agent_specs", "stacks")
    assert sorted(snapshot.specs) == ["agent_specs/billing/new-agent.yaml", PAYMENT]
    assert snapshot.specs["agent_specs/billing/new-agent.yaml"] == blob_id(b"name: new-agent\n")
    assert sorted(contents) == ["agent_specs/billing/new-agent.yaml"]  # unmodified files are not read


def test_links_are_refused_by_mode_never_read_as_the_path_they_store(spec_repo: SpecRepo) -> None:
    # git stores a symlink as its target path; read as a spec, that text would be compiled while validate, plan
    # and Pulumi follow the link to another file. Committed or on disk, tracked or not, dangling or not: refused.
    dangling, link = "agent_specs/billing/dangling.yaml", "agent_specs/billing/link.yaml"
    os.symlink("/nonexistent/spec.yaml", spec_repo.root / dangling)
    os.symlink("../../stacks/Pulumi.dev.yaml", spec_repo.root / link)
    spec_repo.commit("links")
    repo = GitRepo(spec_repo.root)
    committed = repo.snapshot("HEAD", "agent_specs", "stacks")
    on_disk, contents = repo.worktree_snapshot("agent_specs", "stacks")
    assert sorted(committed.specs) == sorted(on_disk.specs) == [INVOICE, PAYMENT] and not contents
    for snapshot in (committed, on_disk):
        assert {p: (r.problem, r.path) for p, r in snapshot.refused.items()} == {
            dangling: (Problem.SYMLINK, dangling), link: (Problem.SYMLINK, link)}
    os.symlink("/elsewhere.yaml", spec_repo.root / "agent_specs/billing/untracked.yaml")
    on_disk, contents = repo.worktree_snapshot("agent_specs", "stacks")
    assert "agent_specs/billing/untracked.yaml" in on_disk.refused and not contents
    with pytest.raises(SpecError) as raised:
        spec_repo.diff("base", None)
    assert {(f.file, f.rule_id) for f in raised.value.findings} == {
        (dangling, "FILE001"), (link, "FILE001"), ("agent_specs/billing/untracked.yaml", "FILE001")}


def test_an_oversized_blob_is_refused_unread(spec_repo: SpecRepo, monkeypatch: pytest.MonkeyPatch) -> None:
    spec_repo.write(INVOICE, spec_repo.read(INVOICE) + "# padding\n" * 30_000)
    spec_repo.commit("huge")
    read: list[str] = []
    real = GitRepo.read_blobs
    monkeypatch.setattr(GitRepo, "read_blobs", lambda self, oids: read.extend(oids := list(oids)) or real(self, oids))
    with pytest.raises(SpecError) as raised:
        spec_repo.diff()
    size = len(spec_repo.read(INVOICE).encode())
    assert [f.render() for f in raised.value.findings] == [
        f"{INVOICE}:1:1  error  YAML005  file is {size} bytes; agent specs are limited to 262144 bytes"]
    assert git(spec_repo.root, "rev-parse", f"HEAD:{INVOICE}").strip() not in read
