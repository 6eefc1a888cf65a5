"""`agentiam compliance`: evidence and gaps per control, and the HTML page read by a real browser (Chromium)."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import CliRunner

from agentiam.cli.main import cli
from agentiam.compliance.controls import CONTROLS
from tests.check.history_repo import commit_all, copy_examples

COMMITTED = dt.datetime(2026, 1, 5, tzinfo=dt.timezone.utc)
TODAY = "2026-12-01"
HOSTILE = "</td></tr></table><script>document.title='owned'</script><img src=x onerror=alert(1)>"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return copy_examples(tmp_path / "repo", COMMITTED)


def _compliance(root: Path, *args: str) -> str:
    result = CliRunner().invoke(cli, ["compliance", "--specs", str(root / "agent_specs"), "--stacks",
                                      str(root / "stacks"), "--today", TODAY, *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


def _check_report(path: Path, agent: str, subject: str) -> Path:
    path.write_text(json.dumps({
        "format": 1, "window": {"since": "2026-03-01T00:00:00Z", "until": "2026-03-31T00:00:00Z"},
        "environments": ["prod"], "findings": [
            {"rule_id": "CHK011", "severity": "high", "agent": agent, "environment": "prod", "subject": subject,
             "message": "attempted 1 time(s); the spec does not grant it"}],
        "agents": [{"agent": agent, "environment": "prod", "events": 12, "logins": 2, "failed_logins": 0,
                    "denied": 1}]}))
    return path


def test_every_control_has_its_evidence_per_agent_and_its_gaps(repo: Path, tmp_path: Path) -> None:
    report = json.loads(_compliance(repo, "--env", "prod", "--format", "json", "--check-report",
                                    str(_check_report(tmp_path / "check.json", "invoice-reader", "read x"))))
    assert [c["id"] for c in report["controls"]] == [c.id for c in CONTROLS]
    agents = {a["agent"]: a for a in report["agents"]}
    reader = agents["invoice-reader"]["evidence"]
    assert reader["identity"] == "agent-prod-invoice-reader"
    assert reader["role_arn"] == "arn:aws:iam::333333333333:role/agentiam/prod/agent-prod-invoice-reader"
    assert reader["spec_commit"] != "not in git" and reader["reviewed"] == "2026-01-05"
    assert reader["spec_digest"].startswith("sha256:")
    assert reader["activity"] == "12 event(s), 2 login(s), 0 failed, 1 refused"
    assert reader["boundary"].endswith("agentiam-prod-boundary-data-retrieval")
    controls = {c["id"]: c for c in report["controls"]}
    assert controls["nist-ac-6"]["status"] == "gaps"
    assert [(g["kind"], g["agent"]) for g in controls["nist-ac-6"]["gaps"]] == [("CHK011", "invoice-reader")]
    ia2 = {(g["kind"], g["agent"]) for g in controls["nist-ia-2"]["gaps"]}
    assert ("no-networks", "invoice-reader") in ia2 and ("no-networks", "ticket-triage") not in ia2
    # ticket-triage expires 2027-03-31: not within a month of TODAY; no spec is uncommitted yet
    assert controls["iso-27001-a-5-15"]["status"] == "met"


def test_a_spec_changed_since_its_review_and_an_expiring_agent_are_access_control_gaps(repo: Path) -> None:
    spec = repo / "agent_specs/billing/invoice-reader.yaml"
    spec.write_text(spec.read_text().replace("expires: 2027-09-30", "expires: 2026-12-20"))
    report = json.loads(_compliance(repo, "--env", "prod", "--format", "json"))
    gaps = {(g["kind"], g["agent"]) for c in report["controls"] if c["id"] == "iso-27001-a-5-15" for g in c["gaps"]}
    assert gaps == {("uncommitted", "invoice-reader"), ("expiring", "invoice-reader")}
    commit_all(repo, COMMITTED + dt.timedelta(days=1))
    report = json.loads(_compliance(repo, "--env", "prod", "--format", "json"))
    gaps = {(g["kind"], g["agent"]) for c in report["controls"] if c["id"] == "iso-27001-a-5-15" for g in c["gaps"]}
    assert gaps == {("expiring", "invoice-reader")}


class _Page(HTMLParser):
    """What a browser built: element names, the summary table's rows, the text of <code> elements."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.codes: list[str] = []
        self._in_code = 0
        self.title = ""
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self.tags.append(tag)
        self._in_code += tag == "code"
        self._in_title = tag == "title"

    def handle_endtag(self, tag: str) -> None:
        self._in_code -= tag == "code"
        self._in_title = False

    def handle_data(self, data: str) -> None:
        if self._in_code:
            self.codes.append(data)
        if self._in_title:
            self.title += data


CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync")


def _chromium(page: Path, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    chromium = shutil.which("chromium")
    assert chromium, "chromium is missing: .ci/run installs Debian's chromium package"
    return subprocess.run([chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args, page.as_uri()],
                          capture_output=True, text=True, timeout=120, check=True)


def test_the_html_page_renders_in_a_real_browser_and_no_value_becomes_markup(repo: Path, tmp_path: Path) -> None:
    # A hostile owner team cannot be written into a spec (the model refuses it), but a check report is log-derived:
    # its finding subject carries what an agent asked for, verbatim.
    check = _check_report(tmp_path / "check.json", "invoice-reader", HOSTILE)
    page = tmp_path / "compliance.html"
    _compliance(repo, "--env", "prod", "--format", "html", "--check-report", str(check), "--output", str(page))
    dom = _chromium(page, tmp_path / "profile-dom", "--dump-dom").stdout
    parsed = _Page()
    parsed.feed(dom)
    assert parsed.title == "agentiam: compliance evidence"  # no script ran (it would have renamed the page)
    assert "script" not in parsed.tags and "img" not in parsed.tags
    assert parsed.tags.count("section") == len(CONTROLS)
    assert parsed.tags.count("table") == 1 + len(CONTROLS)
    assert any(HOSTILE in code for code in parsed.codes)  # shown as text, whole
    assert "agent-prod-invoice-reader" in parsed.codes
    shot = tmp_path / "compliance.png"
    _chromium(page, tmp_path / "profile-shot", f"--screenshot={shot}", "--window-size=1280,2000")
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
