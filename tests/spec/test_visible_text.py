"""Every string of a spec and of a stack config refuses characters a reader cannot see (control, bidirectional,
zero-width, tag characters), with a finding located on that field; every string has a length limit.

The fields are not listed here: they are walked from the models' JSON schemas, so a string field added later
is tested as soon as it exists (the complete example documents below must then show it, or the coverage test
fails).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from agentiam.environment.load import CONFIG_KEY, parse_environment, project_files
from agentiam.environment.model import EnvironmentConfig
from agentiam.errors import ConfigError
from agentiam.spec.model import AgentSpec
from agentiam.spec.source import parse_spec_bytes
from agentiam.spec.validate import load_spec_bytes

REPO = Path(__file__).resolve().parents[2]
FILES = project_files(REPO / "stacks")  # the agent CA the example stack config names

# A spec using every field (the model only: guardrails do not run here).
SPEC = """\
spec_version: 1
name: ticket-triage
description: Classifies incoming tickets and queues urgent ones for the on-call engineer.
owner:
  team: customer-support-tooling
  sponsor: tom.becker@example.com
  contact: "#support-tooling"
function: integration
environments: [dev, prod]
status: active
expires: 2027-03-31
authentication:
  mode: certificate+secret
  certificate_common_name: ticket-triage.{env}.agents.example.com
  bound_cidrs: [10.40.0.0/16]
credentials:
  token_ttl: 30m
  token_max_ttl: 8h
  aws_session_ttl: 30m
  database_ttl: 1h
  database_max_ttl: 8h
  secret_id_ttl: 5m
  secret_id_num_uses: 1
permissions:
  aws:
    - sid: queue-urgent-tickets
      actions: [sqs:SendMessage]
      resources: ["arn:aws:sqs:{region}:{account}:support-{env}-urgent-tickets"]
      scratch: false
      cross_account:
        accounts: ["999999999999"]
        reason: the partner's queue for escalations
  databases:
    - database: billing
      access: read
  kv:
    - path: support/{agent}/zendesk-api-token
      capabilities: [read]
    - path: support/kb-answer-retriever/index-token
      capabilities: [read]
      shared_by: kb-answer-retriever
  kv_shares:
    - path: support/{agent}/zendesk-api-token
      agents: [kb-answer-retriever]
      capabilities: [read]
network:
  egress:
    - host: example.zendesk.com
      port: 443
      purpose: read new tickets and write tags
  vault_login_rate:
    requests: 200
    interval: 1m
overrides:
  prod:
    status: suspended
    credentials:
      token_ttl: 15m
      token_max_ttl: 4h
      aws_session_ttl: 15m
      database_ttl: 30m
      database_max_ttl: 4h
      secret_id_ttl: 2m
      secret_id_num_uses: 1
    network:
      egress:
        - host: sandbox.zendesk.com
          port: 443
          purpose: the sandbox only
      vault_login_rate: {requests: 50, interval: 1m}
migration:
  wave: 2
  parallel_run: 72h
  environments:
    prod:
      parallel_run_started: 2026-11-28T09:00:00Z
      note: the shared support account; the helpdesk macros use it too
      legacy:
        iam_access_keys:
          - id: AKIAIOSFODNN7EXAMPLE
            user: support-shared
        iam_users: [support-bot]
        vault_roles:
          - mount: approle
            role: support-shared
        vault_tokens:
          - accessor: 0BbQ1kuQ3o4ZbGqxPHnFTC7U
"""

# The dev stack config with the optional parts it leaves out.
STACK = (REPO / "stacks" / "Pulumi.dev.yaml").read_text(encoding="utf-8") + """\
    aws_secrets_engine_principal_cross_account_reason: Vault runs in the shared-services account
    selection:
      teams: [billing-platform]
      shard_count: 1
      shard_index: 0
      shared_resources: true
    egress:
      enforcement: network-firewall
      rule_group_capacity: 100
      rule_order: STRICT_ORDER
      home_net: [10.20.0.0/16]
"""

INVISIBLE = {
    "right-to-left-override": "\u202e",
    "first-strong-isolate": "\u2068",
    "zero-width-space": "\u200b",
    "zero-width-joiner": "\u200d",
    "escape": "\x1b",
    "line-feed": "\n",
    "tag-letter": "\U000e0041",
    "hangul-filler": "\u3164",
}

Path_ = tuple[str | int, ...]


def _resolve(node: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in node:
        return _resolve(root["$defs"][node["$ref"].rsplit("/", 1)[-1]], root)
    return node


def _branches(node: dict[str, Any], root: dict[str, Any]) -> list[dict[str, Any]]:
    node = _resolve(node, root)
    if "anyOf" in node:
        return [b for branch in node["anyOf"] for b in _branches(branch, root) if b.get("type") != "null"]
    return [node]


def schema_strings(node: dict[str, Any], root: dict[str, Any], path: Path_ = ()) -> Iterator[tuple[Path_, dict]]:
    """(generic path, schema) of every string in a schema; list items are `[]`, mapping values `*`."""
    for branch in _branches(node, root):
        if branch.get("type") == "string" or isinstance(branch.get("const", branch.get("enum", [0])[0]), str):
            yield path, branch
        for name, child in branch.get("properties", {}).items():
            yield from schema_strings(child, root, (*path, name))
        if "items" in branch:
            yield from schema_strings(branch["items"], root, (*path, "[]"))
        for child in [*branch.get("patternProperties", {}).values(), branch.get("additionalProperties")]:
            if isinstance(child, dict):
                yield from schema_strings(child, root, (*path, "*"))


def document_strings(data: Any, generic: Path_ = (), path: Path_ = ()) -> Iterator[tuple[Path_, Path_]]:
    """(generic path, path) of every string value of a document (keys named by `*` where the schema maps)."""
    if isinstance(data, str):
        yield generic, path
    elif isinstance(data, list):
        for i, item in enumerate(data):
            yield from document_strings(item, (*generic, "[]"), (*path, i))
    elif isinstance(data, dict):
        for key, value in data.items():
            mapped = generic[-1:] in (("overrides",), ("databases",)) or generic[-2:] == ("migration", "environments")
            yield from document_strings(value, (*generic, "*" if mapped else key), (*path, key))


def _inserted(text: str, field: Path_, char: str) -> bytes:
    """The document `text` with `char` inserted after the first character of the string at `field`."""
    data = _data(text)
    parent = data
    for part in field[:-1]:
        parent = parent[part]
    value = parent[field[-1]]
    parent[field[-1]] = value[:1] + char + value[1:]
    return yaml.safe_dump(data, sort_keys=False).encode()


def _data(text: str) -> Any:
    """The document as the project's loader reads it (YAML 1.2: dates stay strings)."""
    document, findings = parse_spec_bytes("x.yaml", text.encode())
    assert document is not None, findings
    return document.data


SPEC_DATA = _data(SPEC)
STACK_DATA = _data(STACK)
SPEC_SCHEMA = AgentSpec.model_json_schema()
STACK_SCHEMA = EnvironmentConfig.model_json_schema()
SPEC_FIELDS = sorted(document_strings(SPEC_DATA), key=str)
STACK_FIELDS = sorted(document_strings(STACK_DATA["config"][CONFIG_KEY], ("config", CONFIG_KEY),
                                       ("config", CONFIG_KEY)), key=str)


def test_the_example_documents_are_valid_and_show_every_string_field():
    spec, findings = load_spec_bytes("spec.yaml", SPEC.encode())
    assert findings == [] and spec is not None
    parse_environment("Pulumi.dev.yaml", STACK.encode(), FILES)
    for schema, fields, prefix in ((SPEC_SCHEMA, SPEC_FIELDS, ()),
                                   (STACK_SCHEMA, STACK_FIELDS, ("config", CONFIG_KEY))):
        missing = {(*prefix, *path) for path, _ in schema_strings(schema, schema)} - {g for g, _ in fields}
        assert not missing, f"add these fields to the example documents of this test: {sorted(missing, key=str)}"


@pytest.mark.parametrize("schema", [SPEC_SCHEMA, STACK_SCHEMA], ids=["spec", "stack config"])
def test_every_string_has_a_length_limit(schema):
    unbounded = [path for path, node in schema_strings(schema, schema)
                 if "maxLength" not in node and not {"const", "enum", "format"} & node.keys()]
    assert unbounded == []


def _where(raw: bytes, path: Path_) -> tuple[int, int]:
    document, _ = parse_spec_bytes("x.yaml", raw)
    assert document is not None
    return document.position(path)


@pytest.mark.parametrize("char", INVISIBLE.values(), ids=INVISIBLE.keys())
@pytest.mark.parametrize("field", [path for _, path in SPEC_FIELDS], ids=lambda p: ".".join(map(str, p)))
def test_every_spec_string_refuses_an_invisible_character_where_it_is(field: Path_, char: str):
    raw = _inserted(SPEC, field, char)
    spec, findings = load_spec_bytes("spec.yaml", raw)
    assert spec is None
    assert _where(raw, field) in {(f.line, f.column) for f in findings}, [f.render() for f in findings]
    assert all(char not in f.render() for f in findings)


@pytest.mark.parametrize("char", INVISIBLE.values(), ids=INVISIBLE.keys())
@pytest.mark.parametrize("field", [path for _, path in STACK_FIELDS], ids=lambda p: ".".join(map(str, p[2:])))
def test_every_stack_config_string_refuses_an_invisible_character_where_it_is(field: Path_, char: str):
    raw = _inserted(STACK, field, char)
    with pytest.raises(ConfigError) as refused:
        parse_environment("Pulumi.dev.yaml", raw, FILES)
    line, column = _where(raw, field)
    assert f"Pulumi.dev.yaml:{line}:{column}  error  CFG002  " in str(refused.value)
    assert char not in str(refused.value)


@pytest.mark.parametrize(("field", "value", "message"), [
    ("description", "Reads invoices\u202e and deletes them", "character 15 is U+202E RIGHT-TO-LEFT OVERRIDE"),
    ("description", "Reads invoices\nand deletes them", "character 15 is U+000A LINE FEED: control, bidirectional "
     "and invisible characters make text read differently from what it is, so none is allowed; for several lines "
     "write a folded block (`>-`), which joins them with spaces"),
    ("description", "Reads\u200b invoices daily", "character 6 is U+200B ZERO WIDTH SPACE"),
])
def test_the_finding_names_the_field_and_the_character(field: str, value: str, message: str):
    data = _data(SPEC)
    data[field] = value
    raw = yaml.safe_dump(data, sort_keys=False).encode()
    _, findings = load_spec_bytes("spec.yaml", raw)
    line, column = _where(raw, (field,))
    assert [f.render()[:len(f"spec.yaml:{line}:{column}  error  SPEC003  {field}: {message}")] for f in findings] == [
        f"spec.yaml:{line}:{column}  error  SPEC003  {field}: {message}"]


def test_free_text_keeps_letters_of_every_script_and_emoji():
    data = _data(SPEC)
    data["description"] = "Liest Rechnungen (ä, ß), שלום, 請求書, naïve café 💻 ⚠️ and reports them"
    spec, findings = load_spec_bytes("spec.yaml", yaml.safe_dump(data, allow_unicode=True).encode())
    assert findings == [] and spec is not None
    # The price of refusing every invisible character: emoji joined by U+200D (👩‍💻) are refused too.
    data["description"] = "Reads invoices for 👩\u200d💻 reviewers"
    _, findings = load_spec_bytes("spec.yaml", yaml.safe_dump(data, allow_unicode=True).encode())
    assert [f.message[:40] for f in findings] == ["character 21 is U+200D ZERO WIDTH JOINER"]


def test_lengths_are_limited_with_a_located_finding():
    data = _data(SPEC)
    data["network"]["egress"][0]["purpose"] = "x" * 201
    raw = yaml.safe_dump(data, sort_keys=False).encode()
    _, findings = load_spec_bytes("spec.yaml", raw)
    assert [(f.line, f.column, f.path) for f in findings] == [
        (*_where(raw, ("network", "egress", 0, "purpose")), "network.egress[example.zendesk.com].purpose")]
    assert "at most 200 characters" in findings[0].message
