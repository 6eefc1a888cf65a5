"""The inventory as JSON for machines (SIEMs, scripts): every entry with every field, stable bytes for the same input."""

from __future__ import annotations

import json
from dataclasses import asdict
from enum import Enum
from typing import Any

from agentiam.inventory.model import Inventory, InventoryEntry, Tier

INVENTORY_FORMAT = 1


def _plain(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


def entry_json(entry: InventoryEntry) -> dict[str, Any]:
    """One entry as plain JSON data (tuples as lists, enums as their values)."""
    data = _plain(asdict(entry))
    data["expired"] = entry.expired
    data["shared_with"] = [{"path": path, "agents": list(agents)} for path, agents in entry.shared_with]
    return data


def inventory_json(inventory: Inventory) -> dict[str, Any]:
    tiers = {tier.value: sum(e.blast.tier is tier for e in inventory.entries) for tier in Tier}
    return {"format": INVENTORY_FORMAT, "today": inventory.today, "catalogue_version": inventory.catalogue_version,
            "environments": [asdict(env) for env in inventory.environments], "tiers": tiers,
            "entries": [entry_json(e) for e in inventory.entries]}


def render_json(inventory: Inventory) -> str:
    return json.dumps(inventory_json(inventory), indent=2, sort_keys=True) + "\n"
