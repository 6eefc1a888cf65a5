"""The scenario behind the examples in docs/check.md and docs/compliance.md: a small project whose logs (built in
the real formats) give every kind of finding once. Deterministic: fixed dates, ids and relative paths."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import textwrap
from pathlib import Path

from tests.audit import cloudtrail_records as ct
from tests.check.history_repo import REPO, commit_all

COMMITTED = dt.datetime(2026, 1, 5, 9, 30, tzinfo=dt.timezone.utc)
SINCE = dt.datetime(2026, 3, 1, tzinfo=dt.timezone.utc)
UNTIL = dt.datetime(2026, 3, 31, tzinfo=dt.timezone.utc)
ACCOUNT = "111111111111"
DATABASE = "agentiam-dev-database"
LOGIN = "auth/agentiam-dev-approle/login"


def _spec(name: str, *, extra: str = "", status: str = "active", expires: str = "2027-03-31",
          permissions: str = "") -> str:
    return textwrap.dedent(f"""\
        spec_version: 1
        name: {name}
        description: Example agent of the continuous-validation documentation.
        owner:
          team: billing-platform
          sponsor: maria.keller@example.com
          contact: "#billing-platform-oncall"
        function: data-retrieval
        environments: [dev]
        status: {status}
        expires: {expires}
        """) + extra + "permissions:\n" + permissions


READER = """\
  aws:
    - sid: read-invoices
      actions: [s3:GetObject, s3:ListBucket]
      resources:
        - arn:aws:s3:::billing-{env}-invoices
        - arn:aws:s3:::billing-{env}-invoices/*
  databases:
    - database: billing
      access: read
  kv:
    - path: billing/{agent}/*
      capabilities: [read]
"""
DB_ONLY = """\
  databases:
    - database: billing
      access: read
"""
SPECS = {
    "invoice-reader": _spec("invoice-reader", permissions=READER),
    "ticket-reader": _spec("ticket-reader", permissions=DB_ONLY,
                           extra="authentication:\n  bound_cidrs: [10.40.0.0/16]\n"),
    "churn-scorer": _spec("churn-scorer", expires="2026-03-10", permissions=DB_ONLY),
    "ledger-sync": _spec("ledger-sync", status="suspended", permissions=DB_ONLY),
    "idle-reporter": _spec("idle-reporter", permissions=DB_ONLY),
}
ENTITY = {name: f"e0000000-0000-4000-8000-{i:012d}" for i, name in enumerate(SPECS, 1)}
ROLE_ID_HMAC = {name: "hmac-sha256:" + f"{i:02d}" * 32 for i, name in enumerate(SPECS, 1)}


def build(root: Path) -> None:
    """The project (committed in January) and its logs of March under `root/logs`."""
    (root / "agent_specs").mkdir(parents=True)
    (root / "stacks" / "ca").mkdir(parents=True)
    shutil.copy(REPO / "stacks" / "Pulumi.dev.yaml", root / "stacks")
    shutil.copy(REPO / "stacks" / "ca" / "dev-agents-ca.pem", root / "stacks" / "ca")
    shutil.copy(REPO / "Pulumi.yaml", root)
    for name, text in SPECS.items():
        (root / "agent_specs" / f"{name}.yaml").write_text(text)
    commit_all(root, COMMITTED, "agents reviewed")
    logs = root / "logs"
    logs.mkdir()
    (logs / "audit-ids.json").write_text(json.dumps({"format": 1, "audit_device": "agentiam-file", "environments": {
        "dev": {f"agent-dev-{name}": {"entity_id": ENTITY[name], "role_id_hmac": ROLE_ID_HMAC[name],
                                      "name_hmac": ""} for name in SPECS}}}, indent=2))
    (logs / "vault-audit.log").write_text("".join(json.dumps(line, separators=(",", ":")) + "\n"
                                                  for line in _vault_lines()))
    role = f"arn:aws:iam::{ACCOUNT}:role/agentiam/dev/agent-dev-invoice-reader"
    day = SINCE + dt.timedelta(days=3, hours=10)
    records = [ct.human_call(ACCOUNT, SINCE + dt.timedelta(minutes=5)),
               ct.agent_call(role, "s3:GetObject", day, resource="arn:aws:s3:::billing-dev-invoices/2026/02.pdf"),
               ct.agent_call(role, "s3:PutObject", day + dt.timedelta(minutes=2),
                             resource="arn:aws:s3:::billing-dev-invoices/2026/02.pdf", error="AccessDenied"),
               ct.agent_call(role, "kms:Decrypt", day + dt.timedelta(minutes=3),
                             resource=f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/0b1c"),
               ct.human_call(ACCOUNT, UNTIL - dt.timedelta(minutes=5))]
    for i, record in enumerate(records):
        record["eventID"] = f"ct-{i:04d}"
    (logs / "cloudtrail-2026-03.json.gz").write_bytes(ct.delivery_file(records))


def _vault(when: dt.datetime, rid: str, path: str, *, agent: str | None = None, error: str | None = None,
           remote: str = "10.40.3.7", data: dict | None = None, operation: str = "read") -> list[dict]:
    auth: dict = {"token_type": "default"}
    if agent is not None:
        auth = {"display_name": "agentiam-dev-approle", "policies": [f"agent-dev-{agent}"],
                "metadata": {"role_name": f"agent-dev-{agent}"}, "entity_id": ENTITY[agent], "token_type": "service"}
    request = {"id": rid, "operation": operation, "path": path, "remote_address": remote}
    if data:
        request["data"] = data
    stamp = when.strftime("%Y-%m-%dT%H:%M:%S.000000001Z")
    lines = [{"time": stamp, "type": "request", "auth": auth, "request": request},
             {"time": stamp, "type": "response", "auth": auth, "request": request, "response": {}}]
    if error:
        for line in lines:
            line["error"] = error
    return lines


def _vault_lines() -> list[dict]:
    denied = "1 error occurred:\n\t* permission denied\n\n"
    day = SINCE + dt.timedelta(days=20, hours=14)
    lines = _vault(SINCE + dt.timedelta(minutes=1), "op-0001", "sys/mounts")  # an operator: coverage
    lines += _vault(day, "v-0001", f"{DATABASE}/creds/agent-dev-invoice-reader-billing-read", agent="invoice-reader")
    lines += _vault(day + dt.timedelta(minutes=1), "v-0002", f"{DATABASE}/creds/agent-dev-idle-reporter-billing-read",
                    agent="invoice-reader", error=denied)
    lines += _vault(day + dt.timedelta(minutes=5), "v-0003", f"{DATABASE}/creds/agent-dev-ticket-reader-billing-read",
                    agent="ticket-reader", remote="203.0.113.9")
    for i in range(6):
        lines += _vault(day + dt.timedelta(minutes=10, seconds=20 * i), f"v-01{i:02d}", LOGIN,
                        error="invalid role or secret ID", operation="update", remote="10.40.3.8",
                        data={"role_id": ROLE_ID_HMAC["ticket-reader"], "secret_id": "hmac-sha256:" + "ab" * 32})
    for i in range(5):
        lines += _vault(day + dt.timedelta(minutes=30, seconds=5 * i), f"v-02{i:02d}", LOGIN,
                        error="invalid role or secret ID", operation="update", remote="198.51.100.23",
                        data={"role_id": "hmac-sha256:" + "ee" * 32, "secret_id": "hmac-sha256:" + "cd" * 32})
    lines += _vault(day + dt.timedelta(days=2), "v-0301", f"{DATABASE}/creds/agent-dev-churn-scorer-billing-read",
                    agent="churn-scorer")
    lines += _vault(day + dt.timedelta(days=3), "v-0401", f"{DATABASE}/creds/agent-dev-ledger-sync-billing-read",
                    agent="ledger-sync")
    lines += _vault(UNTIL - dt.timedelta(minutes=1), "op-0002", "sys/auth")
    return lines
