"""Streaming reader of audit logs: files (plain or gzip, `-` for stdin) -> agent events, with memory flat in the
input's size.

Three shapes are recognised per file, whatever its name:
- JSON lines (Vault/OpenBao file audit device; CloudTrail events one per line, as a log subscription or a SIEM
  forwards them; CloudWatch Logs subscription envelopes with the events in `logEvents[].message`; whole CloudTrail
  documents on one line). Each line is one JSON value; several values run together (`{...}{...}`, as Firehose
  concatenates envelopes) are read one after the other.
- CloudTrail log files as delivered to S3 (`{"Records":[...]}`, usually gzip): records are decoded one at a time
  from a bounded buffer, never the whole file.
Lines longer than MAX_LINE_BYTES and records longer than MAX_RECORD_CHARS are skipped and counted, so no input can
make the reader hold more than that. Nothing read is trusted: a value of the wrong type ends that record only.
"""

from __future__ import annotations

import codecs
import gzip
import io
import json
import re
import sys
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import orjson

from agentiam.audit.cloudtrail import cloudtrail_event
from agentiam.audit.identities import IdentityIndex
from agentiam.audit.model import AgentEvent, Source, parse_time
from agentiam.audit.vault import VaultPairing
from agentiam.errors import ConfigError

MAX_LINE_BYTES = 4 * 1024 * 1024
MAX_RECORD_CHARS = 4 * 1024 * 1024
CHUNK_BYTES = 1024 * 1024
MAX_PROBLEMS_SHOWN = 20
MAX_ACCOUNTS = 1000  # accounts whose CloudTrail coverage is tracked (an organisation trail has many)
_DOCUMENT_START = re.compile(rb'\s*\{\s*"Records"\s*:\s*\[')
_SEPARATOR = re.compile(r"[\s,]*")
_GZIP_MAGIC = b"\x1f\x8b"


@dataclass
class Coverage:
    """The time span one source's records cover (every record, the agents' or not).

    Both sources write UTC (`...Z`), so the earliest and latest second compare as text; only those two are parsed."""

    records: int = 0
    _first: str = "~"
    _last: str = ""

    def see(self, when: Any) -> None:
        self.records += 1
        # compared as text, checked only for shape here (a time that does not parse is dropped at the end)
        if type(when) is str and len(when) >= 20 and when[10] == "T":
            second = when[:19]
            if second < self._first:
                self._first = second
            if second > self._last:
                self._last = second

    @property
    def first(self) -> float | None:
        return parse_time(self._first + "Z") if self._last else None

    @property
    def last(self) -> float | None:
        return parse_time(self._last + "Z") if self._last else None


@dataclass
class ReadStats:
    """What the reader saw besides the events: for the report's notes and exit code."""

    files: int = 0
    lines: int = 0
    events: int = 0
    unpaired: int = 0  # Vault requests whose response line never came
    other: int = 0  # JSON values that are neither an audit line nor a CloudTrail record
    malformed: int = 0
    oversized: int = 0
    damaged: list[str] = field(default_factory=list)  # files whose compressed stream or document broke off
    problems: list[str] = field(default_factory=list)  # the first few malformed or oversized places
    coverage: dict[Source, Coverage] = field(default_factory=lambda: {s: Coverage() for s in Source})
    accounts: dict[str, Coverage] = field(default_factory=dict)  # CloudTrail, per account the records are of

    def problem(self, where: str, what: str) -> None:
        if len(self.problems) < MAX_PROBLEMS_SHOWN:
            self.problems.append(f"{where}: {what}")


@contextmanager
def open_log(path: str) -> Iterator[io.BufferedReader]:
    """A binary stream of a log file, gunzipped when it starts with the gzip magic (any number of members,
    as Firehose writes them); `-` is stdin."""
    try:
        raw: BinaryIO = sys.stdin.buffer if path == "-" else open(path, "rb")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the log: {exc.strerror or exc}") from exc
    try:
        buffered: io.BufferedReader
        if isinstance(raw, io.BufferedReader):
            buffered = raw
        elif isinstance(raw, io.RawIOBase | io.BufferedIOBase):  # stdin replaced by an in-memory stream
            buffered = io.BufferedReader(raw)
        else:
            raise ConfigError(f"{path}: cannot read the log: {type(raw).__name__} is not a binary stream")
        if buffered.peek(2)[:2] == _GZIP_MAGIC:
            yield io.BufferedReader(gzip.GzipFile(fileobj=buffered, mode="rb"), buffer_size=CHUNK_BYTES)
        else:
            yield buffered
    finally:
        if path != "-":
            raw.close()


Observer = Callable[[dict[str, Any], str], None]


def read_events(paths: Iterable[str], index: IdentityIndex, stats: ReadStats | None = None,
                observe: Observer | None = None) -> Iterator[AgentEvent]:
    """Every agent event of every file, in file order (a request's event when its response line is read).

    `observe(record, origin)` also sees every decoded Vault response line and CloudTrail record, the agents' or not:
    how `agentiam migrate` finds the legacy credentials, which no agent identity names."""
    stats = stats if stats is not None else ReadStats()
    pairing = VaultPairing(index, orjson.loads, observe=observe)
    for path in paths:
        stats.files += 1
        with open_log(path) as stream:
            try:
                if _DOCUMENT_START.match(stream.peek(256)[:256]):
                    for obj, origin in _document_records(stream, path, stats):
                        yield from _dispatch(obj, origin, pairing, index, stats)
                else:
                    yield from _lines(stream, path, pairing, index, stats)
            except (EOFError, OSError, zlib.error, gzip.BadGzipFile) as exc:
                # A gzip file still being written, or damaged: what came before is kept, the rest is reported.
                stats.damaged.append(f"{path}: {exc or type(exc).__name__}")
    for event in pairing.flush():
        stats.events += 1
        yield event
    stats.unpaired = pairing.unpaired


def _lines(stream: BinaryIO, path: str, pairing: VaultPairing, index: IdentityIndex,
           stats: ReadStats) -> Iterator[AgentEvent]:
    """JSON lines. The hot loop of `check` and `events`: Vault's request lines are held undecoded (their response
    repeats them), response lines take the shortest path; everything else goes through `_dispatch`."""
    number = 0
    readline = stream.readline
    loads = orjson.loads
    request_id = pairing.request_id
    vault = stats.coverage[Source.VAULT]
    while True:
        line = readline(MAX_LINE_BYTES)
        if not line:
            return
        number += 1
        if len(line) == MAX_LINE_BYTES and not line.endswith(b"\n"):
            while line and not line.endswith(b"\n"):  # skip the rest of the line, never holding it
                line = readline(MAX_LINE_BYTES)
            stats.oversized += 1
            stats.problem(f"{path}:{number}", f"line longer than {MAX_LINE_BYTES} bytes, skipped")
            continue
        origin = f"{path}:{number}"
        rid = request_id(line)
        if rid is not None:
            stats.lines += 1
            pairing.request(rid, origin, line)
            continue
        try:
            value = loads(line)
        except orjson.JSONDecodeError:
            if line.isspace():
                continue
            stats.lines += 1
            values = _several(line)
            if values is None:
                stats.malformed += 1
                stats.problem(origin, "not JSON")
                continue
            for i, value in enumerate(values):
                yield from _dispatch(value, f"{origin}#{i}", pairing, index, stats)
            continue
        stats.lines += 1
        if type(value) is dict and value.get("type") == "response":
            vault.see(value.get("time"))
            event = pairing.line(value, origin)
            if event is not None:
                stats.events += 1
                yield event
        else:
            yield from _dispatch(value, origin, pairing, index, stats)


def _several(line: bytes) -> list[Any] | None:
    """JSON values written one after another on one line (`{...}{...}`), or None if the line is not that."""
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        return None
    decoder = json.JSONDecoder()
    values, pos = [], _SEPARATOR.match(text, 0).end()  # type: ignore[union-attr]
    try:
        while pos < len(text):
            value, pos = decoder.raw_decode(text, pos)
            values.append(value)
            pos = _SEPARATOR.match(text, pos).end()  # type: ignore[union-attr]
    except ValueError:
        return None
    return values if len(values) > 1 else None


def _dispatch(value: Any, origin: str, pairing: VaultPairing, index: IdentityIndex,
              stats: ReadStats) -> Iterator[AgentEvent]:
    if type(value) is not dict:
        stats.other += 1
        return
    kind = value.get("type")
    if kind == "request" or kind == "response":
        if kind == "response":
            stats.coverage[Source.VAULT].see(value.get("time"))
        event = pairing.line(value, origin)
    elif "eventSource" in value:
        when = value.get("eventTime")
        stats.coverage[Source.AWS].see(when)
        account = value.get("recipientAccountId")
        if type(account) is str and (account in stats.accounts or len(stats.accounts) < MAX_ACCOUNTS):
            stats.accounts.setdefault(account, Coverage()).see(when)
        event = cloudtrail_event(value, origin, index)
        if pairing.observe is not None:
            pairing.observe(value, origin)
    elif type(value.get("Records")) is list:
        for i, record in enumerate(value["Records"]):
            yield from _dispatch(record, f"{origin}#Records[{i}]", pairing, index, stats)
        return
    elif type(value.get("logEvents")) is list:  # a CloudWatch Logs subscription envelope
        for i, item in enumerate(value["logEvents"]):
            message = item.get("message") if type(item) is dict else None
            try:
                record = orjson.loads(message) if type(message) is str else None
            except orjson.JSONDecodeError:
                record = None
            if record is None:
                stats.malformed += 1
                stats.problem(f"{origin}#logEvents[{i}]", "message is not a JSON record")
                continue
            yield from _dispatch(record, f"{origin}#logEvents[{i}]", pairing, index, stats)
        return
    else:
        stats.other += 1
        return
    if event is not None:
        stats.events += 1
        yield event


def _document_records(stream: BinaryIO, path: str, stats: ReadStats) -> Iterator[tuple[Any, str]]:
    """The records of a CloudTrail document `{"Records":[r0, r1, ...]}`, one at a time from a bounded buffer."""
    text = codecs.getincrementaldecoder("utf-8")(errors="replace")
    decoder = json.JSONDecoder()
    buffer = text.decode(stream.read(CHUNK_BYTES))
    start = re.match(r'\s*\{\s*"Records"\s*:\s*\[', buffer)
    if start is None:  # the peek matched, so only a document starting with another encoding gets here
        stats.malformed += 1
        stats.problem(path, "not a CloudTrail document")
        return
    pos, eof, number = start.end(), False, 0
    while True:
        pos = _SEPARATOR.match(buffer, pos).end()  # type: ignore[union-attr]
        if pos >= len(buffer) - 1 and not eof:
            chunk = stream.read(CHUNK_BYTES)
            eof = not chunk
            buffer = buffer[pos:] + text.decode(chunk, final=eof)
            pos = 0
            continue
        if pos >= len(buffer):
            stats.damaged.append(f"{path}: the document ends before its closing `]}}`")
            return
        if buffer[pos] == "]":
            return
        try:
            record, end = decoder.raw_decode(buffer, pos)
        except ValueError:
            if not eof and len(buffer) - pos <= MAX_RECORD_CHARS:  # the record continues in the next chunk
                chunk = stream.read(CHUNK_BYTES)
                eof = not chunk
                buffer = buffer[pos:] + text.decode(chunk, final=eof)
                pos = 0
                continue
            stats.damaged.append(f"{path}#Records[{number}]: " + (
                f"record longer than {MAX_RECORD_CHARS} characters" if not eof else "not a JSON record"))
            return
        stats.lines += 1
        yield record, f"{path}#Records[{number}]"
        number += 1
        pos = end
