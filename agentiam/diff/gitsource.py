"""Read specs and stack configs straight from git objects: no checkout, no GitPython, one `cat-file` process.

A revision's files are listed with `git ls-tree -r -z` (path -> blob id); the working tree is hashed
the way git hashes blobs, so "which files differ" is a comparison of blob ids on both sides and only
the differing files are ever read, parsed and compiled.

Entries are judged as `agentiam.inputs.files` judges files on disk, with the same `Refused` and so the same
findings: a symbolic link (mode 120000) or submodule (160000) under the specs or stacks folder, a folder named like
a stack config, a blob over its kind's size limit. A link is never read as the path it stores.
"""

from __future__ import annotations

import errno
import hashlib
import os
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from agentiam.errors import UserError
from agentiam.inputs.files import (SPEC, STACK_CONFIG, DiskTree, InputKind, Problem, Refused, too_large_detail)

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
    refused: Mapping[str, Refused] = field(default_factory=dict)  # entries that are not regular files, by path
    sizes: Mapping[str, str] = field(default_factory=dict)  # blob id -> size in bytes (decimal), git revisions only
    # other regular files under the stacks folder (the agent CA): path -> blob id, where references are looked up
    others: Mapping[str, str] = field(default_factory=dict)


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


def project_prefix(stacks_prefix: str) -> str:
    """The project root as a repository path ("" = the repository root): the folder holding the stacks folder."""
    return stacks_prefix.rpartition("/")[0]


_SYMLINK, _SUBMODULE, _FOLDER = "120000", "160000", "040000"


def entry_refusal(path: str, mode: str) -> Refused | None:
    """Why a tree entry is not a file agentiam reads (a link, a submodule), as on disk; None for a regular blob."""
    if mode == _SYMLINK:
        return Refused(Problem.SYMLINK, path)
    if mode == _SUBMODULE:
        return Refused(Problem.NOT_REGULAR, path, "a git submodule")
    return None


def _stack_folder(path: str, stacks_prefix: str) -> str | None:
    """`stacks/Pulumi.dev.yaml` if `path` lies inside a folder of that name (git lists only its files)."""
    rest = path[len(stacks_prefix) + 1:] if path.startswith(stacks_prefix + "/") else ""
    first, slash, _ = rest.partition("/")
    if slash and first.startswith("Pulumi.") and first.endswith(".yaml"):
        return f"{stacks_prefix}/{first}"
    return None


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
        """Spec and stack-config blob ids and sizes at a commit, from one `git ls-tree -r -l` call."""
        commit = self.resolve(revision)
        listing = self._run(["ls-tree", "-r", "-l", "-z", "--full-tree", commit, "--", specs_prefix, stacks_prefix],
                            cwd=self.root)
        specs: dict[str, str] = {}
        stacks: dict[str, str] = {}
        others: dict[str, str] = {}
        refused: dict[str, Refused] = {}
        sizes: dict[str, str] = {}
        in_stacks = stacks_prefix + "/"
        for entry in filter(None, listing.split("\0")):
            meta, path = entry.split("\t", 1)
            mode, _kind, oid, size = meta.split()
            if mode != "100644" and mode != "100755":  # not a regular file: a link, a submodule
                if (refusal := entry_refusal(path, mode)) is not None:
                    refused[path] = refusal
                continue
            sizes[oid] = size
            if is_spec_path(path, specs_prefix):
                specs[path] = oid
            elif is_stack_path(path, stacks_prefix):
                stacks[path] = oid
            elif (folder := _stack_folder(path, stacks_prefix)) is not None:
                refused[folder] = Refused(Problem.NOT_REGULAR, folder, "a folder")
            elif path.startswith(in_stacks):
                others[path] = oid
        return Snapshot(revision, commit, specs, stacks, refused, sizes, others)

    def worktree_snapshot(self, specs_prefix: str, stacks_prefix: str) -> tuple[Snapshot, dict[str, bytes]]:
        """Blob ids of the files on disk (committed, staged, modified or untracked), and the bytes it read.

        Files git's index says are unmodified keep the index's blob id (git compares stat data, so
        nothing is read); only modified and untracked files are read (through `worktree()`, as `validate`
        reads them) and hashed. Ignored files (.gitignore) are not part of the working tree here, as for git.
        """
        scope = ["--", specs_prefix, stacks_prefix]
        oids: dict[str, str] = {}
        refused: dict[str, Refused] = {}
        for entry in filter(None, self._run(["ls-files", "-s", "-z", *scope], cwd=self.root).split("\0")):
            meta, path = entry.split("\t", 1)
            mode, oid, _stage = meta.split(" ")
            oids[path] = oid
            if (refusal := entry_refusal(path, mode)) is not None:
                refused[path] = refusal
        modified = self._run(["diff-files", "--name-only", "-z", *scope], cwd=self.root).split("\0")
        untracked = self._run(["ls-files", "-o", "--exclude-standard", "-z", *scope], cwd=self.root).split("\0")
        tree = self.worktree()
        contents: dict[str, bytes] = {}
        for path in filter(None, modified + untracked):
            oids.pop(path, None)
            refused.pop(path, None)
            kind = SPEC if is_spec_path(path, specs_prefix) else STACK_CONFIG if is_stack_path(path, stacks_prefix) \
                else None
            try:
                if kind is None:
                    tree.check(path)
                    continue
                data = tree.read(path, kind)
            except Refused as refusal:
                if refusal.problem is not Problem.MISSING:  # missing: deleted on disk, still in the index
                    refused[refusal.path] = refusal
                continue
            contents[path] = data
            oids[path] = blob_id(data)
        specs = {p: o for p, o in oids.items() if p not in refused and is_spec_path(p, specs_prefix)}
        stacks = {p: o for p, o in oids.items() if p not in refused and is_stack_path(p, stacks_prefix)}
        for path in oids:
            if (folder := _stack_folder(path, stacks_prefix)) is not None:
                refused[folder] = Refused(Problem.NOT_REGULAR, folder, "a folder")
        return Snapshot(WORKTREE, None, specs, stacks, refused), contents

    def worktree(self, prefix: str = "") -> DiskTree:
        """The working tree below the repository path `prefix`, read as `validate` reads the project."""
        return DiskTree(self.root / prefix if prefix else self.root, prefix="")

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

class GitTree:
    """The files of one revision below the repository path `root` (the project root), for referenced files:
    read with the refusals and messages of `agentiam.inputs.files.DiskTree`, links and submodules refused by their
    modes, sizes checked before reading."""

    def __init__(self, repo: GitRepo, commit: str, root: str = "", snapshot: Snapshot | None = None,
                 blobs: Mapping[str, bytes] | None = None):
        self.repo, self.commit, self.root = repo, commit, root
        self.blobs = blobs or {}  # contents already read (blob id -> bytes): no `cat-file` for them
        # regular files the snapshot already listed (repository path -> blob id, size): no `ls-tree` for them
        self.known = {path: (oid, int(snapshot.sizes[oid])) for path, oid in snapshot.others.items()} \
            if snapshot is not None else {}

    def _full(self, rel: str) -> str:
        return f"{self.root}/{rel}" if self.root else rel

    def _shown(self, full: str) -> str:
        return full[len(self.root) + 1:] if self.root else full

    def _list(self, args: list[str], paths: Iterable[str]) -> dict[str, list[str]]:
        """`git ls-tree` entries (path -> [mode, type, oid, ...]) of literal paths at the commit."""
        out = self.repo._run(["--literal-pathspecs", "ls-tree", "-z", "--full-tree", *args, self.commit, "--",
                              *paths], cwd=self.repo.root)
        entries: dict[str, list[str]] = {}
        for entry in filter(None, out.split("\0")):
            meta, path = entry.split("\t", 1)
            entries[path] = meta.split()
        return entries

    def read_many(self, rels: Iterable[str], kind: InputKind) -> dict[str, bytes | Refused]:
        """Each project-relative path's bytes at the commit, or why not (two git processes for all of them)."""
        fulls = {self._full(rel): rel for rel in rels}
        unknown = [full for full in fulls if full not in self.known]
        entries = self._list(["-r", "-l"], unknown) if unknown else {}
        entries.update({path: ["100644", "blob", *map(str, self.known[path])] for path in fulls if path in self.known})
        out: dict[str, bytes | Refused] = {}
        to_read: dict[str, str] = {}
        for full, rel in fulls.items():
            shown = self._shown(full)
            entry = entries.get(full)
            if entry is None:
                out[rel] = self._diagnose(full, folder=any(p.startswith(full + "/") for p in entries))
            elif (refusal := entry_refusal(shown, entry[0])) is not None:
                out[rel] = refusal
            elif int(entry[3]) > kind.limit:
                out[rel] = Refused(Problem.TOO_LARGE, shown, too_large_detail(int(entry[3]), kind))
            else:
                to_read[rel] = entry[2]
        blobs = {**self.blobs, **self.repo.read_blobs(o for o in to_read.values() if o not in self.blobs)}
        out.update({rel: blobs[oid] for rel, oid in to_read.items()})
        return out

    def _diagnose(self, full: str, folder: bool) -> Refused:
        """Why `full` is not a file at the commit, component by component from the root, as the disk reader says."""
        if folder:
            return Refused(Problem.NOT_REGULAR, self._shown(full), "a folder")
        parts = full.split("/")
        for depth in range(len(self.root.split("/")) + 1 if self.root else 1, len(parts) + 1):
            component = "/".join(parts[:depth])
            entry = self._list([], [component]).get(component)
            if entry is None:
                return Refused(Problem.MISSING, self._shown(component), os.strerror(errno.ENOENT))
            if (refusal := entry_refusal(self._shown(component), entry[0])) is not None:
                return refusal
            if depth < len(parts) and entry[0] != _FOLDER:
                return Refused(Problem.MISSING, self._shown(component), os.strerror(errno.ENOTDIR))
        return Refused(Problem.MISSING, self._shown(full), os.strerror(errno.ENOENT))
