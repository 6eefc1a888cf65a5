"""A spec file with schema errors still gets every guardrail finding that can be computed, in the same run, and never
one that rests on a field that failed validation (`PartialSpec`)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agentiam import project
from agentiam.rules.registry import run_rules
from agentiam.spec.model import AgentSpec
from agentiam.spec.validate import UnreadableField, read_spec_bytes

REPO = Path(__file__).resolve().parents[2]
ENVIRONMENTS = project.load_environments(REPO / "stacks")
TODAY = dt.date(2026, 12, 1)
EXAMPLES = sorted((REPO / "agent_specs").rglob("*.yaml"))
FIXTURES = sorted(p for p in (REPO / "tests" / "fixtures" / "specs" / "rules").rglob("*.yaml"))
INVOICE = (REPO / "agent_specs" / "billing" / "invoice-reader.yaml").read_text()


def _read(text: str, file: str = "agent_specs/billing/invoice-reader.yaml"):
    return read_spec_bytes(file, text.encode())


def _guardrails(text: str, file: str = "agent_specs/billing/invoice-reader.yaml") -> list[tuple]:
    loaded, partial, findings = _read(text, file)
    assert loaded is None and partial is not None and findings
    return [(f.rule_id, f.path) for f in run_rules([], ENVIRONMENTS, TODAY, [partial])]


@pytest.mark.parametrize("path", EXAMPLES + FIXTURES, ids=lambda p: str(p.relative_to(REPO)))
def test_a_readable_field_is_exactly_what_the_full_model_makes_of_it(path):
    """Each top-level field validated alone equals the full model's: an error elsewhere changes nothing of it."""
    text = path.read_text(encoding="utf-8")
    loaded, _, findings = read_spec_bytes(str(path), path.read_bytes())
    if loaded is None:
        return
    (_, partial, _) = _read(text + "\nsurprise: 1\n", str(path))  # an unknown key: absent fields are unreadable
    for name in AgentSpec.model_fields:
        if name in partial.readable:
            assert getattr(partial.spec, name) == getattr(loaded.spec, name), name
        else:
            assert name not in yaml.safe_load(text)
            with pytest.raises(UnreadableField):
                getattr(partial.spec, name)


def test_a_misspelt_lifetime_does_not_hide_the_permission_findings():
    text = INVOICE.replace("actions: [s3:GetObject, s3:ListBucket]", "actions: [s3:GetObjekt, s3:PutObject]")
    text = text.replace("  token_max_ttl: 24h\n", "  token_max_tll: 36h\n")
    assert _guardrails(text) == [
        ("AGT020", "permissions.aws[read-invoices].actions[s3:GetObjekt]"),
        ("AGT030", "permissions.aws[read-invoices].actions[s3:PutObject]")]


def test_a_rule_that_needs_a_failed_field_reports_nothing():
    # `function` failed: whether s3:PutObject is allowed depends on it, so AGT030 stays silent; AGT020 does not.
    text = INVOICE.replace("function: data-retrieval", "function: scraping")
    text = text.replace("actions: [s3:GetObject, s3:ListBucket]", "actions: [s3:GetObjekt, s3:PutObject]")
    assert _guardrails(text) == [("AGT020", "permissions.aws[read-invoices].actions[s3:GetObjekt]")]


def test_an_unknown_top_level_key_makes_the_absent_fields_unreadable():
    # `permisions` may be `permissions` misspelt: its default (no grants) would be a guess, so nothing is judged on it
    text = INVOICE.replace("expires: 2027-09-30", "expires: 2020-01-01").replace("permissions:", "permisions:")
    _, partial, _ = _read(text)
    assert "permissions" not in partial.readable and "status" not in partial.readable
    assert _guardrails(text) == []  # whether it expired matters only if `status` (absent: unreadable) is not revoked
    assert _guardrails(text.replace("expires: 2020-01-01", "expires: 2020-01-01\nstatus: active")) == [
        ("AGT004", "expires")]


def test_overrides_are_read_as_written_while_other_fields_fail():
    text = INVOICE.replace("function: data-retrieval", "function: scraping").replace(
        "      token_max_ttl: 12h", "      token_max_ttl: 48h")
    assert ("AGT010", "overrides.prod.credentials.token_max_ttl") in _guardrails(text)


def test_fleet_rules_count_a_partial_spec_with_a_valid_name():
    valid = _read(INVOICE)[0]
    broken = INVOICE.replace("function: data-retrieval", "function: scraping")
    _, partial, _ = _read(broken, "agent_specs/other/invoice-reader.yaml")
    findings = run_rules([valid], ENVIRONMENTS, TODAY, [partial])
    assert sorted((f.file, f.rule_id) for f in findings if f.rule_id == "AGT001") == [
        ("agent_specs/billing/invoice-reader.yaml", "AGT001"), ("agent_specs/other/invoice-reader.yaml", "AGT001")]


def test_a_partial_spec_never_reaches_the_plan(tmp_path):
    folder = tmp_path / "agent_specs"
    folder.mkdir()
    (folder / "invoice-reader.yaml").write_text(INVOICE.replace("  token_max_ttl: 24h\n", "  token_max_tll: 8h\n"))
    result = project.validate([folder], REPO / "stacks", TODAY, ENVIRONMENTS)
    assert result.specs == [] and not result.ok


# A valid spec with one top-level field broken in place: the guardrail findings of the broken file are a subset of
# the valid file's (by rule, field and message): whatever was computed, the fixed file gets too.
BREAKERS = {
    "function": "scraping", "environments": "dev", "expires": "2027-02-30", "owner": {"team": "Billing Team"},
    "credentials": {"token_max_tll": "8h"}, "network": {"egress": [{"host": "*.stripe.com"}]},
    "authentication": {"certificate_common_name": 7}, "name": "Invoice_Reader", "status": "paused",
    "permissions": {"aws": [{"sid": "x"}]}, "description": "short",
}
valid_documents = st.sampled_from(EXAMPLES + [p for p in FIXTURES if "/fail" in str(p) or "/pass" in str(p)])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(valid_documents, st.sampled_from(sorted(BREAKERS)))
def test_what_a_broken_field_lets_through_is_what_the_fixed_file_gets(path, field):
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    loaded, _, problems = read_spec_bytes(str(path), path.read_bytes())
    if loaded is None or not isinstance(document, dict):
        return
    full = {(f.rule_id, f.path, f.message) for f in run_rules([loaded], ENVIRONMENTS, TODAY)}
    broken = yaml.safe_dump({**document, field: BREAKERS[field]}, sort_keys=False)
    reloaded, partial, problems = read_spec_bytes(str(path), broken.encode())
    assert reloaded is None and problems
    if partial is None:
        return
    computed = {(f.rule_id, f.path, f.message) for f in run_rules([], ENVIRONMENTS, TODAY, [partial])}
    assert computed <= full
