"""Generated agent specs for program tests and benchmarks: a realistic fleet under new names."""

from __future__ import annotations

from pathlib import Path

# Two shapes of the bundled billing examples (data retrieval; integration with egress and a rate limit), kept here
# so the generated fleet does not change when someone edits or adds an example.
TEMPLATES = ("""\
spec_version: 1
name: {name}
description: Reads invoices from S3 and payment rows from the billing database for reconciliation.
owner:
  team: billing-platform
  sponsor: maria.keller@example.com
  contact: "#billing-platform-oncall"
function: data-retrieval
environments: [{environments}]
expires: 2027-09-30
{status}credentials:
  token_ttl: 1h
  token_max_ttl: 24h
  aws_session_ttl: 1h
permissions:
  aws:
    - sid: read-invoices
      actions: [s3:GetObject, s3:ListBucket]
      resources:
        - arn:aws:s3:::billing-{{env}}-invoices
        - arn:aws:s3:::billing-{{env}}-invoices/*
  databases:
    - database: billing
      access: read
  kv:
    - path: billing/{{agent}}/*
      capabilities: [read]
""", """\
spec_version: 1
name: {name}
description: Sends settled payment batches to Stripe and records the provider's confirmation ids.
owner:
  team: billing-platform
  sponsor: maria.keller@example.com
  contact: "#billing-platform-oncall"
function: integration
environments: [{environments}]
expires: 2027-06-30
{status}credentials:
  token_ttl: 30m
  token_max_ttl: 8h
  aws_session_ttl: 30m
permissions:
  aws:
    - sid: consume-settlements
      actions: [sqs:ReceiveMessage, sqs:DeleteMessage, sqs:GetQueueAttributes]
      resources: ["arn:aws:sqs:{{region}}:{{account}}:billing-{{env}}-settlements"]
  databases:
    - database: billing
      access: write
  kv:
    - path: billing/{{agent}}/stripe-api-key
      capabilities: [read]
network:
  egress:
    - host: api.stripe.com
      port: 443
      purpose: create and confirm payouts
  vault_login_rate:
    requests: 100
    interval: 1m
""")


def write_fleet(directory: Path, count: int, environments: tuple[str, ...] = ("dev", "staging", "prod"),
                status: str | None = None, prefix: str = "fleet-agent") -> list[str]:
    """Write `count` valid specs (`<prefix>-0000`...) into `directory`; returns the agent names."""
    directory.mkdir(parents=True, exist_ok=True)
    names = []
    for index in range(count):
        name = f"{prefix}-{index:04d}"
        text = TEMPLATES[index % len(TEMPLATES)].format(
            name=name, environments=", ".join(environments), status=f"status: {status}\n" if status else "")
        (directory / f"{name}.yaml").write_text(text, encoding="utf-8")
        names.append(name)
    return names
