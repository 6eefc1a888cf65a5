"""Property tests: any bytes and any spec-shaped document yield a spec or located findings, never a traceback."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agentiam import project
from agentiam.errors import AgentiamError
from agentiam.findings import Finding, has_errors
from agentiam.plan.build import build_plan
from agentiam.rules.registry import run_rules
from agentiam.spec.validate import load_spec_bytes

REPO = Path(__file__).resolve().parents[2]
ENVIRONMENTS = project.load_environments(REPO / "stacks")
TODAY = dt.date(2026, 12, 1)

scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=False),
                    st.text(max_size=30))
junk = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                                            max_size=3), max_leaves=8)


def maybe(valid: st.SearchStrategy) -> st.SearchStrategy:
    """Mostly plausible values (to reach the rules), sometimes anything at all (to reach the error paths)."""
    # (hypothesis favours 0 and the bounds, so junk hangs off a value in the middle)
    return st.integers(0, 19).flatmap(lambda n: junk if n == 7 else valid)


durations = maybe(st.sampled_from(["5m", "15m", "30m", "1h", "8h", "12h", "24h", "25h", "48h", "0s", "1 hour"]))
actions = st.sampled_from(["*", "s3:GetObject", "s3:Put*", "s3:*", "iam:PassRole", "sts:AssumeRole",
                           "ec2:DescribeInstances", "ec2-instance-connect:SendSSHPublicKey",
                           "ecr:GetAuthorizationToken", "s3:GetObjekt",
                           "s4:GetObject", "sqs:SendMessage", "cloudwatch:GetMetricStatistics", "s3:Frob*"])
resources = st.sampled_from(["*", "arn:aws:s3:::b-{env}/*", "arn:aws:s3:::billing-prod-x", "arn:aws:s3:::s-{account}/*",
                             "arn:aws:sqs:{region}:{account}:q", "arn:aws:sqs:us-east-1:333333333333:q",
                             "arn:aws:sqs:{region}:*:q", "arn:aws:s3:::x-*/y"])
envs = st.lists(st.sampled_from(["dev", "staging", "prod", "qa"]), min_size=1, max_size=4, unique=True)
credentials = st.fixed_dictionaries({}, optional=dict.fromkeys((
    "token_ttl", "token_max_ttl", "aws_session_ttl", "database_ttl", "database_max_ttl", "secret_id_ttl"), durations))
statement = st.fixed_dictionaries(
    {"sid": maybe(st.sampled_from(["read", "write", "read"])),
     "actions": maybe(st.lists(actions, min_size=1, max_size=4)),
     "resources": maybe(st.lists(resources, min_size=1, max_size=3))},
    optional={"scratch": maybe(st.booleans())})
network = st.fixed_dictionaries({}, optional={
    "egress": maybe(st.lists(st.fixed_dictionaries({"host": st.sampled_from(["api.example.com", "*.example.com"]),
                                                    "purpose": st.just("call the partner")}), max_size=2)),
    "rate_limit": maybe(st.fixed_dictionaries({"requests": st.integers(0, 200), "interval": durations}))})
spec_documents = st.fixed_dictionaries(
    {"spec_version": maybe(st.just(1)),
     "name": maybe(st.sampled_from(["invoice-reader", "x" * 48, "ab", "dup"])),
     "description": maybe(st.just("A property-test agent description.")),
     "owner": maybe(st.fixed_dictionaries({"team": st.just("platform"), "sponsor": st.just("a.b@example.com"),
                                           "contact": st.just("#platform")})),
     "function": maybe(st.sampled_from(["data-retrieval", "integration", "analysis", "reporting", "monitoring"])),
     "environments": maybe(envs),
     "expires": maybe(st.dates(dt.date(2026, 1, 1), dt.date(2028, 1, 1)).map(str))},
    optional={
        "credentials": maybe(credentials),
        "authentication": maybe(st.fixed_dictionaries({}, optional={
            "certificate_common_name": st.sampled_from(["x.{env}.agents.example.com", "*.example.com"])})),
        "permissions": maybe(st.fixed_dictionaries({}, optional={
            "aws": maybe(st.lists(statement, max_size=3)),
            "databases": maybe(st.lists(st.fixed_dictionaries({"database": st.sampled_from(["billing", "nope"]),
                                                               "access": st.sampled_from(["read", "write"])}),
                                        max_size=2)),
            "kv": maybe(st.lists(st.fixed_dictionaries({"path": st.sampled_from(["a/{agent}/*", "a/../b", "a//b"]),
                                                        "capabilities": st.just(["read"])}), max_size=2))})),
        "network": maybe(network),
        "overrides": maybe(st.dictionaries(st.sampled_from(["dev", "staging", "prod"]),
                                           st.fixed_dictionaries({}, optional={"credentials": credentials,
                                                                               "network": network,
                                                                               "status": st.just("suspended")}),
                                           max_size=2)),
        "surprise": st.integers(0, 9).flatmap(lambda n: junk if n == 7 else st.nothing()),
    })


def _check(findings: list) -> None:
    assert all(isinstance(f, Finding) and f.line >= 1 and f.column >= 1 for f in findings)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000) | st.text(max_size=2000).map(lambda t: t.encode("utf-8")))
def test_any_bytes_yield_a_spec_or_findings(raw):
    loaded, findings = load_spec_bytes("fuzz.yaml", raw)
    _check(findings)
    assert (loaded is None) == bool(findings)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec_documents)
def test_spec_shaped_documents_yield_findings_never_tracebacks(document):
    raw = yaml.safe_dump(document, sort_keys=False).encode("utf-8")
    loaded, findings = load_spec_bytes("fuzz.yaml", raw)
    _check(findings)
    if loaded is not None:
        _check(run_rules([loaded, loaded], ENVIRONMENTS, TODAY))
        _plans_if_valid(loaded)


def _plans_if_valid(loaded) -> bool:
    """What the rules let through, the plan must build, in every environment; True if it got that far."""
    if has_errors(run_rules([loaded], ENVIRONMENTS, TODAY)):
        return False
    for environment in ENVIRONMENTS.values():
        plan = build_plan([loaded], environment)
        assert [a.agent for a in plan.agents] == (
            [loaded.spec.name] if environment.name in loaded.spec.environments else [])
    return True


# Mostly valid specs, so that the rules pass often and the plan is built from what they let through.
plausible = st.sampled_from(["s3:GetObject", "s3:ListBucket", "sqs:SendMessage", "cloudwatch:GetMetricStatistics",
                             "dynamodb:Query", "s3:PutObject"])
def _plannable(document: dict) -> dict:
    listed = document["environments"] if isinstance(document["environments"], list) else []
    environments = [e for e in listed if e in ("dev", "staging", "prod")]
    return {**document, "spec_version": 1, "name": "invoice-reader", "expires": "2027-06-30",
            "description": "A property-test agent description.", "environments": environments or ["dev"],
            "owner": {"team": "platform", "sponsor": "a.b@example.com", "contact": "#platform"}}


plannable_documents = spec_documents.map(_plannable).filter(
    lambda d: not isinstance(d.get("overrides"), dict) or set(d["overrides"]) <= set(d["environments"]))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(plannable_documents, st.lists(st.lists(plausible, min_size=1, max_size=3), max_size=3))
def test_what_the_rules_let_through_always_plans(document, grants):
    document = {**document, "function": document["function"] if isinstance(document["function"], str) else "reporting",
                "permissions": {"aws": [{"sid": f"s{i}", "actions": acts,
                                         "resources": ["arn:aws:s3:::platform-{env}-{account}/*"]}
                                        for i, acts in enumerate(grants)]}}
    loaded, findings = load_spec_bytes("invoice-reader.yaml", yaml.safe_dump(document, sort_keys=False).encode())
    _check(findings)
    if loaded is not None:
        _plans_if_valid(loaded)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(documents=st.lists(spec_documents, min_size=1, max_size=3))
def test_project_validate_on_files_reports_only_findings(tmp_path, documents):
    folder = tmp_path / "specs"
    folder.mkdir(exist_ok=True)
    for old in folder.iterdir():
        old.unlink()
    for i, document in enumerate(documents):
        (folder / f"spec-{i}.yaml").write_text(yaml.safe_dump(document), encoding="utf-8")
    try:
        result = project.validate([folder], REPO / "stacks", TODAY, ENVIRONMENTS)
    except AgentiamError:  # the project's own error type is an acceptable outcome; anything else is a bug
        return
    _check(result.findings)
    assert result.files_checked == len(documents)
