"""Read specs and stack configs straight from git objects: no checkout, no GitPython, one `cat-file` process.

A revision's files are listed with `git ls-tree -r -z` (path -> blob id); the working tree is hashed
the way git hashes blobs, so "which files differ" is a comparison of blob ids on both sides and only
the differing files are ever read, parsed and compiled.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from agentiam.errors import UserError

WORKTREE = "WORKTREE"  # the head side when no --head is given: files on disk, committed or not
SPEC_SUFFIXES = (".yaml", ".yml")


class GitError(UserError):
    """git refused (not a repository, unknown revision); the message names what failed."""


@dataclass(frozen=True)
class Snapshot:
    """The files of one side of the diff: repository path -> blob id, plus where to read the bytes."""

    label: str  # the revision as the user gave it, or WORKTREE
    commit: str | None  # resolved commit id; None for the working tree
    specs: Mapping[str, str]  # agent_specs/**.yaml -> blob id
    stacks: Mapping[str, str]  # stacks/Pulumi.<stack>.yaml -> blob id


def blob_id(content: bytes) -> str:
    """The id git gives a blob with this content (`git hash-object`), computed without a process."""
    return hashlib.sha1(b"blob %d\0" % len(content) + content, usedforsecurity=False).hexdigest()


def is_spec_path(path: str, specs_prefix: str) -> bool:
    """Whether a repository path is an agent spec under the specs folder."""
    return path.startswith(specs_prefix + "/") and path.endswith(SPEC_SUFFIXES)


def is_stack_path(path: str, stacks_prefix: str) -> bool:
    """Whether a repository path is a stack config `stacks/Pulumi.<stack>.yaml` (not in a sub-folder)."""
    parent, name = path.rsplit("/", 1) if "/" in path else ("", path)
    return parent == stacks_prefix and name.startswith("Pulumi.") and name.endswith(".yaml")


def stack_of(path: str) -> str:
    """`stacks/Pulumi.dev.yaml` -> `dev`."""
    name = path.rsplit("/", 1)[-1]
    return name[len("Pulumi."):-len(".yaml")]


class GitRepo:
    """A git working copy, driven through the `git` command line."""

    def __init__(self, start: Path):
        self.root = Path(self._run(["rev-parse", "--show-toplevel"], cwd=start).strip())

    @staticmethod
    def _run(args: list[str], cwd: Path, stdin: bytes | None = None) -> str:
        try:
            done = subprocess.run(["git", *args], cwd=cwd, input=stdin, capture_output=True, check=False)
        except FileNotFoundError as exc:
            raise GitError("git is not installed or not on PATH") from exc
        if done.returncode != 0:
            message = done.stderr.decode(errors="replace").strip().splitlines()
            raise GitError(f"git {' '.join(args[:2])}: {message[0] if message else 'failed'}")
        return done.stdout.decode(errors="surrogateescape")

    def relative(self, folder: Path) -> str:
        """A folder given on the command line as a repository path (`agent_specs`)."""
        resolved = folder.resolve()
        try:
            rel = resolved.relative_to(self.root.resolve())
        except ValueError as exc:
            raise GitError(f"{folder} is not inside the git repository {self.root}") from exc
        return PurePosixPath(*rel.parts).as_posix() if rel.parts else "."

    def resolve(self, revision: str) -> str:
        """The commit id of `revision`; GitError naming it if git does not know it."""
        if revision.startswith("-"):
            raise GitError(f"not a revision: {revision!r}")
        try:
            return self._run(["rev-parse", "--verify", "--quiet", "--end-of-options", f"{revision}^{{commit}}"],
                             cwd=self.root).strip()
        except GitError as exc:
            raise GitError(f"unknown revision {revision!r} (fetch it first, e.g. `git fetch origin`, and check "
                           "the checkout has full history)") from exc

    def snapshot(self, revision: str, specs_prefix: str, stacks_prefix: str) -> Snapshot:
        """Spec and stack-config blob ids at a commit, from one `git ls-tree -r` call."""
        commit = self.resolve(revision)
        listing = self._run(["ls-tree", "-r", "-z", "--full-tree", commit, "--", specs_prefix, stacks_prefix],
                            cwd=self.root)
        specs: dict[str, str] = {}
        stacks: dict[str, str] = {}
        for entry in filter(None, listing.split("\0")):
            meta, path = entry.split("\t", 1)
            _mode, kind, oid = meta.split(" ")
            if kind != "blob":
                continue
            if is_spec_path(path, specs_prefix):
                specs[path] = oid
            elif is_stack_path(path, stacks_prefix):
                stacks[path] = oid
        return Snapshot(revision, commit, specs, stacks)

    def worktree_snapshot(self, specs_prefix: str, stacks_prefix: str) -> tuple[Snapshot, dict[str, bytes]]:
        """Blob ids of the files on disk (committed, staged, modified or untracked), and the bytes it read.

        Files git's index says are unmodified keep the index's blob id (git compares stat data, so
        nothing is read); only modified and untracked files are read and hashed. Ignored files
        (.gitignore) are not part of the working tree here, as for git.
        """
        scope = ["--", specs_prefix, stacks_prefix]
        oids: dict[str, str] = {}
        for entry in filter(None, self._run(["ls-files", "-s", "-z", *scope], cwd=self.root).split("\0")):
            meta, path = entry.split("\t", 1)
            oids[path] = meta.split(" ")[1]
        modified = self._run(["diff-files", "--name-only", "-z", *scope], cwd=self.root).split("\0")
        untracked = self._run(["ls-files", "-o", "--exclude-standard", "-z", *scope], cwd=self.root).split("\0")
        contents: dict[str, bytes] = {}
        for path in filter(None, modified + untracked):
            data = self._worktree_bytes(path)
            if data is not None:
                contents[path] = data
                oids[path] = blob_id(data)
            else:  # deleted on disk, still in the index
                oids.pop(path, None)
        specs = {p: o for p, o in oids.items() if is_spec_path(p, specs_prefix)}
        stacks = {p: o for p, o in oids.items() if is_stack_path(p, stacks_prefix)}
        return Snapshot(WORKTREE, None, specs, stacks), contents

    def read_worktree(self, path: str) -> bytes:
        """Bytes of a file on disk, by repository path, as git would store them (a symlink: its target's path)."""
        data = self._worktree_bytes(path)
        if data is None:
            raise GitError(f"{path}: listed by git but no longer on disk")
        return data

    def _worktree_bytes(self, path: str) -> bytes | None:
        """The blob git would make of `path` on disk, None if it is gone; GitError naming the file if unreadable.

        A symlink is read as git stores it (the link's target path, never followed), so its blob id matches the
        index and a dangling link is a bad spec, not a crash.
        """
        full = self.root / path
        try:
            if full.is_symlink():
                return os.fsencode(os.readlink(full))
            return full.read_bytes() if full.is_file() else None
        except OSError as exc:
            raise GitError(f"{path}: cannot read: {exc.strerror}") from exc

    def read_blobs(self, oids: Iterable[str]) -> dict[str, bytes]:
        """Contents of many blobs through one `git cat-file --batch` process."""
        wanted = sorted(set(oids))
        if not wanted:
            return {}
        out = self._run_bytes(["cat-file", "--batch"], ("\n".join(wanted) + "\n").encode())
        blobs: dict[str, bytes] = {}
        pos = 0
        for oid in wanted:
            header_end = out.index(b"\n", pos)
            header = out[pos:header_end].decode().split(" ")
            if len(header) != 3:
                raise GitError(f"git cat-file: object {oid} is missing")
            size = int(header[2])
            start = header_end + 1
            blobs[header[0]] = out[start:start + size]
            pos = start + size + 1  # content is followed by a newline
        return blobs

    def files_containing(self, commit: str, needles: Iterable[str], prefix: str) -> list[str]:
        """Paths under `prefix` at `commit` whose bytes contain every one of `needles` (`git grep -F --all-match`).

        A prefilter only: it reads the packed blobs in git's own process, far faster than loading thousands of
        specs; callers parse the few files it returns to confirm.
        """
        args = ["grep", "-l", "-z", "-F", "-I", "--all-match"]
        for needle in needles:
            args += ["-e", needle]
        done = subprocess.run(["git", *args, commit, "--", prefix], cwd=self.root, capture_output=True, check=False)
        if done.returncode == 1:  # git grep: 1 = no match
            return []
        if done.returncode != 0:
            raise GitError(f"git grep: {done.stderr.decode(errors='replace').strip()}")
        cut = len(commit) + 1  # each hit is `<commit>:<path>`
        return [hit[cut:] for hit in done.stdout.decode(errors="surrogateescape").split("\0") if hit]

    def _run_bytes(self, args: list[str], stdin: bytes) -> bytes:
        done = subprocess.run(["git", *args], cwd=self.root, input=stdin, capture_output=True, check=False)
        if done.returncode != 0:
            raise GitError(f"git {' '.join(args)}: {done.stderr.decode(errors='replace').strip()}")
        return done.stdout

    def changed_paths(self, base_commit: str, head_commit: str | None) -> list[tuple[str, str]]:
        """(status letter, path) of every file the head changed since it left the base (`git diff base...head`).

        Three dots: what the head changed, not what the base gained since (a branch behind main is not blamed for
        main's newer files). Renames count as a deletion and an addition (`--no-renames`): a file moved out of a
        folder changes both. head None: the working tree against the merge base (staged or not) plus untracked files.
        """
        tip = head_commit or "HEAD"
        try:
            since = self._run(["merge-base", base_commit, tip], cwd=self.root).strip()
        except GitError:  # unrelated histories: no merge base, compare with the base itself
            since = base_commit
        args = ["diff", "--name-status", "--no-renames", "-z", since] + ([head_commit] if head_commit else [])
        fields = self._run([*args, "--"], cwd=self.root).split("\0")
        changed = [(fields[i][:1], fields[i + 1]) for i in range(0, len(fields) - 1, 2) if fields[i]]
        if head_commit is None:
            untracked = self._run(["ls-files", "-o", "--exclude-standard", "-z"], cwd=self.root).split("\0")
            changed += [("A", path) for path in untracked if path]
        return sorted(set(changed), key=lambda item: item[1])
