"""The inventory for terminals: a summary table (rich), then per agent x environment what it holds, what it reaches
and its blast radius, one fact per line.

Every line is `Terminal` text (`agentiam.render.escape`): values are shown with escapes for control and invisible
characters. Table cells are rich `Text` (never markup, so `[...]` in an ARN stays data) that fold instead of being cut:
names and ARNs are never truncated, whatever the terminal's width.
"""

from __future__ import annotations

import io

from rich.console import Console
from rich.table import Table
from rich.text import Text

from agentiam.inventory.model import Inventory, InventoryEntry
from agentiam.project import _cyclic_gc_paused  # noqa: PLC2701 - the one helper for it, private to the facade
from agentiam.render.escape import Terminal, Wording
from agentiam.render.inventory_common import expiry, holds, targets
from agentiam.spec.types import format_duration

W = Wording
SUMMARY_COLUMNS = ("agent", "env", "function", "status", "team", "tier", "expires", "why")
# rich lays a table out at ~1 ms per row; above this many identities the summary is aligned columns instead (still
# never truncated), so 10,000 agents print in seconds (bench/bench_inventory.py).
RICH_ROWS = 2000


def _cell(text: Terminal | str) -> Text:
    return Text(str(text) if isinstance(text, Terminal) else str(Terminal.value(text)))


def _title(inventory: Inventory) -> Terminal:
    return Terminal("agentiam inventory of {} as of {}: {} agent identities").format(
        Terminal(", ").join(e.name for e in inventory.environments), inventory.today, len(inventory.entries))


def _summary_cells(entry: InventoryEntry) -> list[Terminal]:
    return [Terminal.value(value) for value in (
        entry.agent, entry.environment, entry.function, entry.status, entry.owner_team, entry.blast.tier,
        expiry(entry, Terminal), Terminal(", ").join(r.rule for r in entry.blast.reasons))]


def summary_table(inventory: Inventory) -> Table:
    table = Table(title=_cell(_title(inventory)))
    for column in SUMMARY_COLUMNS:
        table.add_column(column, overflow="fold")
    for entry in inventory.entries:
        table.add_row(*(_cell(value) for value in _summary_cells(entry)))
    return table


def summary_columns(inventory: Inventory) -> list[Terminal]:
    """The summary as aligned columns, each as wide as its widest value."""
    rows = [[Terminal.value(c) for c in SUMMARY_COLUMNS], *(_summary_cells(e) for e in inventory.entries)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(SUMMARY_COLUMNS))]
    return [_title(inventory)] + [Terminal("  ").join(Terminal("{:<{}}").format(cell, width)
                                                      for cell, width in zip(row, widths)) for row in rows]


def entry_lines(entry: InventoryEntry) -> list[Terminal]:
    """What one agent x environment holds, reaches, and could do if compromised."""
    lines = [
        Terminal("{} in {}: blast radius {} ({}, {}; team {}, sponsor {}, contact {})").format(
            entry.agent, entry.environment, entry.blast.tier, entry.function, entry.status, entry.owner_team,
            entry.sponsor, entry.contact),
        Terminal("  identity {}, spec {} ({}), expires {}, deployed in {}").format(
            entry.identity_name, entry.source_file, entry.spec_digest, expiry(entry, Terminal),
            Terminal(", ").join(entry.deployed_in)),
        Terminal("  holds: {}").format(holds(entry, Terminal)),
    ]
    denied = Terminal("") if entry.aws_usable else Terminal(" (denied: kill switch)")
    for grant in entry.aws:
        lines.append(Terminal("  AWS {}: {} [{}] on {} ({}){}").format(
            grant.sid, Terminal(", ").join(grant.actions), Terminal(", ").join(grant.access_levels),
            Terminal(", ").join(grant.resources), grant.reach, denied))
    for db in entry.databases:
        lines.append(Terminal("  database {}: {} ({}) on schemas {}, lease {} (max {}), role {}").format(
            db.database, db.access, Terminal(", ").join(db.privileges), Terminal(", ").join(db.schemas),
            format_duration(db.lease_ttl), format_duration(db.lease_max_ttl), db.role))
    for grant in entry.vault:
        owner = Terminal(" (shared by {})").format(grant.owner) if grant.owner and grant.owner != entry.agent \
            else Terminal("")
        lines.append(Terminal("  Vault {} [{}]{}").format(grant.path, Terminal(", ").join(grant.capabilities), owner))
    for endpoint in entry.egress:
        lines.append(Terminal("  egress {}:{} ({})").format(endpoint.host, endpoint.port, endpoint.purpose))
    if entry.vault_login_rate:
        lines.append(Terminal("  Vault logins at most {} (quota; not a limit on egress calls)").format(
            entry.vault_login_rate))
    for path, agents in entry.shared_with:
        lines.append(Terminal("  shares {} with {}").format(path, Terminal(", ").join(agents)))
    lines.append(Terminal("  if compromised (blast radius {}):").format(entry.blast.tier))
    lines += [Terminal("    {}").format(targets(label, found, Terminal)) for label, found in (
        (W("reads"), entry.blast.reads), (W("changes"), entry.blast.changes), (W("sends to"), entry.blast.sends_to))
        if found]
    lines += [Terminal("    {} ({}): {}").format(r.rule, r.tier, r.reason) for r in entry.blast.reasons]
    return lines


def render_text(inventory: Inventory, width: int | None = None) -> str:
    """The summary table, then the details of every entry; `width`: the terminal's (default: detected)."""
    with _cyclic_gc_paused():  # acyclic strings only: a fleet's worth would be rescanned for nothing
        return _render_text(inventory, width)


def _render_text(inventory: Inventory, width: int | None) -> str:
    out = io.StringIO()
    console = Console(file=out, width=width or Console().width, color_system=None, highlight=False,
                      emoji=False, markup=False)
    lines: list[Terminal] = []
    if len(inventory.entries) > RICH_ROWS:
        lines += summary_columns(inventory)
    else:
        console.print(summary_table(inventory))
    for entry in inventory.entries:
        lines += ["", *entry_lines(entry)]
    if not inventory.entries:
        lines.append(Terminal("no agent identity matches"))
    return out.getvalue() + "\n".join(lines) + "\n"


FORMATS = {"text": render_text}  # by the name `--format` takes
