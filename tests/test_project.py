"""The facade's checks across stack files: shards of one environment must fit together."""

from __future__ import annotations

import datetime as dt
import os
import shutil
from pathlib import Path

import pytest

from agentiam.errors import ConfigError
from agentiam import project
from agentiam.inputs import files
from agentiam.project import load_environments

ROOT = Path(__file__).resolve().parents[1]
DEV = (ROOT / "stacks" / "Pulumi.dev.yaml").read_text()


@pytest.fixture
def stacks(tmp_path: Path) -> Path:
    """An empty stacks folder in a project holding the dev agent CA the stack configs reference."""
    folder = tmp_path / "stacks"
    shutil.copytree(ROOT / "stacks" / "ca", folder / "ca")
    return folder


def write_shard(folder: Path, stack: str, count: int, index: int, owner: bool) -> None:
    selection = (f"    selection:\n      shard_count: {count}\n      shard_index: {index}\n"
                 f"      shared_resources: {'true' if owner else 'false'}\n")
    (folder / f"Pulumi.{stack}.yaml").write_text(DEV + selection)


def test_complete_shards_with_one_owner_load(stacks):
    write_shard(stacks, "dev-0", 2, 0, owner=True)
    write_shard(stacks, "dev-1", 2, 1, owner=False)
    assert list(load_environments(stacks)) == ["dev"]


@pytest.mark.parametrize("owners,expected", [((False, False), "found 0"), ((True, True), "found 2")])
def test_exactly_one_stack_owns_the_shared_resources(stacks, owners, expected):
    write_shard(stacks, "dev-0", 2, 0, owner=owners[0])
    write_shard(stacks, "dev-1", 2, 1, owner=owners[1])
    with pytest.raises(ConfigError,
                       match=f"needs exactly one stack with `selection.shared_resources: true`, {expected}"):
        load_environments(stacks)


def test_a_missing_shard_is_refused_because_its_agents_would_never_exist(stacks):
    write_shard(stacks, "dev-0", 3, 0, owner=True)
    write_shard(stacks, "dev-2", 3, 2, owner=False)
    with pytest.raises(ConfigError, match="shard_count 3 but no stack for shard_index 1; those agents would never"):
        load_environments(stacks)


def test_shards_must_agree_on_the_shard_count(stacks):
    write_shard(stacks, "dev-0", 2, 0, owner=True)
    write_shard(stacks, "dev-1", 3, 1, owner=False)
    with pytest.raises(ConfigError, match=r"disagree on shard_count \(\[2, 3\]\)"):
        load_environments(stacks)


def test_shards_may_differ_only_in_selection(stacks):
    write_shard(stacks, "dev-0", 2, 0, owner=True)
    (stacks / "Pulumi.dev-1.yaml").write_text(
        DEV.replace("retention_days: 30", "retention_days: 60")
        + "    selection:\n      shard_count: 2\n      shard_index: 1\n      shared_resources: false\n")
    with pytest.raises(ConfigError) as caught:
        load_environments(stacks)
    (finding,) = caught.value.findings  # located on the stack that differs, at its `agentiam:environment` key
    assert (finding.file, finding.line, finding.rule_id, finding.path) == (
        str(stacks / "Pulumi.dev-1.yaml"), 7, "CFG004", "agentiam:environment")
    assert finding.message == (f"environment 'dev' is configured differently by {stacks / 'Pulumi.dev-0.yaml'}; "
                               "shards of one environment may differ only in `selection`")


def test_the_bundled_sharded_example_is_consistent(stacks):
    for path in (ROOT / "stacks" / "sharded-example").glob("Pulumi.*.yaml"):
        shutil.copy(path, stacks)  # adopted as docs/pulumi.md says: in place of stacks/Pulumi.prod.yaml
    assert list(load_environments(stacks)) == ["prod"]


def test_a_missing_stacks_folder_is_one_clear_error_not_a_finding_per_environment(tmp_path):
    # Before: every spec got an AGT003 per environment ("known environments: none") and exit 1.
    specs = tmp_path / "agent_specs"
    shutil.copytree(ROOT / "agent_specs" / "billing", specs)
    for call in (lambda: project.validate([specs], tmp_path / "nope"),
                 lambda: project.compile_plan("dev", specs, tmp_path / "nope")):
        with pytest.raises(ConfigError, match=r"nope: no such folder of stack configs"):
            call()


def test_compile_plan_reads_each_stack_file_once(tmp_path, monkeypatch):
    shutil.copytree(ROOT / "stacks", tmp_path / "stacks")
    (tmp_path / "empty").mkdir()
    reads: list[str] = []
    real = files.DiskTree._read_at
    monkeypatch.setattr(files.DiskTree, "_read_at", lambda self, fd, name, rel, *args, **kwargs: reads.append(rel)
                        or real(self, fd, name, rel, *args, **kwargs))
    plan, _ = project.compile_plan("dev", tmp_path / "empty", tmp_path / "stacks")
    assert plan.environment == "dev" and plan.agents == []
    assert sorted(reads) == ["stacks/Pulumi.dev.yaml", "stacks/Pulumi.prod.yaml", "stacks/Pulumi.staging.yaml",
                             "stacks/ca/dev-agents-ca.pem", "stacks/ca/prod-agents-ca.pem",
                             "stacks/ca/staging-agents-ca.pem"]


def test_compile_plan_of_an_unknown_stack_names_the_known_ones_even_if_another_is_broken(tmp_path):
    shutil.copytree(ROOT / "stacks", tmp_path / "stacks")
    (tmp_path / "stacks" / "Pulumi.staging.yaml").write_text("config: [")
    with pytest.raises(ConfigError, match=r"Pulumi.qa.yaml: no such stack config; known stacks: dev, prod, staging"):
        project.compile_plan("qa", tmp_path / "empty", tmp_path / "stacks")


def test_unreadable_spec_entries_are_reported_never_skipped(tmp_path):
    # Skipped silently, a spec turned into a dangling symlink would drop its agent from the plan (and Pulumi would
    # delete the identity); a FIFO would block the read forever; a link is never followed, whatever it points to.
    specs = tmp_path / "agent_specs"
    specs.mkdir()
    (specs / "gone.yaml").symlink_to("missing.yaml")
    (specs / "loop.yaml").symlink_to("loop.yaml")
    (specs / "zero.yaml").symlink_to("/dev/zero")
    (specs / "team").symlink_to(ROOT / "agent_specs" / "billing")  # a linked folder is refused, not walked
    os.mkfifo(specs / "pipe.yaml")
    (specs / "folder.yaml").mkdir()  # a folder is walked, not read
    (specs / "folder.yaml" / "empty.yml").write_bytes(b"")
    result = project.validate([specs], ROOT / "stacks")
    link = ("FILE001", "file is a symbolic link; inputs must be regular files: git and the diff show only the path a "
                       "link points to, while reading it would follow the link to another file")
    assert [(Path(f.file).relative_to(specs).as_posix(), f.rule_id, f.message) for f in result.findings] == [
        ("folder.yaml/empty.yml", "YAML007", "file is empty; an agent spec is a YAML mapping"),
        ("gone.yaml", *link), ("loop.yaml", *link),
        ("pipe.yaml", "FILE002", "file is a FIFO (named pipe), not a regular file"),
        ("team", *link), ("zero.yaml", *link),
    ]
    assert result.files_checked == 6 and not result.ok


def test_an_oversized_spec_is_refused_before_it_is_read(tmp_path, monkeypatch):
    big = tmp_path / "big.yaml"
    with big.open("wb") as f:
        f.truncate(3 * 1024**3)  # sparse: 3 GiB on paper, nothing on disk
    environments = project.load_environments(ROOT / "stacks")
    monkeypatch.setattr(files, "_read_bounded", lambda *args: pytest.fail(f"read {big}"))
    (finding,) = project.validate([big], ROOT / "stacks", environments=environments).findings
    assert (finding.rule_id, finding.message) == (
        "YAML005", f"file is {3 * 1024**3} bytes; agent specs are limited to 262144 bytes")


def test_validate_in_worker_processes_finds_the_same_in_the_same_order(monkeypatch, tmp_path):
    """Every rule fixture (valid, invalid, partly valid, duplicate names, colliding derived names), the broken
    specs and the examples, judged in 2 worker processes in chunks of 8 files, against one process keeping every
    spec: identical findings, same order, same file count. Links are refused by the reader, before any worker."""
    monkeypatch.setattr(project, "_CHUNK", 8)
    paths = [ROOT / "agent_specs", ROOT / "tests" / "fixtures" / "specs"]
    (tmp_path / "linked.yaml").symlink_to(ROOT / "agent_specs" / "billing" / "invoice-reader.yaml")
    paths.append(tmp_path)
    serial = project.validate(paths, ROOT / "stacks", dt.date(2026, 12, 1))
    workers = project.validate(paths, ROOT / "stacks", dt.date(2026, 12, 1), keep_specs=False, jobs=2)
    assert serial.files_checked > 8 * 4
    assert {f.rule_id for f in serial.findings} >= {"AGT001", "AGT007", "AGT043", "AGT045", "SPEC003", "FILE001"}
    assert workers.findings == serial.findings
    assert workers.files_checked == serial.files_checked
    assert workers.specs == [] and serial.specs


def test_overlapping_paths_read_each_spec_once_and_one_folder_reads_each_once(tmp_path):
    specs = tmp_path / "agent_specs"
    shutil.copytree(ROOT / "agent_specs", specs)
    every = sorted(specs.rglob("*.y*ml"))
    today = dt.date(2026, 12, 1)  # every bundled spec valid
    one = project.validate([specs], ROOT / "stacks", today)
    billing = specs / "billing"
    overlapping = project.validate([specs, billing, billing / "invoice-reader.yaml", specs / "." / "billing"],
                                   ROOT / "stacks", today)

    assert one.files_checked == len(every) > 1
    assert overlapping.files_checked == len(every)  # the folder, its sub-folder and a file in it: each spec once
    assert sorted(s.file for s in overlapping.specs) == sorted(s.file for s in one.specs)


def test_check_specs_keeps_what_keep_makes_and_drops_files_with_errors_unless_tolerated(tmp_path):
    from agentiam.rules.identity import NOT_EXPIRED
    from agentiam.spec.validate import LoadedSpec, ValidSpec

    specs = tmp_path / "agent_specs"
    shutil.copytree(ROOT / "agent_specs", specs)
    expired = specs / "billing" / "invoice-reader.yaml"
    text = expired.read_text()
    expires = next(line for line in text.splitlines() if line.startswith("expires:"))
    expired.write_text(text.replace(expires, "expires: 2020-01-01"))
    stacks, today = ROOT / "stacks", dt.date(2026, 12, 1)  # every other bundled spec valid

    lean, findings, count = project.check_specs([specs], stacks, today, None, LoadedSpec.without_document)
    tolerated, _, _ = project.check_specs([specs], stacks, today, None, LoadedSpec.without_document,
                                          tolerated=frozenset({NOT_EXPIRED.id}))
    whole = project.validate([specs], stacks, today)
    assert len(whole.specs) == count - 1 > 1  # the expired one aside, every spec is kept

    assert [f.rule_id for f in findings if f.file == str(expired)] == [NOT_EXPIRED.id]
    assert all(type(s) is ValidSpec and not hasattr(s, "document") for s in lean)  # the documents are not kept
    assert sorted(s.file for s in lean) == sorted(s.file for s in whole.specs)  # the expired file left out
    assert str(expired) not in {s.file for s in lean} and str(expired) in {s.file for s in tolerated}
    assert {s.file: s.digest for s in lean} == {s.file: s.digest for s in whole.specs}
    assert count == whole.files_checked
