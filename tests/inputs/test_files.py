"""The input reader: regular files only, no link followed at any level, no hang, bounded reads; the same refusals
from a git revision as from the disk."""

from __future__ import annotations

import os
import socket
import subprocess
import threading
from pathlib import Path

import pytest

from agentiam.diff.gitsource import GitRepo, GitTree
from agentiam.inputs import files
from agentiam.inputs.files import SPEC, DiskTree, InputKind, Problem, Refused, locate, project_path

SMALL = InputKind("a test file", "test files", 64)


def refusal(call) -> tuple[Problem, str, str]:
    with pytest.raises(Refused) as raised:
        call()
    return raised.value.problem, raised.value.path, raised.value.detail


@pytest.fixture
def tree(tmp_path: Path) -> DiskTree:
    (tmp_path / "stacks" / "ca").mkdir(parents=True)
    (tmp_path / "stacks" / "ca" / "dev.pem").write_bytes(b"pem")
    (tmp_path / "stacks" / "Pulumi.dev.yaml").write_bytes(b"config: {}\n")
    return DiskTree(tmp_path, prefix="")


def test_a_regular_file_is_read_whole(tree: DiskTree) -> None:
    assert tree.read("stacks/ca/dev.pem", SMALL) == b"pem"


def test_a_link_is_refused_as_the_file_and_on_its_way(tree: DiskTree, tmp_path: Path) -> None:
    (tmp_path / "stacks" / "ca" / "link.pem").symlink_to("dev.pem")
    (tmp_path / "stacks" / "pki").symlink_to("ca")  # the folder on the way is the link
    (tmp_path / "stacks" / "zero.pem").symlink_to("/dev/zero")
    assert refusal(lambda: tree.read("stacks/ca/link.pem", SMALL)) == (Problem.SYMLINK, "stacks/ca/link.pem", "")
    assert refusal(lambda: tree.read("stacks/pki/dev.pem", SMALL)) == (Problem.SYMLINK, "stacks/pki", "")
    assert refusal(lambda: tree.read("stacks/zero.pem", SMALL)) == (Problem.SYMLINK, "stacks/zero.pem", "")


def test_a_fifo_is_refused_at_once_never_waited_on(tree: DiskTree, tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "stacks" / "Pulumi.qa.yaml")
    outcome: list[object] = []

    def read() -> None:
        try:
            tree.read("stacks/Pulumi.qa.yaml", SMALL)
        except Refused as refused:
            outcome.append((refused.problem, refused.detail))

    worker = threading.Thread(target=read, daemon=True)
    worker.start()
    worker.join(timeout=10)
    assert not worker.is_alive(), "reading a FIFO blocked"
    assert outcome == [(Problem.NOT_REGULAR, "a FIFO (named pipe)")]


def test_a_fifo_swapped_in_after_the_check_is_caught_on_the_open_descriptor(tree: DiskTree, tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    # A listing said "regular file" (checked=True skips the lstat); the entry is a FIFO by the time it is opened.
    os.mkfifo(tmp_path / "stacks" / "swapped.yaml")
    fd = os.open(tmp_path / "stacks", os.O_RDONLY | os.O_DIRECTORY)
    try:
        assert refusal(lambda: tree._read_at(fd, "swapped.yaml", "stacks/swapped.yaml", SMALL, checked=True)) == (
            Problem.NOT_REGULAR, "stacks/swapped.yaml", "a FIFO (named pipe)")
    finally:
        os.close(fd)


def test_a_socket_and_a_folder_are_not_files(tree: DiskTree, tmp_path: Path) -> None:
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(tmp_path / "stacks" / "Pulumi.sock.yaml"))
    try:
        assert refusal(lambda: tree.read("stacks/Pulumi.sock.yaml", SMALL))[::2] == (Problem.NOT_REGULAR, "a socket")
    finally:
        server.close()
    assert refusal(lambda: tree.read("stacks/ca", SMALL)) == (Problem.NOT_REGULAR, "stacks/ca", "a folder")


def test_missing_entries_are_named_where_the_path_stops(tree: DiskTree) -> None:
    assert refusal(lambda: tree.read("stacks/ca/gone.pem", SMALL)) == (
        Problem.MISSING, "stacks/ca/gone.pem", "No such file or directory")
    assert refusal(lambda: tree.read("stacks/pki/dev.pem", SMALL)) == (
        Problem.MISSING, "stacks/pki", "No such file or directory")
    assert refusal(lambda: tree.read("stacks/ca/dev.pem/x", SMALL)) == (
        Problem.MISSING, "stacks/ca/dev.pem", "Not a directory")


def test_size_is_refused_from_fstat_before_reading(tree: DiskTree, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    with (tmp_path / "stacks" / "big.yaml").open("wb") as f:
        f.truncate(5 * 1024**3)  # sparse: 5 GiB on paper
    monkeypatch.setattr(files, "_read_bounded", lambda *args: pytest.fail("read an oversized file"))
    assert refusal(lambda: tree.read("stacks/big.yaml", SPEC)) == (
        Problem.TOO_LARGE, "stacks/big.yaml", f"{5 * 1024**3} bytes; agent specs are limited to 262144 bytes")


def test_a_read_is_bounded_whatever_the_size_fstat_reports() -> None:
    # /dev/zero and /proc files report size 0 and never end (or end late): the read stops past the limit.
    with open("/dev/zero", "rb") as zero:
        assert files._read_bounded(zero.fileno(), 0, 1024) is None
    read, write = os.pipe()
    os.write(write, b"x" * 100)
    os.close(write)
    assert files._read_bounded(read, 0, 100) == b"x" * 100
    os.close(read)


def test_walk_reads_selected_files_in_order_and_refuses_every_link_and_special_file(tree: DiskTree,
                                                                                   tmp_path: Path) -> None:
    stacks = tmp_path / "stacks"
    (stacks / "Pulumi.prod.yaml").write_bytes(b"prod")
    (stacks / "Pulumi.staging.yaml").mkdir()  # named like a file that must be one
    (stacks / "ca" / "old.pem").symlink_to("dev.pem")  # not selected, still refused: a link is never an input
    (stacks / "notes").mkdir()
    os.mkfifo(stacks / "notes" / "pipe")

    def stack_file(rel: str) -> bool:
        parent, _, name = rel.rpartition("/")
        return parent == "stacks" and name.startswith("Pulumi.")

    got = [(shown, value if isinstance(value, bytes) else (value.problem, value.path, value.detail))
           for shown, value in tree.walk("stacks", SMALL, stack_file, must_be_file=stack_file)]
    assert got == [
        ("stacks/Pulumi.dev.yaml", b"config: {}\n"),
        ("stacks/Pulumi.prod.yaml", b"prod"),
        ("stacks/Pulumi.staging.yaml", (Problem.NOT_REGULAR, "stacks/Pulumi.staging.yaml", "a folder")),
        ("stacks/ca/old.pem", (Problem.SYMLINK, "stacks/ca/old.pem", "")),
        ("stacks/notes/pipe", (Problem.NOT_REGULAR, "stacks/notes/pipe", "a FIFO (named pipe)")),
    ]


def test_walk_of_a_linked_folder_refuses_it_without_entering(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "a.yaml").write_text("name: a\n")
    (tmp_path / "agent_specs").symlink_to("real")
    tree, rel = locate(tmp_path / "agent_specs", tmp_path)
    assert [(shown, value.problem) for shown, value in tree.walk(rel, SPEC, lambda _: True)] == [
        (str(tmp_path / "agent_specs"), Problem.SYMLINK)]


@pytest.mark.parametrize("given,anchor,root,rel", [
    ("agent_specs/billing", ".", ".", "agent_specs/billing"),  # relative: findings stay relative
    ("./agent_specs", ".", ".", "agent_specs"),
    ("{tmp}/agent_specs", ".", "{tmp}", "agent_specs"),  # absolute: findings stay absolute
    ("{tmp}/agent_specs", "{tmp}/stacks/..", "{tmp}", "agent_specs"),
    ("/elsewhere/specs", ".", "/elsewhere", "specs"),  # outside the project: trusted up to its parent
])
def test_locate_checks_every_component_below_the_project_and_names_files_as_given(given, anchor, root, rel, tmp_path,
                                                                                   monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    tree, got_rel = locate(Path(given.format(tmp=tmp_path)), Path(anchor.format(tmp=tmp_path)))
    assert (str(tree.root), got_rel) == (root.format(tmp=tmp_path), rel)
    shown = tree.display(f"{got_rel}/x.yaml")
    assert shown == str(Path(given.format(tmp=tmp_path)) / "x.yaml")


@pytest.mark.parametrize("reference,expected", [
    ("stacks/ca/dev.pem", "stacks/ca/dev.pem"),
    ("./stacks//ca/./dev.pem", "stacks/ca/dev.pem"),
    ("stacks/../pki/dev.pem", "pki/dev.pem"),
])
def test_project_paths_are_normalised(reference: str, expected: str) -> None:
    assert project_path(reference) == expected


@pytest.mark.parametrize("reference,detail", [
    ("/etc/ssl/certs/ca.pem", "is an absolute path"),
    ("C:/ca.pem", "is an absolute path"),
    ("\\\\server\\share\\ca.pem", "is an absolute path"),
    ("../other/ca.pem", "leaves the project"),
    ("stacks/../../ca.pem", "leaves the project"),
    (".", "names the project folder itself"),
    ("", "is not a usable path"),
    ("stacks/ca\x00.pem", "is not a usable path"),
])
def test_references_outside_the_project_are_refused(reference: str, detail: str) -> None:
    with pytest.raises(Refused) as raised:
        project_path(reference)
    assert raised.value.problem is Problem.OUTSIDE and raised.value.detail.startswith(detail)


def _git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True).stdout


def test_git_and_disk_refuse_the_same_entries_with_the_same_words(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    (root / "infra" / "stacks" / "ca").mkdir(parents=True)
    (root / "infra" / "stacks" / "ca" / "dev.pem").write_bytes(b"ok")
    (root / "infra" / "stacks" / "ca" / "big.pem").write_bytes(b"x" * 65)
    (root / "infra" / "stacks" / "ca" / "link.pem").symlink_to("dev.pem")
    (root / "infra" / "stacks" / "pki").symlink_to("ca")
    (root / "infra" / "stacks" / "file").write_bytes(b"a file")
    _git(root, "init", "-q")
    _git(root, "add", "-A")
    _git(root, "-c", "user.email=a@b.c", "-c", "user.name=n", "-c", "commit.gpgsign=false", "commit", "-qm", "x")
    rels = ["stacks/ca/dev.pem", "stacks/ca/big.pem", "stacks/ca/link.pem", "stacks/pki/dev.pem", "stacks/ca",
            "stacks/ca/gone.pem", "stacks/gone/x.pem", "stacks/file/x.pem", "gone.pem"]
    on_disk = DiskTree(root / "infra", prefix="").read_many(rels, SMALL)
    in_git = GitTree(GitRepo(root), _git(root, "rev-parse", "HEAD").strip(), "infra").read_many(rels, SMALL)

    def plain(value: bytes | Refused) -> object:
        return value if isinstance(value, bytes) else (value.problem, value.path, value.message())

    assert {rel: plain(v) for rel, v in in_git.items()} == {rel: plain(v) for rel, v in on_disk.items()}
    assert plain(in_git["stacks/ca/dev.pem"]) == b"ok"
    assert {rel: v.problem for rel, v in in_git.items() if isinstance(v, Refused)} == {
        "stacks/ca/big.pem": Problem.TOO_LARGE, "stacks/ca/link.pem": Problem.SYMLINK,
        "stacks/pki/dev.pem": Problem.SYMLINK, "stacks/ca": Problem.NOT_REGULAR, "stacks/ca/gone.pem": Problem.MISSING,
        "stacks/gone/x.pem": Problem.MISSING, "stacks/file/x.pem": Problem.MISSING, "gone.pem": Problem.MISSING}
