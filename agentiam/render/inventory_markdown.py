"""The inventory as a Markdown page a compliance reader opens (GitHub, GitLab or any Markdown viewer): the summary
table, then one section per agent x environment: owner, credentials, what it reaches, its blast radius and why.

Every line is `Markdown` written here; every value from the inventory (names, ARNs, paths, hosts, purposes, reasons)
enters through `format`/`join`/`table_row` and becomes an inert code span (`agentiam.render.escape`): a spec cannot
add a heading, a link, an image or a mention to the page.
"""

from __future__ import annotations

from agentiam.inventory.model import TIER_ORDER, Inventory, InventoryEntry, Tier
from agentiam.project import _cyclic_gc_paused  # noqa: PLC2701 - the one helper for it, private to the facade
from agentiam.render.escape import Markdown, Wording, document, table_row
from agentiam.render.inventory_common import expiry, holds, targets
from agentiam.spec.types import format_duration

W = Wording
ICON = {Tier.CRITICAL: W("🟣"), Tier.HIGH: W("🔴"), Tier.MEDIUM: W("🟠"), Tier.LOW: W("🟢"), Tier.NONE: W("⚪")}
_EMPTY = Markdown("")


def _tier(tier: Tier) -> Markdown:
    return Markdown("{} {}").format(ICON[tier], tier)


def _summary(inventory: Inventory) -> list[Markdown]:
    counts = [Markdown("{} {}").format(_tier(tier), sum(e.blast.tier is tier for e in inventory.entries))
              for tier in reversed(TIER_ORDER)]
    lines = [Markdown("# agentiam inventory"), _EMPTY,
             Markdown("As of {}: {} agent identities in {}. Blast-radius tiers: {}.").format(
                 inventory.today, len(inventory.entries),
                 Markdown(", ").join(Markdown("{} (account {}, {})").format(e.name, e.account_id, e.region)
                                     for e in inventory.environments), Markdown(", ").join(counts)),
             _EMPTY,
             Markdown("| agent | env | function | status | team | sponsor | tier | expires | why |"),
             Markdown("|---|---|---|---|---|---|---|---|---|")]
    for e in inventory.entries:
        lines.append(table_row(Markdown.value(e.agent), Markdown.value(e.environment), Markdown.value(e.function),
                               Markdown.value(e.status), Markdown.value(e.owner_team), Markdown.value(e.sponsor),
                               _tier(e.blast.tier), expiry(e, Markdown),
                               Markdown(", ").join(r.rule for r in e.blast.reasons)))
    return lines


def _reach_rows(entry: InventoryEntry) -> list[Markdown]:
    rows = []
    denied = _EMPTY if entry.aws_usable else Markdown(" (denied: kill switch)")
    for grant in entry.aws:
        rows.append(table_row(Markdown("AWS"), Markdown("{} {}{}").format(
            grant.sid, Markdown(", ").join(grant.actions), denied), Markdown(", ").join(grant.access_levels),
            Markdown("{} ({})").format(Markdown(", ").join(grant.resources), grant.reach)))
    for db in entry.databases:
        rows.append(table_row(Markdown("database"), Markdown("{} ({})").format(
            db.access, Markdown(", ").join(db.privileges)), Markdown("lease {}, max {}").format(
            format_duration(db.lease_ttl), format_duration(db.lease_max_ttl)),
            Markdown("{}, schemas {}").format(db.database, Markdown(", ").join(db.schemas))))
    for grant in entry.vault:
        owner = Markdown(", shared by {}").format(grant.owner) if grant.owner and grant.owner != entry.agent \
            else _EMPTY
        rows.append(table_row(Markdown("Vault"), Markdown(", ").join(grant.capabilities), _EMPTY,
                              Markdown("{}{}").format(grant.path, owner)))
    for endpoint in entry.egress:
        rows.append(table_row(Markdown("egress"), Markdown.value(endpoint.purpose), _EMPTY,
                              Markdown("{}:{}").format(endpoint.host, endpoint.port)))
    if entry.vault_login_rate:
        rows.append(table_row(Markdown("Vault"), Markdown("AppRole logins (quota)"),
                              Markdown.value(entry.vault_login_rate), Markdown("its own role")))
    if not rows:
        return [Markdown("Nothing beyond its own Vault token.")]
    return [Markdown("| system | grant | level / lifetime | on |"), Markdown("|---|---|---|---|"), *rows]


def _entry(entry: InventoryEntry) -> list[Markdown]:
    lines = [
        Markdown("## {} in {}: {}").format(entry.agent, entry.environment, _tier(entry.blast.tier)), _EMPTY,
        Markdown("- **Function** {}, status {}; identity {}; deployed in {}").format(
            entry.function, entry.status, entry.identity_name, Markdown(", ").join(entry.deployed_in)),
        Markdown("- **Owner** {}, sponsor {}, contact {}; expires {}").format(
            entry.owner_team, entry.sponsor, entry.contact, expiry(entry, Markdown)),
        Markdown("- **Spec** {} ({})").format(entry.source_file, entry.spec_digest),
        Markdown("- **Holds** {}").format(holds(entry, Markdown)),
    ]
    lines += [Markdown("- **Shares** {} with {}").format(path, Markdown(", ").join(agents))
              for path, agents in entry.shared_with]
    lines += [_EMPTY, Markdown("**What it reaches**"), _EMPTY, *_reach_rows(entry), _EMPTY,
              Markdown("**Blast radius: {}**").format(_tier(entry.blast.tier)), _EMPTY]
    lines += [Markdown("- {}").format(targets(label, found, Markdown)) for label, found in (
        (W("reads"), entry.blast.reads), (W("changes"), entry.blast.changes), (W("sends to"), entry.blast.sends_to))
        if found]
    lines += [Markdown("- {} ({}): {}").format(r.rule, r.tier, r.reason) for r in entry.blast.reasons]
    return [*lines, _EMPTY]


def render_markdown(inventory: Inventory) -> str:
    with _cyclic_gc_paused():  # acyclic strings only: a fleet's worth would be rescanned for nothing
        lines = _summary(inventory)
        lines.append(_EMPTY)
        for entry in inventory.entries:
            lines += _entry(entry)
    lines.append(Markdown("<sub>Tiers: the worst rule that fires wins; the rules are listed in agentiam's "
                          "docs/inventory.md. AWS access levels and risk sets: IAM catalogue {}.</sub>")
                 .format(inventory.catalogue_version))
    return document(lines)


FORMATS = {"markdown": render_markdown}  # by the name `--format` takes
