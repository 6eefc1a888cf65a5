"""The audit reader: every input shape, damaged and hostile input, bounded memory, and output that log lines
cannot forge (they are attacker-influenced: paths, addresses and error messages are chosen by whoever asks)."""

from __future__ import annotations

import datetime as dt
import gzip
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agentiam import project
from agentiam.audit import reader
from agentiam.audit.identities import IdentityIndex
from agentiam.audit.model import Recognised, Result, parse_time
from agentiam.audit.reader import ReadStats, read_events
from agentiam.audit.vault import VaultPairing
from agentiam.check.engine import CheckEngine, CheckOptions
from agentiam.check.history import History
from agentiam.check.render import render_markdown, render_text
from tests.audit import cloudtrail_records as ct
from tests.render.github_markdown import render

WHEN = dt.datetime(2026, 11, 20, 10, 0, tzinfo=dt.timezone.utc)
HOSTILE = "secret/data/x\n::error::forged\x1b[2J\u202e <img src=x onerror=alert(1)> @security-team #1 `code`"


@pytest.fixture(scope="module")
def index() -> IdentityIndex:
    plan, _ = project.compile_plan("dev", today=dt.date(2026, 11, 1))
    return IdentityIndex.from_plans([plan])


def _line(kind: str, rid: str, path: str, *, policy: str = "agent-dev-invoice-reader", error: str | None = None,
          remote: str = "10.40.1.2", when: dt.datetime = WHEN) -> dict:
    line = {"time": when.strftime("%Y-%m-%dT%H:%M:%S.123456789Z"), "type": kind,
            "auth": {"policies": [policy], "token_policies": [policy], "entity_id": "e-1"},
            "request": {"id": rid, "operation": "read", "path": path, "remote_address": remote}}
    if error:
        line["error"] = error
    return line


def _write(path: Path, lines: list[dict]) -> Path:
    path.write_text("".join(json.dumps(line, separators=(",", ":")) + "\n" for line in lines))
    return path


def test_request_and_response_lines_make_one_event_locating_both(index: IdentityIndex, tmp_path: Path) -> None:
    log = _write(tmp_path / "audit.log", [_line("request", "r1", "secret/data/billing/invoice-reader/a"),
                                          _line("response", "r1", "secret/data/billing/invoice-reader/a")])
    (event,) = read_events([str(log)], index)
    assert (event.agent, event.environment, event.result, event.recognised_by) == (
        "invoice-reader", "dev", Result.ALLOWED, Recognised.POLICY)
    assert event.lines == [f"{log}:1", f"{log}:2"] and event.ids == ["r1"]


def test_a_request_without_response_is_an_error_event_at_the_end(index: IdentityIndex, tmp_path: Path) -> None:
    log = _write(tmp_path / "audit.log", [_line("request", "r1", "secret/data/billing/invoice-reader/a")])
    stats = ReadStats()
    (event,) = read_events([str(log)], index, stats)
    assert event.result is Result.ERROR and event.error == "no response line in the audit log"
    assert stats.unpaired == 1


def test_requests_in_flight_are_bounded_and_never_make_two_events(index: IdentityIndex) -> None:
    pairing = VaultPairing(index, json.loads, max_pending=3)
    for i in range(10):
        pairing.request(f"r{i}", f"log:{i}", json.dumps(_line("request", f"r{i}", "sys/x")).encode())
    assert pairing.unpaired == 7
    late = pairing.line(_line("response", "r0", "secret/data/billing/invoice-reader/a"), "log:99")
    assert late is not None and late.lines == ["log:99"]  # its request line was dropped, not emitted
    assert len(list(pairing.flush())) == 3


def test_every_shape_and_gzip_give_the_same_events(index: IdentityIndex, tmp_path: Path) -> None:
    role = "arn:aws:iam::111111111111:role/agentiam/dev/agent-dev-invoice-reader"
    records = [ct.agent_call(role, "s3:GetObject", WHEN, resource="arn:aws:s3:::billing-dev-invoices/a"),
               ct.agent_call(role, "s3:PutObject", WHEN, error="AccessDenied"),
               ct.human_call("111111111111", WHEN)]
    shapes = {"delivery.json.gz": ct.delivery_file(records), "lines.jsonl": ct.json_lines(records),
              "lines.jsonl.gz": gzip.compress(ct.json_lines(records)), "subscription.gz": ct.subscription(records, 2),
              "document.json": json.dumps({"Records": records}, indent=2).encode()}
    seen = {}
    for name, data in shapes.items():
        (tmp_path / name).write_bytes(data)
        seen[name] = [(e.action, e.resource, e.result) for e in read_events([str(tmp_path / name)], index)]
    assert all(events == seen["lines.jsonl"] for events in seen.values()), seen
    assert seen["lines.jsonl"] == [("s3:GetObject", "arn:aws:s3:::billing-dev-invoices/a", Result.ALLOWED),
                                   ("s3:PutObject", "*", Result.DENIED)]


def test_damaged_input_is_counted_and_reported_never_fatal(index: IdentityIndex, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reader, "MAX_LINE_BYTES", 4096)
    good = json.dumps(_line("response", "r1", "secret/data/billing/invoice-reader/a")).encode()
    log = tmp_path / "audit.log"
    log.write_bytes(b"not json\n" + b"{" * 10_000 + b"\n" + good + good + b"\n\n" + good + b"\n")
    truncated = tmp_path / "cut.json.gz"
    truncated.write_bytes(gzip.compress(good + b"\n" + good + b"\n")[:-12])
    stats = ReadStats()
    events = list(read_events([str(log), str(truncated)], index, stats))
    # the log: one malformed line, one oversized, two values run together on one line, one more; the cut gzip
    # (a file still being written) is reported, never a traceback
    assert len(events) == 3 and [e.lines[0].rsplit(":", 1)[1] for e in events] == ["3#0", "3#1", "5"]
    assert stats.malformed == 1 and stats.oversized == 1
    assert stats.damaged and stats.damaged[0].startswith(str(truncated))
    assert [p.split(": ", 1)[1] for p in stats.problems] == ["not JSON", "line longer than 4096 bytes, skipped"]


_VALUES = (st.none() | st.integers() | st.text(max_size=20) | st.lists(st.integers(), max_size=2)
           | st.dictionaries(st.text(max_size=8), st.text(max_size=8), max_size=3))
_KEYS = st.sampled_from(["type", "request", "auth", "time", "eventSource", "Records", "logEvents", "userIdentity",
                         "eventTime", "eventName", "errorCode"])
_LINES = st.binary(max_size=300) | st.dictionaries(_KEYS, _VALUES).map(lambda d: json.dumps(d).encode())


@settings(max_examples=200, deadline=None)
@given(st.lists(_LINES, max_size=20))
def test_any_input_reads_without_an_exception(tmp_path_factory: pytest.TempPathFactory, lines: list[bytes]) -> None:
    plan, _ = project.compile_plan("dev", today=dt.date(2026, 11, 1))
    log = tmp_path_factory.mktemp("fuzz") / "audit.log"
    log.write_bytes(b"\n".join(line.replace(b"\n", b" ") for line in lines))
    stats = ReadStats()
    list(read_events([str(log)], IdentityIndex.from_plans([plan]), stats))
    assert stats.files == 1


def test_log_text_cannot_forge_the_text_or_markdown_report(index: IdentityIndex, tmp_path: Path) -> None:
    log = _write(tmp_path / "audit.log", [
        _line("response", "r1", HOSTILE, error="1 error occurred:\n\t* permission denied\n\n", remote="10.40.1.9")])
    plan = index.plans["dev"]
    start = WHEN.timestamp() - 3600
    engine = CheckEngine(index, CheckOptions(start, start + 7200), {}, {}, History(None))
    stats = ReadStats()
    engine.consume(read_events([str(log)], index, stats))
    report = engine.report(stats)
    (denied,) = [f for f in report.findings if f.rule_id == "CHK011"]
    assert denied.subject == f"read {HOSTILE}" and plan.environment == "dev"
    text = render_text(report)
    assert "\x1b" not in text and "\u202e" not in text
    assert not any(line.startswith("::error::") for line in text.splitlines())
    rendered = render(render_markdown(report))
    assert rendered.count("img") == 0 and rendered.links == ()  # no element, no link
    assert not any("@security-team" in prose for prose in rendered.prose)  # inside code: no mention


def test_times_in_every_form_the_logs_write() -> None:
    assert parse_time("2026-12-03T09:07:54.827796639Z") == pytest.approx(1796288874.827796639)
    assert parse_time("2026-12-03T09:07:54Z") == 1796288874.0
    assert parse_time("2026-12-03T11:07:54+02:00") == 1796288874.0
    for bad in ("2026-13-03T09:07:54Z", "2026-02-30T00:00:00Z", "2026-12-03T24:00:00Z", "2026-12-03T09:07:54.Z",
                "2026-12-03T09:07:54", "x", None, 17):
        assert parse_time(bad) is None
