"""Open input files so that what is reviewed is what deploys, on disk exactly as in git.

git stores a symbolic link as the path it points to: the diff a reviewer approves shows that path, while anything
following the link reads another file (a spec elsewhere, `/dev/zero`). A FIFO blocks a reader forever; a device
never ends. So an input is opened one path component at a time below a trusted folder, each relative to its
parent's descriptor with `O_NOFOLLOW` (a link at any level is refused, never followed), non-blocking, checked with
`fstat` on the open descriptor (what was checked is what is read) and read with a bound. The git side
(`agentiam.diff.gitsource`) refuses the same entries by their tree modes with the same `Refused`, so a finding reads
the same whichever side found it.
"""

from __future__ import annotations

import errno
import os
import posixpath
import stat
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import Enum
from pathlib import Path, PureWindowsPath

from agentiam.findings import Finding, Severity


@dataclass(frozen=True)
class InputKind:
    """A kind of input file and its size limit (a file this large is not reviewable, and bounds the reader)."""

    singular: str  # "an agent spec": in messages about the file's shape
    plural: str  # "agent specs": in messages about the limit
    limit: int  # bytes


SPEC = InputKind("an agent spec", "agent specs", 256 * 1024)
STACK_CONFIG = InputKind("a stack config", "stack configs", 256 * 1024)
REFERENCED = InputKind("a referenced file", "files referenced by stack configs", 256 * 1024)


class Problem(str, Enum):
    """Why an input is not read."""

    MISSING = "missing"
    UNREADABLE = "unreadable"
    SYMLINK = "symlink"
    NOT_REGULAR = "not-regular"
    TOO_LARGE = "too-large"
    OUTSIDE = "outside"  # a referenced path that is absolute or leaves the project


# Finding ids of a spec or stack-config file that is not read (a referenced file's problem is CFG003 on the field).
FILE_RULES = {Problem.MISSING: "YAML000", Problem.UNREADABLE: "YAML000", Problem.SYMLINK: "FILE001",
              Problem.NOT_REGULAR: "FILE002", Problem.TOO_LARGE: "YAML005", Problem.OUTSIDE: "FILE002"}

# Checks made while reading any input file (the first two here, YAML008 in agentiam.spec.source), described like
# the guardrails' input checks (agentiam.rules.registry.INPUT_CHECKS) for SARIF and docs/guardrails.md.
FILE_CHECKS: tuple[tuple[str, str, str], ...] = (
    ("FILE001", "No symbolic links among inputs",
     "git and the diff show only the path a link points to, while validate, plan and Pulumi would read the file "
     "it points to: what is reviewed would not be what deploys."),
    ("FILE002", "Inputs are regular files",
     "A FIFO blocks a reader forever, a device never ends, a folder or git submodule is not a file to review."),
    ("YAML008", "Numbers in range",
     "Every number in a spec or stack config is a count, size or duration: a 5,000-digit integer or 1e999 is a "
     "mistake or an attack on the reader, never a value Vault or AWS accepts."),
)

_SYMLINK_REASON = ("inputs must be regular files: git and the diff show only the path a link points to, while "
                   "reading it would follow the link to another file")


class Refused(Exception):
    """An input that is not read: the problem, and the path it is at (the file, or a folder or link on its way)."""

    def __init__(self, problem: Problem, path: str, detail: str = ""):
        super().__init__(problem, path, detail)
        self.problem, self.path, self.detail = problem, path, detail

    def message(self, subject: str | None = None) -> str:
        """What is wrong, naming `subject` (default: the refused path; `file` when a finding is on the file itself)."""
        who = shortened(subject or self.path)
        if self.problem is Problem.SYMLINK:
            return f"{who} is a symbolic link; {_SYMLINK_REASON}"
        if self.problem is Problem.NOT_REGULAR:
            return f"{who} is {self.detail}, not a regular file"
        if self.problem is Problem.TOO_LARGE:
            return f"{who} is {self.detail}"
        if self.problem is Problem.OUTSIDE:
            return f"{who} {self.detail}"
        return f"cannot read {who}: {self.detail}"


def shortened(path: str) -> str:
    """A path as messages quote it: a path written 3,000 characters long is not echoed whole."""
    return path if len(path) <= 160 else f"{path[:120]}... ({len(path)} characters)"


def too_large_detail(size: int | None, kind: InputKind) -> str:
    """`262182 bytes; agent specs are limited to 262144 bytes` (size None: the read passed the limit)."""
    amount = f"{size} bytes" if size is not None else f"more than {kind.limit} bytes"
    return f"{amount}; {kind.plural} are limited to {kind.limit} bytes"


def file_finding(file: str, refused: Refused) -> Finding:
    """The finding on a spec or stack-config file that was not read, located at its start."""
    subject = "file" if refused.path == file else refused.path
    return Finding(file, 1, 1, FILE_RULES[refused.problem], Severity.ERROR, "", refused.message(subject))


def describe_mode(mode: int) -> str | None:
    """None for a regular file, else what the entry is (`a FIFO (named pipe)`), as messages name it."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    for test, name in ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "a special file"


def project_path(reference: str) -> str:
    """A referenced path as a normalised path below the project root (`stacks/ca/dev.pem`); Refused(OUTSIDE) if it is
    absolute, leaves the project with `..`, names the project itself, or holds control characters.

    Lexical normalisation is exact here: every component is then opened without following links, so `a/../b` is `b`.
    """
    if not reference or any(ord(c) < 32 or ord(c) == 127 for c in reference):
        raise Refused(Problem.OUTSIDE, repr(reference), "is not a usable path (empty, or control characters)")
    if reference.startswith(("/", "\\")) or PureWindowsPath(reference).drive:
        raise Refused(Problem.OUTSIDE, reference, "is an absolute path; name the file relative to the project (the "
                      "folder holding stacks/), so that review and deployment read the same file")
    parts: list[str] = []
    for part in reference.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if not parts:
                raise Refused(Problem.OUTSIDE, reference, "leaves the project (the folder holding stacks/); "
                              "referenced files must be part of the reviewed repository")
            parts.pop()
        else:
            parts.append(part)
    if not parts:
        raise Refused(Problem.OUTSIDE, reference, "names the project folder itself, not a file")
    return "/".join(parts)


_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
# O_NONBLOCK: opening a FIFO returns at once (then fstat refuses it) instead of waiting for a writer.
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
_CHUNK = 64 * 1024


def _read_bounded(fd: int, size: int, limit: int) -> bytes | None:
    """The descriptor's bytes, or None past `limit` (fstat's size is only a hint: /proc files report 0).

    Asking one byte more than fstat's size tells the end at once: a regular file's read returns fewer bytes than
    asked only at its end (os.read retries on EINTR), so a file of the reported size costs one read."""
    want = min(size, limit) + 1
    first = os.read(fd, want)
    if len(first) < want:
        return first
    chunks, total = [first], len(first)
    while chunks[-1] and total <= limit:
        chunks.append(os.read(fd, min(_CHUNK, limit + 1 - total)))
        total += len(chunks[-1])
    return b"".join(chunks) if total <= limit else None


@contextmanager
def _closing(fd: int) -> Iterator[int]:
    try:
        yield fd
    finally:
        os.close(fd)


class DiskTree:
    """Input files below `root`, a folder trusted as it is (the project root, or the folder holding a path the user
    named): every component below it is opened without following links.

    `prefix` is how paths are shown in findings (`agent_specs/x.yaml` relative to the working directory, or
    `/abs/agent_specs/x.yaml` as the user wrote it); it defaults to `root` as given.
    """

    def __init__(self, root: str | Path, prefix: str | None = None):
        self.root = root
        self.prefix = str(root) if prefix is None else prefix

    def display(self, rel: str) -> str:
        """`rel` as findings name it."""
        if self.prefix in ("", "."):
            return rel or "."
        return posixpath.join(self.prefix, rel) if rel else self.prefix

    # -- opening -------------------------------------------------------------------------------------------

    def _open_root(self) -> int:
        try:
            return os.open(self.root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError as exc:
            raise _os_refusal(exc, self.display("")) from exc

    def _refusal(self, dir_fd: int, name: str, rel: str, exc: OSError, want_dir: bool) -> Refused:
        """Why opening `name` failed, told from its own lstat (the open's errno alone cannot say `symbolic link`)."""
        shown = self.display(rel)
        try:
            mode = os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode
        except OSError as err:
            return _os_refusal(err, shown)
        if stat.S_ISLNK(mode):
            return Refused(Problem.SYMLINK, shown)
        if want_dir and not stat.S_ISDIR(mode):
            return Refused(Problem.MISSING, shown, os.strerror(errno.ENOTDIR))
        described = describe_mode(mode)
        if described and not want_dir:
            return Refused(Problem.NOT_REGULAR, shown, described)
        return _os_refusal(exc, shown)

    def _open_folders(self, parts: list[str]) -> int:
        """A descriptor of the folder `parts` below the root, each component opened without following links."""
        fd = self._open_root()
        for depth, name in enumerate(parts):
            try:
                child = os.open(name, _DIR_FLAGS, dir_fd=fd)
            except OSError as exc:
                refused = self._refusal(fd, name, "/".join(parts[:depth + 1]), exc, want_dir=True)
                os.close(fd)
                raise refused from exc
            os.close(fd)
            fd = child
        return fd

    def _read_at(self, dir_fd: int, name: str, rel: str, kind: InputKind, checked: bool = False) -> bytes:
        """Read `name` in the folder `dir_fd`; `checked`: a directory listing already said it is a regular file."""
        shown = self.display(rel)
        if not checked:  # refused before opening: opening a device may itself act
            try:
                mode = os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode
            except OSError as exc:
                raise _os_refusal(exc, shown) from exc
            if stat.S_ISLNK(mode):
                raise Refused(Problem.SYMLINK, shown)
            if not stat.S_ISREG(mode):
                raise Refused(Problem.NOT_REGULAR, shown, describe_mode(mode) or "")
        try:
            fd = os.open(name, _FILE_FLAGS, dir_fd=dir_fd)
        except OSError as exc:
            raise self._refusal(dir_fd, name, rel, exc, want_dir=False) from exc
        try:
            status = os.fstat(fd)  # the open descriptor: an entry swapped after the check is caught here
            described = describe_mode(status.st_mode)
            if described:
                raise Refused(Problem.NOT_REGULAR, shown, described)
            if status.st_size > kind.limit:
                raise Refused(Problem.TOO_LARGE, shown, too_large_detail(status.st_size, kind))
            data = _read_bounded(fd, status.st_size, kind.limit)
        except OSError as exc:
            raise _os_refusal(exc, shown) from exc
        finally:
            os.close(fd)
        if data is None:
            raise Refused(Problem.TOO_LARGE, shown, too_large_detail(None, kind))
        return data

    # -- public --------------------------------------------------------------------------------------------

    def read(self, rel: str, kind: InputKind) -> bytes:
        """The bytes of the regular file `rel` (a `/`-separated path below the root); Refused otherwise."""
        parts = rel.split("/")
        fd = self._open_folders(parts[:-1])
        try:
            return self._read_at(fd, parts[-1], rel, kind)
        finally:
            os.close(fd)

    def check(self, rel: str) -> None:
        """Refused if `rel` is a link or a special file, or lies below a link; only folders are opened."""
        parts = rel.split("/")
        fd = self._open_folders(parts[:-1])
        try:
            mode = os.stat(parts[-1], dir_fd=fd, follow_symlinks=False).st_mode
        except OSError as exc:
            raise _os_refusal(exc, self.display(rel)) from exc
        finally:
            os.close(fd)
        if stat.S_ISLNK(mode):
            raise Refused(Problem.SYMLINK, self.display(rel))
        if not stat.S_ISDIR(mode) and (described := describe_mode(mode)):
            raise Refused(Problem.NOT_REGULAR, self.display(rel), described)

    def read_many(self, rels: Iterable[str], kind: InputKind) -> dict[str, bytes | Refused]:
        """`read` of each path, a refusal as a value (the git tree answers the same question in two processes)."""
        out: dict[str, bytes | Refused] = {}
        for rel in rels:
            try:
                out[rel] = self.read(rel, kind)
            except Refused as refused:
                out[rel] = refused
        return out

    def walk(self, rel: str, kind: InputKind, select: Callable[[str], bool],
             must_be_file: Callable[[str], bool] = lambda _rel: False) -> Iterator[tuple[str, bytes | Refused]]:
        """(shown path, bytes or refusal) of the file `rel`, or of every `select`ed file in the folder `rel` and its
        sub-folders (sorted, depth first), plus a refusal for every link or special file met on the way and every
        folder where `must_be_file` expects a file. `rel` empty: the whole tree."""
        return self.walk_many([rel], kind, select, must_be_file)

    def walk_many(self, rels: Iterable[str], kind: InputKind, select: Callable[[str], bool],
                  must_be_file: Callable[[str], bool] = lambda _rel: False) -> Iterator[tuple[str, bytes | Refused]]:
        """`walk` of each path, in order; the folders on their way are opened once per run of paths sharing a
        folder (10,000 spec files named one by one cost one open of their folder, not one per file)."""
        folder: str | None = None
        fd = -1
        try:
            for rel in rels:
                if not rel:
                    with _closing(self._open_root()) as root:
                        yield from self._walk_folder(root, "", kind, select, must_be_file)
                    continue
                parent, _, name = rel.rpartition("/")
                if parent != folder:
                    if fd >= 0:
                        os.close(fd)
                        fd = -1
                    folder = parent
                    try:
                        fd = self._open_folders(parent.split("/") if parent else [])
                    except Refused as refused:
                        yield refused.path, refused
                        continue
                if fd < 0:  # the folder was refused: said once above
                    continue
                yield from self._walk_entry(fd, name, rel, kind, select, must_be_file)
        finally:
            if fd >= 0:
                os.close(fd)

    def _walk_entry(self, parent: int, name: str, rel: str, kind: InputKind, select: Callable[[str], bool],
                    must_be_file: Callable[[str], bool]) -> Iterator[tuple[str, bytes | Refused]]:
        shown = self.display(rel)
        try:
            mode = os.stat(name, dir_fd=parent, follow_symlinks=False).st_mode
            if stat.S_ISREG(mode):
                yield shown, self._read_at(parent, name, rel, kind, checked=True)
                return
            if not stat.S_ISDIR(mode):
                yield shown, (Refused(Problem.SYMLINK, shown) if stat.S_ISLNK(mode)
                              else Refused(Problem.NOT_REGULAR, shown, describe_mode(mode) or ""))
                return
            folder = os.open(name, _DIR_FLAGS, dir_fd=parent)
        except Refused as refused:
            yield shown, refused
            return
        except OSError as exc:
            yield shown, self._refusal(parent, name, rel, exc, want_dir=False)
            return
        with _closing(folder):
            yield from self._walk_folder(folder, rel, kind, select, must_be_file)

    def _walk_folder(self, fd: int, rel: str, kind: InputKind, select: Callable[[str], bool],
                     must_be_file: Callable[[str], bool]) -> Iterator[tuple[str, bytes | Refused]]:
        try:
            with os.scandir(fd) as listing:
                entries = sorted(listing, key=lambda e: e.name)
        except OSError as exc:
            yield self.display(rel), _os_refusal(exc, self.display(rel))
            return
        for entry in entries:
            child = f"{rel}/{entry.name}" if rel else entry.name
            shown = self.display(child)
            try:
                if entry.is_symlink():
                    yield shown, Refused(Problem.SYMLINK, shown)
                elif entry.is_dir(follow_symlinks=False):
                    if must_be_file(child):
                        yield shown, Refused(Problem.NOT_REGULAR, shown, "a folder")
                        continue
                    try:
                        folder = os.open(entry.name, _DIR_FLAGS, dir_fd=fd)
                    except OSError as exc:
                        yield shown, self._refusal(fd, entry.name, child, exc, want_dir=True)
                        continue
                    try:
                        yield from self._walk_folder(folder, child, kind, select, must_be_file)
                    finally:
                        os.close(folder)
                elif entry.is_file(follow_symlinks=False):
                    if select(child):
                        yield shown, self._read_at(fd, entry.name, child, kind, checked=True)
                else:
                    described = describe_mode(entry.stat(follow_symlinks=False).st_mode) or "a special file"
                    yield shown, Refused(Problem.NOT_REGULAR, shown, described)
            except Refused as refused:
                yield shown, refused
            except OSError as exc:
                yield shown, _os_refusal(exc, shown)


def _os_refusal(exc: OSError, shown: str) -> Refused:
    missing = exc.errno in (errno.ENOENT, errno.ENOTDIR)
    return Refused(Problem.MISSING if missing else Problem.UNREADABLE, shown, exc.strerror or str(exc))


def locate(path: Path, anchor: Path) -> tuple[DiskTree, str]:
    """The tree and relative path through which to read `path` (a file or folder the user named).

    Below `anchor` (the project root) every component of `path` is opened without following links, so a linked
    `agent_specs/` or `stacks/` is refused; a path outside the project is trusted up to its parent folder. Findings
    name files as the user spelled `path` (relative or absolute).
    """
    root, prefix, rel = split_path(path, os.path.abspath(anchor))
    return DiskTree(root, prefix), rel


def split_path(path: str | os.PathLike[str], base: str) -> tuple[str, str, str]:
    """(trusted root, how findings spell it, relative path) of `path` against the absolute project root `base`:
    `locate` in string operations only, as `validate` may be handed 10,000 files."""
    given = os.path.normpath(os.fspath(path))
    absolute = os.path.abspath(given)
    if absolute == base:
        return given, "" if given == "." else given, ""
    inside = base.rstrip(os.sep) + os.sep
    if absolute.startswith(inside):
        root, rel = base, absolute[len(inside):]
    else:
        root, rel = os.path.split(absolute)
        if not rel:  # the file-system root itself
            return absolute, absolute, ""
    if given == rel:
        return ".", "", rel
    if given.endswith(os.sep + rel):
        spelled = given[:-len(rel) - 1] or os.sep
        return spelled, spelled, rel
    return root, root, rel
