"""The inventory as CSV for spreadsheets and SIEMs: one row per agent x environment, lists joined with `; `.

Every text cell goes through `escape.csv_cell`: spec text (a purpose, a contact, an ARN) can start with `=` or `@`,
and a spreadsheet opening the file would run it as a formula.
"""

from __future__ import annotations

import csv
import io

from agentiam.inventory.model import Inventory, InventoryEntry
from agentiam.render.escape import csv_cell
from agentiam.spec.types import format_duration

COLUMNS = ("agent", "environment", "identity", "function", "status", "team", "sponsor", "contact", "expires",
           "expires_in_days", "tier", "tier_rules", "tier_reasons", "reads", "changes", "sends_to", "token_ttl",
           "token_max_ttl", "secret_id_ttl", "secret_id_uses", "aws_session", "aws_role_arn", "aws_actions",
           "aws_resources", "databases", "vault_paths", "egress", "vault_login_rate", "deployed_in", "source_file",
           "spec_digest")


def _joined(items: list[str]) -> str:
    return "; ".join(items)


def row(entry: InventoryEntry) -> dict[str, str | int]:
    """One entry as CSV cells (before escaping)."""
    creds = entry.credentials
    blast = entry.blast
    return {
        "agent": entry.agent, "environment": entry.environment, "identity": entry.identity_name,
        "function": entry.function, "status": entry.status, "team": entry.owner_team, "sponsor": entry.sponsor,
        "contact": entry.contact, "expires": entry.expires, "expires_in_days": entry.expires_in_days,
        "tier": blast.tier.value, "tier_rules": _joined([r.rule for r in blast.reasons]),
        "tier_reasons": _joined([f"{r.rule}: {r.reason}" for r in blast.reasons]),
        "reads": _joined([t.name for t in blast.reads]), "changes": _joined([t.name for t in blast.changes]),
        "sends_to": _joined([t.name for t in blast.sends_to]),
        "token_ttl": format_duration(creds.token_ttl), "token_max_ttl": format_duration(creds.token_max_ttl),
        "secret_id_ttl": format_duration(creds.secret_id_ttl), "secret_id_uses": creds.secret_id_num_uses,
        "aws_session": format_duration(creds.aws_session_ttl) if creds.aws_session_ttl else "",
        "aws_role_arn": creds.aws_role_arn,
        "aws_actions": _joined(sorted({a for g in entry.aws for a in g.actions})),
        "aws_resources": _joined(sorted({r for g in entry.aws for r in g.resources})),
        "databases": _joined([f"{d.database}:{d.access}" for d in entry.databases]),
        "vault_paths": _joined([f"{v.path} [{', '.join(v.capabilities)}]" for v in entry.vault]),
        "egress": _joined([f"{e.host}:{e.port}" for e in entry.egress]),
        "vault_login_rate": entry.vault_login_rate or "",
        "deployed_in": _joined(list(entry.deployed_in)), "source_file": entry.source_file,
        "spec_digest": entry.spec_digest,
    }


def render_csv(inventory: Inventory) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")  # RFC 4180 line ends, what spreadsheets expect
    writer.writerow(COLUMNS)
    for entry in inventory.entries:
        cells = row(entry)
        writer.writerow([csv_cell(value) if isinstance(value, str) else value for value in
                         (cells[column] for column in COLUMNS)])
    return out.getvalue()


FORMATS = {"csv": render_csv}  # by the name `--format` takes
