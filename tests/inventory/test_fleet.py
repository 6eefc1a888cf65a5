"""The inventory of a generated fleet of 10,000 agents: one entry each, the tier and reasons of its shape, filters,
and every machine format complete. (Timings and memory: `python bench/bench_inventory.py`.)"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path

import pytest

from agentiam import project
from agentiam.environment.model import Selection
from agentiam.inventory.build import build_inventory, select
from agentiam.inventory.model import Inventory, Tier
from agentiam.plan.build import build_plan
from agentiam.render.inventory_csv import render_csv
from agentiam.render.inventory_json import render_json
from agentiam.render.inventory_markdown import render_markdown
from agentiam.rules.registry import run_rules
from agentiam.spec.validate import load_spec_bytes
from tests.program.fleet import TEMPLATES

COUNT = 10_000
TODAY = dt.date(2026, 12, 1)
REPO = Path(__file__).resolve().parents[2]
# Shape by index: the two templates of tests/program/fleet.py, and every fifth agent suspended.
READER, INTEGRATION, SUSPENDED = "reader", "integration", "suspended"


def shape(index: int) -> str:
    return SUSPENDED if index % 5 == 4 else (READER, INTEGRATION)[index % 2]


@pytest.fixture(scope="module")
def fleet() -> Inventory:
    environments = project.load_environments(REPO / "stacks")
    with project._cyclic_gc_paused():  # noqa: SLF001 - as the inventory's own compile does
        return _compile(environments)


def _compile(environments: dict) -> Inventory:
    specs = []
    for index in range(COUNT):
        name = f"fleet-agent-{index:05d}"
        status = "status: suspended\n" if shape(index) == SUSPENDED else ""
        text = TEMPLATES[index % 2].format(name=name, environments="dev", status=status)
        loaded, problems = load_spec_bytes(f"agent_specs/{name}.yaml", text.encode())
        assert problems == [] and loaded is not None
        specs.append(loaded)
    # 10,000 roles in one account exceed any IAM quota (AGT048, tests/fleet): every other guardrail passes.
    assert {f.rule_id for f in run_rules(specs, environments, TODAY)} == {"AGT048"}
    dev = environments["dev"].model_copy(update={"selection": Selection()})
    return build_inventory([(build_plan(specs, dev), dev)], TODAY)


def test_every_agent_once_with_the_tier_of_its_shape(fleet: Inventory) -> None:
    assert len(fleet.entries) == COUNT
    assert len({e.agent for e in fleet.entries}) == COUNT
    expected = {READER: (Tier.MEDIUM, ["reads-data", "long-lived-credentials"]),
                INTEGRATION: (Tier.HIGH, ["destructive", "read-and-send", "external-reach", "reads-data",
                                          "writes-data"]),
                SUSPENDED: (Tier.NONE, ["inactive"])}
    for entry in fleet.entries:
        tier, rules = expected[shape(int(entry.agent.rsplit("-", 1)[1]))]
        assert (entry.blast.tier, [r.rule for r in entry.blast.reasons]) == (tier, rules), entry.agent
    ranks = [e.blast.tier.rank for e in fleet.entries]
    assert ranks == sorted(ranks, reverse=True)


def test_filters_at_scale(fleet: Inventory) -> None:
    high = select(fleet, min_tier="high")
    assert len(high.entries) == sum(shape(i) == INTEGRATION for i in range(COUNT)) == 4000
    assert len(select(fleet, tiers=["none"]).entries) == 2000
    assert len(select(fleet, functions=["data-retrieval"], tiers=["medium"]).entries) == 4000


def test_machine_formats_hold_every_entry(fleet: Inventory) -> None:
    assert len(json.loads(render_json(fleet))["entries"]) == COUNT
    assert len(list(csv.reader(io.StringIO(render_csv(fleet))))) == COUNT + 1
    assert render_markdown(fleet).count("\n## `fleet-agent-") == COUNT
