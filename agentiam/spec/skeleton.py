"""Commented skeleton specs for `agentiam new`: one per function class.

A skeleton passes every guardrail except AGT009: what only the author can know (what the agent does, who answers
for it, which resources and endpoints it uses) is a placeholder (`Replace with ...`, `change-me`,
`api.example.com`), so `agentiam validate` lists what is left to fill in and the spec cannot be merged before.
Lifetimes start well below the caps: raising one later is a reviewed widening, starting at the cap is not.
"""

from __future__ import annotations

import datetime as dt

from agentiam.spec.model import FunctionClass

# Identities are time-boxed; a new one gets a quarter before its sponsor must re-approve it.
DEFAULT_LIFETIME_DAYS = 90

_HEADER = """\
# yaml-language-server: $schema={schema_path}
# Agent spec: one autonomous AI agent, reviewed like code. `agentiam validate` checks it offline;
# `agentiam plan --env dev` shows the IAM role, Vault policy and credentials it will get.
spec_version: 1
# Unique across all specs; becomes agent-<env>-{name} (IAM role, Vault policy, AppRole, entity).
name: {name}
# What the agent does, in a sentence or two (reviewers read this first).
description: {description}
# The owning team (slug), the human who answers for the agent and re-approves it, and where to reach them.
owner:
  team: {team}
  sponsor: {sponsor}
  contact: "#{team}"
# Function class: {function_doc}
function: {function}
# Start in dev; add staging and prod once the agent behaves. Each needs stacks/Pulumi.<env>.yaml (AGT003).
environments: [{environments}]
# Expired identities are refused (AGT004); validate warns 30 days before (AGT005).
expires: {expires}
# Credential lifetimes: start short and lengthen only what the agent shows it needs (a reviewed widening).
# Caps: tokens 24h (AGT010-AGT011), AWS sessions 15m-12h (AGT012), database credentials 24h (AGT013),
# secret id 24h (AGT014).
credentials:
  token_ttl: 30m
  token_max_ttl: 8h
  aws_session_ttl: 30m
  database_ttl: 30m
  database_max_ttl: 8h
  secret_id_ttl: 5m
"""

_FUNCTION_DOC = {
    FunctionClass.DATA_RETRIEVAL: "data-retrieval reads and never writes: AWS Read/List actions, database\n"
                                  "# `read`, KV read/list, no network (AGT030, AGT034).",
    FunctionClass.INTEGRATION: "integration calls named external endpoints, rate-limited, on resources\n"
                               "# named one by one (AGT031).",
    FunctionClass.ANALYSIS: "analysis computes but never exports: AWS writes only in statements marked\n"
                            "# `scratch: true` in the environment's own account, database `read`, no network "
                            "(AGT032, AGT034).",
    FunctionClass.REPORTING: "reporting is read-only: AWS Read/List actions, database `read`, KV\n"
                             "# read/list, no network (AGT033, AGT034).",
    FunctionClass.MONITORING: "monitoring is read-only: AWS Read/List actions, database `read`, KV\n"
                              "# read/list, no network (AGT033, AGT034).",
}

_PERMISSIONS_INTRO = """\
# What the agent may touch. Every action must exist in the IAM catalogue (AGT020), no `s3:*` (AGT021),
# no privilege escalation or credential-returning actions (AGT023, AGT024). Resource ARNs may use
# {{env}}, {{account}}, {{region}}, {{agent}} and must stay in the environment's own account (AGT025).
# Replace each `change-me` with the agent's real resources (AGT009 until then), e.g. {team}-{{env}}-{name}-...
permissions:
  aws:
"""

_AWS = {
    FunctionClass.DATA_RETRIEVAL: """\
    - sid: read-source-data          # names the statement in findings and diffs (unique, AGT042)
      actions: [s3:GetObject, s3:ListBucket]
      resources:
        - arn:aws:s3:::change-me-{{env}}-source
        - arn:aws:s3:::change-me-{{env}}-source/*
""",
    FunctionClass.INTEGRATION: """\
    - sid: consume-outbound-events   # names the statement in findings and diffs (unique, AGT042)
      actions: [sqs:ReceiveMessage, sqs:DeleteMessage, sqs:GetQueueAttributes]
      # Integration agents name each resource; a wildcard only as a trailing /* path segment.
      resources: ["arn:aws:sqs:{{region}}:{{account}}:change-me-{{env}}-outbound"]
""",
    FunctionClass.ANALYSIS: """\
    - sid: read-inputs               # names the statement in findings and diffs (unique, AGT042)
      actions: [s3:GetObject, s3:ListBucket]
      resources:
        - arn:aws:s3:::change-me-{{env}}-inputs
        - arn:aws:s3:::change-me-{{env}}-inputs/*
    - sid: write-scratch
      scratch: true                  # the only place an analysis agent may write
      actions: [s3:PutObject, s3:GetObject]  # no DeleteObject on a wildcard (AGT028): let a lifecycle rule expire
      # S3 ARNs carry no account: {{account}} in the bucket name proves the scratch is in this account.
      resources: ["arn:aws:s3:::change-me-scratch-{{account}}-{{env}}/{{agent}}/*"]
""",
    FunctionClass.REPORTING: """\
    - sid: read-report-inputs        # names the statement in findings and diffs (unique, AGT042)
      actions: [s3:GetObject, s3:ListBucket]
      resources:
        - arn:aws:s3:::change-me-{{env}}-inputs
        - arn:aws:s3:::change-me-{{env}}-inputs/*
    - sid: read-metrics
      # Resource "*" is allowed only because these actions support no resource-level scoping (AGT022).
      actions: [cloudwatch:GetMetricStatistics]
      resources: ["*"]
""",
    FunctionClass.MONITORING: """\
    - sid: read-alarms               # names the statement in findings and diffs (unique, AGT042)
      actions: [cloudwatch:DescribeAlarms]
      resources: ["arn:aws:cloudwatch:{{region}}:{{account}}:alarm:change-me-*"]
    - sid: read-health
      # Resource "*" is allowed only because these actions support no resource-level scoping (AGT022).
      actions: [cloudwatch:GetMetricStatistics, health:DescribeEvents]
      resources: ["*"]
""",
}

_DATABASES_AND_KV = """\
  # Dynamic database credentials; the database must be configured in every environment (AGT035).
  # databases:
  #   - database: billing
  #     access: read{database_note}
  # Static secrets under the environment's KV v2 mount; no `..`, a wildcard only as a trailing /* (AGT036).
  kv:
    - path: {team}/{{agent}}/*
      capabilities: [{kv_capabilities}]
"""

_NETWORK = {
    FunctionClass.INTEGRATION: """\
# Integration agents only: exact hosts and a rate limit (AGT031, AGT034); api.example.com stands for the host
# the agent really calls (AGT009 until replaced).
network:
  egress:
    - host: api.example.com
      port: 443
      purpose: Replace with why the agent calls this endpoint.
  rate_limit:
    requests: 60
    interval: 1m
""",
}

_OVERRIDES = """\
# Per-environment differences: credential lifetimes, network, or `status: suspended` in one environment.
# overrides:
#   prod:
#     credentials:
#       token_max_ttl: 12h
"""


def skeleton(name: str, function: FunctionClass, *, team: str, sponsor: str, environments: list[str],
             today: dt.date, schema_path: str) -> str:
    """A commented spec for a new agent of `function`: every guardrail passes but AGT009, which lists the
    placeholders left to replace."""
    read_only = function is not FunctionClass.INTEGRATION
    text = _HEADER.format(
        schema_path=schema_path, name=name, team=team, sponsor=sponsor, function=function.value,
        function_doc=_FUNCTION_DOC[function], environments=", ".join(environments),
        expires=(today + dt.timedelta(days=DEFAULT_LIFETIME_DAYS)).isoformat(),
        description=f"Replace with what {name} does and why it needs the access below.")
    text += _PERMISSIONS_INTRO.format(team=team, name=name)
    text += _AWS[function].format(team=team, name=name)
    text += _DATABASES_AND_KV.format(
        team=team, kv_capabilities="read, list" if read_only else "read",
        database_note="  # read only for this class" if read_only else "  # or write")
    text += _NETWORK.get(function, "")
    text += _OVERRIDES
    return text
