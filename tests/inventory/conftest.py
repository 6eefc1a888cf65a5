"""The bundled examples' inventory, compiled once (as of a fixed date, so expiry figures never move)."""

from __future__ import annotations

import contextlib
import datetime as dt
from pathlib import Path

import pytest

from agentiam.inventory.build import compile_inventory
from agentiam.inventory.model import Inventory

REPO = Path(__file__).resolve().parents[2]
TODAY = dt.date(2026, 12, 1)


@pytest.fixture(scope="session")
def bundled() -> Inventory:
    """Compiled from the repository root, as users run it: file names relative, as the golden page shows them."""
    with contextlib.chdir(REPO):
        inventory, warnings = compile_inventory(Path("agent_specs"), Path("stacks"), None, TODAY)
    assert warnings == []
    return inventory
