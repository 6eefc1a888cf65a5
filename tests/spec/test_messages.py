"""What users read for schema errors: the field by key, its location, the offending value, no raw regex."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from agentiam.environment.load import parse_environment, project_files
from agentiam.errors import ConfigError
from agentiam.spec.validate import load_spec_bytes

REPO = Path(__file__).resolve().parents[2]
FILES = project_files(REPO / "stacks")
BASE = (REPO / "agent_specs" / "billing" / "invoice-reader.yaml").read_text()
DEV = (REPO / "stacks" / "Pulumi.dev.yaml").read_text()


def _findings(old: str, new: str) -> list[str]:
    assert old in BASE
    spec, findings = load_spec_bytes("s.yaml", BASE.replace(old, new, 1).encode())
    assert spec is None
    return [f.render() for f in findings]


@pytest.mark.parametrize("old,new,expected", [
    ("name: invoice-reader", "name: Invoice_Reader",
     "s.yaml:4:7  error  SPEC003  name: expected unique agent name: lowercase letters, digits and '-', "
     "e.g. 'invoice-reconciler', got 'Invoice_Reader'"),
    ("sponsor: maria.keller@example.com", "sponsor: maria",
     "s.yaml:8:12  error  SPEC003  owner.sponsor: expected e-mail address of the human who sponsors this agent and "
     "re-approves it before it expires, e.g. 'jane.doe@example.com', got 'maria'"),
    ("actions: [s3:GetObject, s3:ListBucket]", "actions: [s3:GetObject, s3 ListBucket]",
     "s.yaml:20:31  error  SPEC003  permissions.aws[read-invoices].actions[s3 ListBucket]: expected an IAM action "
     "`service:Action`, e.g. 's3:GetObject', got 's3 ListBucket'"),
    ("- arn:aws:s3:::billing-{env}-invoices\n", "- s3://billing-{env}-invoices\n",
     "s.yaml:22:11  error  SPEC003  permissions.aws[read-invoices].resources[s3://billing-{env}-invoices]: expected a "
     "resource ARN, e.g. 'arn:aws:s3:::billing-{env}-invoices/*', got 's3://billing-{env}-invoices'"),
    ("environments: [dev, staging, prod]", "environments: [dev, Staging, prod]",
     "s.yaml:11:21  error  SPEC003  environments[Staging]: expected an environment with a stack config in "
     "stacks/Pulumi.<env>.yaml, e.g. 'dev', got 'Staging'"),
])
def test_pattern_mismatch_says_what_the_field_is_with_an_example(old, new, expected):
    assert _findings(old, new) == [expected]


def test_no_message_shows_a_regex():
    cases = [("name: invoice-reader", "name: x_y"), ("team: billing-platform", "team: Billing"),
             ("path: billing/{agent}/*", "path: /abs"), ("database: billing", "database: Billing"),
             ("overrides:\n  prod:", "authentication:\n  certificate_common_name: BAD CN\noverrides:\n  prod:")]
    for old, new in cases:
        (message,) = _findings(old, new)
        assert "pattern" not in message and not re.search(r"\^|\$'|\\\\", message), message
        assert "expected " in message and ", e.g. '" in message, message


def test_a_bad_mapping_key_is_located_on_the_key_and_named_by_it():
    # pydantic reports it as loc (overrides, Prod, "[key]"); users see the key, not "[key]".
    assert _findings("overrides:\n  prod:", "overrides:\n  Prod:") == [
        "s.yaml:31:3  error  SPEC003  overrides.Prod: expected an environment with a stack config in "
        "stacks/Pulumi.<env>.yaml, e.g. 'dev', got 'Prod'"]


@pytest.mark.parametrize("new,expected", [
    ("owner: [billing-platform]\nx_owner:", "owner: expected a mapping (`key: value` lines), got a list"),
    ("owner: billing-platform\nx_owner:", "owner: expected a mapping (`key: value` lines), got 'billing-platform'"),
])
def test_a_list_or_scalar_where_a_mapping_belongs_is_named_plainly(new, expected):
    findings = _findings("owner:", new)
    assert any(f.endswith(f"SPEC003  {expected}") for f in findings), findings


def test_long_offending_values_are_shortened():
    (message,) = _findings("contact: \"#billing-platform-oncall\"", "contact: \"" + "x" * 5000 + "\"")
    assert message.endswith("String should have at most 200 characters, got '" + "x" * 76 + "...")


@pytest.mark.parametrize("value,expected", [
    # A unix timestamp is a valid pydantic (lax) date, but no reviewer reads 1822262400 as 2027-09-30.
    ("1822262400", "dates are written YYYY-MM-DD, got 1822262400"),
    ("2027-09-30T00:00:00", "dates are written YYYY-MM-DD, got '2027-09-30T00:00:00'"),
    ("2027-02-30", "'2027-02-30' is not a calendar date (day is out of range for month)"),
])
def test_expiry_is_a_calendar_date_written_yyyy_mm_dd(value, expected):
    assert _findings("expires: 2027-09-30", f"expires: {value}") == [f"s.yaml:12:10  error  SPEC003  expires: {expected}"]


def test_quoted_expiry_is_the_same_date():
    spec, findings = load_spec_bytes("s.yaml", BASE.replace("expires: 2027-09-30", 'expires: "2027-09-30"').encode())
    assert findings == [] and spec is not None and spec.spec.expires.isoformat() == "2027-09-30"


def test_stack_config_patterns_are_described_from_the_config_model():
    raw = DEV.replace("path: agentiam-file", "path: Agentiam_File").replace("region: eu-west-1\n    aws_secrets",
                                                                           "region: Ireland\n    aws_secrets")
    with pytest.raises(ConfigError) as caught:
        parse_environment("stacks/Pulumi.dev.yaml", raw.encode(), FILES)
    assert str(caught.value).splitlines() == [
        "stacks/Pulumi.dev.yaml:9:13  error  CFG002  region: expected AWS region, e.g. 'eu-west-1', got 'Ireland'",
        "stacks/Pulumi.dev.yaml:21:15  error  CFG002  vault.audit.path: expected audit device path (name), "
        "e.g. 'agentiam-file', got 'Agentiam_File'",
    ]


def test_a_stack_config_value_of_the_wrong_kind_names_the_config_key():
    with pytest.raises(ConfigError) as caught:
        parse_environment("stacks/Pulumi.x.yaml", b"config:\n  agentiam:environment:\n    - dev\n", FILES)
    assert str(caught.value) == ("stacks/Pulumi.x.yaml:3:5  error  CFG002  agentiam:environment: expected a mapping "
                                 "(`key: value` lines), got a list")


@pytest.mark.parametrize("old,new,expected", [
    # Both reached the plan verbatim before: a CN `a-{agnt}.dev...` and an ARN with a stray `{`.
    ("credentials:\n", "authentication:\n  certificate_common_name: a-{agnt}.{env}.agents.example.com\ncredentials:\n",
     "s.yaml:14:28  error  SPEC003  authentication.certificate_common_name: unknown placeholder(s) {agnt}; "
     "allowed: {env}, {account}, {region}, {agent}"),
    ("- arn:aws:s3:::billing-{env}-invoices\n", "- arn:aws:s3:::billing-{env-invoices\n",
     "s.yaml:22:11  error  SPEC003  permissions.aws[read-invoices].resources[arn:aws:s3:::billing-{env-invoices]: "
     "unbalanced brace in 'arn:aws:s3:::billing-{env-invoices'; placeholders are written like {env}"),
])
def test_placeholders_are_known_and_closed(old, new, expected):
    assert _findings(old, new) == [expected]


def test_a_password_written_into_a_connection_url_is_not_echoed():
    raw = DEV.replace("postgresql://{{username}}:{{password}}@billing-db", "postgresql://vault:hunter2@billing-db", 1)
    with pytest.raises(ConfigError) as caught:
        parse_environment("stacks/Pulumi.dev.yaml", raw.encode(), FILES)
    assert "hunter2" not in str(caught.value)
    assert str(caught.value).endswith("databases.billing.connection_url: expected connection URL with "
                                      "{{username}}/{{password}} templates, e.g. 'postgresql://{{username}}:"
                                      "{{password}}@db.dev.internal:5432/billing', got a value not shown (it may "
                                      "hold a secret)")


def test_an_override_for_an_environment_the_agent_is_not_in_is_located_on_its_key():
    # A model-level check used to be reported on the file as a whole (3:1, no field).
    assert _findings("environments: [dev, staging, prod]", "environments: [dev, staging]") == [
        "s.yaml:31:3  error  SPEC003  overrides.prod: environment 'prod' is not in `environments` (dev, staging); "
        "overrides apply only where the agent is deployed"]


@pytest.mark.parametrize("spec_status,override", [("suspended", "active"), ("revoked", "active"),
                                                  ("revoked", "suspended")])
def test_an_override_that_would_loosen_the_status_is_refused_on_it(spec_status, override):
    # It used to be ignored silently: the reviewer read `prod: status: active` while prod stayed suspended.
    text = BASE.replace("expires: 2027-09-30\n", f"expires: 2027-09-30\nstatus: {spec_status}\n")
    text = text.replace("  prod:\n", f"  prod:\n    status: {override}\n")
    spec, problems = load_spec_bytes("s.yaml", text.encode())
    assert spec is None
    assert [f.render() for f in problems] == [
        f"s.yaml:33:5  error  SPEC003  overrides.prod.status: {override} would loosen the spec's status {spec_status}; "
        "an override can only tighten it (change the spec's status instead)"]


@pytest.mark.parametrize("old,new,expected", [
    # a misspelt field is named with the field it most likely means, difflib over the field names at that path
    ("  token_max_ttl: 24h", "  token_max_tll: 24h",
     "credentials.token_max_tll: unknown field; did you mean 'token_max_ttl'?"),
    ("  token_ttl: 1h", "  Token_TTL: 1h", "credentials.Token_TTL: unknown field; did you mean 'token_ttl'?"),
    ("permissions:", "permisions:", "permisions: unknown field; did you mean 'permissions'?"),
    ("owner:", "ownr:", "ownr: unknown field; did you mean 'owner'?"),
    # a field at the wrong level is named with where it belongs
    ("expires: 2027-09-30", "expires: 2027-09-30\ntoken_max_ttl: 8h",
     "token_max_ttl: unknown field at this level; 'token_max_ttl' belongs at credentials.token_max_ttl or "
     "overrides.<env>.credentials.token_max_ttl"),
    # nothing close: no guess
    ("  token_ttl: 1h", "  token_ttl: 1h\n  colour: blue",
     "credentials.colour: unknown field (not part of the spec format; check the spelling)"),
])
def test_unknown_fields_suggest_the_field_meant(old, new, expected):
    messages = [m.split("  ", 3)[3] for m in _findings(old, new) if "SPEC001" in m]
    assert messages == [expected]


@pytest.mark.parametrize("value,expected", [
    ("1d", "'1d' is not a duration; write '24h' (units are h, m and s)"),
    ("2 days", "'2 days' is not a duration; write '48h' (units are h, m and s)"),
    ("1w", "'1w' is not a duration; write '168h' (units are h, m and s)"),
    ("1 hour", "'1 hour' is not a duration; write '1h' (units are h, m and s)"),
    ("1H", "'1H' is not a duration; write '1h' (units are h, m and s)"),
    ("1.5h", "'1.5h' is not a duration; write '1h30m' (units are h, m and s)"),
    ("90 min", "'90 min' is not a duration; write '1h30m' (units are h, m and s)"),
    ('"3600"', "'3600' has no unit; write '1h' if 3600 seconds is meant (units are h, m and s)"),
    ("3600", "durations are strings with a unit such as '15m', '1h' or '24h', got 3600; write '1h' if 3600 seconds "
             "is meant"),
    # not a duration in any unit: no guess
    ("1ms", "'1ms' is not a duration; write e.g. '900s', '15m', '1h' or '1h30m'"),
    ("soon", "'soon' is not a duration; write e.g. '900s', '15m', '1h' or '1h30m'"),
])
def test_durations_in_other_units_say_what_to_write(value, expected):
    (message,) = _findings("  token_ttl: 1h", f"  token_ttl: {value}")
    assert message.split("  ", 3)[3] == f"credentials.token_ttl: {expected}"


def test_a_misspelt_stack_config_field_suggests_the_field_meant():
    with pytest.raises(ConfigError) as caught:
        parse_environment("stacks/Pulumi.dev.yaml", DEV.replace("retention_days:", "retension_days:").encode(), FILES)
    assert [f.message for f in caught.value.findings if f.path.endswith("retension_days")] == [
        "unknown field; did you mean 'retention_days'?"]
