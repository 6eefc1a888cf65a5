"""The inventory as JSON for machines (SIEMs, scripts): every entry with every field, one compact line, stable bytes
for the same input.

Dataclasses become objects through the encoder's `default` hook, so the C encoder walks everything else (tuples are
arrays; the str enums `Tier` and `TargetKind` are their values): several times faster than `dataclasses.asdict`,
which deep-copies every leaf, on a fleet of thousands.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from agentiam.inventory.model import Inventory, InventoryEntry, Tier
from agentiam.project import _cyclic_gc_paused  # noqa: PLC2701 - the one helper for it, private to the facade

INVENTORY_FORMAT = 1


def _object(value: Any) -> dict[str, Any]:
    if isinstance(value, InventoryEntry):
        data = dict(vars(value))
        data["expired"] = value.expired
        data["shared_with"] = [{"path": path, "agents": agents} for path, agents in value.shared_with]
        return data
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dict(vars(value))
    raise TypeError(f"no JSON form for {type(value).__name__}")


def inventory_json(inventory: Inventory) -> dict[str, Any]:
    """The document as Python data (entries and environments left as dataclasses for the encoder)."""
    tiers = {tier.value: sum(e.blast.tier is tier for e in inventory.entries) for tier in Tier}
    return {"format": INVENTORY_FORMAT, "today": inventory.today, "catalogue_version": inventory.catalogue_version,
            "environments": list(inventory.environments), "tiers": tiers, "entries": list(inventory.entries)}


def render_json(inventory: Inventory) -> str:
    with _cyclic_gc_paused():  # only acyclic data is built: a fleet's worth of it would be rescanned for nothing
        # Compact: with `indent`, the json module falls back to its pure-Python encoder, 5x slower on 10,000 agents
        # (`jq .` pretty-prints it).
        return json.dumps(inventory_json(inventory), sort_keys=True, separators=(",", ":"), default=_object) + "\n"


FORMATS = {"json": render_json}  # by the name `--format` takes
