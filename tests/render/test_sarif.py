"""The SARIF writer: locations relative to the repository, rule metadata for every id a finding may carry."""

from __future__ import annotations

import json
from pathlib import Path

from agentiam.findings import Finding, Severity
from agentiam.render.sarif import READ_CHECKS, render_sarif, repository_root
from agentiam.rules.registry import rule_index


def _log(findings: list[Finding], root: Path) -> dict:
    return json.loads(render_sarif(findings, root))


def test_files_inside_the_repository_are_relative_outside_are_file_uris(tmp_path):
    inside = tmp_path / "agent_specs" / "a.yaml"
    outside = tmp_path.parent / "elsewhere.yaml"
    findings = [Finding(str(inside), 3, 5, "AGT010", Severity.ERROR, "credentials.token_max_ttl", "too long"),
                Finding(str(outside), 1, 1, "YAML001", Severity.ERROR, "", "malformed YAML: x")]
    results = _log(findings, tmp_path)["runs"][0]["results"]
    assert results[0]["locations"][0]["physicalLocation"]["artifactLocation"] == {
        "uri": "agent_specs/a.yaml", "uriBaseId": "%SRCROOT%"}
    assert results[1]["locations"][0]["physicalLocation"]["artifactLocation"] == {"uri": outside.resolve().as_uri()}
    assert "logicalLocations" not in results[1]["locations"][0]  # no field path for a file-level problem
    assert results[1]["message"]["text"] == "malformed YAML: x"


def test_a_hostile_file_name_and_message_stay_a_uri_and_plain_text(tmp_path):
    """A `#` would end the URI's path, a space make it no URI; `[text](url)` would be an embedded link."""
    spec = tmp_path / "agent_specs" / "x#y [z]\u202e.yaml"
    findings = [Finding(str(spec), 2, 1, "SPEC003", Severity.ERROR, "permissions.aws[read]",
                        "see [approval](https://evil.example)\n::error::forged")]
    result = _log(findings, tmp_path)["runs"][0]["results"][0]
    assert result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == (
        "agent_specs/x%23y%20%5Bz%5D%E2%80%AE.yaml")
    assert result["message"]["text"] == (
        "permissions.aws\\[read\\]: see \\[approval\\](https://evil.example)\\\\n::error::forged")
    assert result["locations"][0]["logicalLocations"][0]["fullyQualifiedName"] == "permissions.aws[read]"


def test_every_rule_and_input_check_is_described_once(tmp_path):
    rules = _log([], tmp_path)["runs"][0]["tool"]["driver"]["rules"]
    ids = [r["id"] for r in rules]
    assert ids == [r.id for r in rule_index()] + [c[0] for c in READ_CHECKS]
    by_id = {r["id"]: r for r in rules}
    assert by_id["AGT026"]["defaultConfiguration"] == {"level": "warning"}
    assert by_id["AGT010"]["name"] == "TokenMaxTtlAtMost24h"
    assert by_id["YAML002"]["help"]["text"].startswith("YAML silently keeps the last of two keys")


def test_repository_root_is_found_from_a_subfolder(tmp_path):
    (tmp_path / "Pulumi.yaml").write_text("name: x\n")
    sub = tmp_path / "agent_specs" / "billing"
    sub.mkdir(parents=True)
    assert repository_root(sub) == tmp_path
