"""Wave planning on the bundled examples and on a generated fleet of 1,000 agents: no wave above the cap, every
agent once, read-only agents before those that write or reach out, lower tiers first, the risk always the
inventory's; and the declared waves that break the order within a team or exceed the cap, located."""

from __future__ import annotations

import contextlib
import random
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from agentiam.cli.main import cli
from agentiam.cli.migrate import EXIT_KEPT
from agentiam.inventory.build import compile_inventory
from agentiam.migrate.waves import (
    CAP_RULE,
    ORDER_RULE,
    Candidate,
    WavePlan,
    plan_waves,
    propose,
)
from bench.bench_validate import spec_text
from tests.migrate.conftest import REPO, TODAY, spec


def _check(plan: WavePlan, expected_agents: set[str]) -> None:
    """The properties every proposal keeps, whatever the fleet."""
    agents = [c.agent for w in plan.waves for c in w.agents]
    assert sorted(agents) == sorted(expected_agents) and len(agents) == len(set(agents))
    assert all(1 <= len(w.agents) <= plan.cap for w in plan.waves)
    assert [w.number for w in plan.waves] == list(range(1, len(plan.waves) + 1))
    for wave in plan.waves:
        assert len({c.risk for c in wave.agents}) == 1, f"wave {wave.number} mixes risks"
    risks = [w.agents[0].risk for w in plan.waves]
    assert risks == sorted(risks), "a riskier wave before a safer one"


def test_the_bundled_examples_reporting_and_monitoring_first_external_reach_last() -> None:
    with contextlib.chdir(REPO):
        plan = plan_waves(Path("agent_specs"), Path("stacks"), TODAY, cap=3, everyone=True)
        inventory, _ = compile_inventory(Path("agent_specs"), Path("stacks"), None, TODAY)
    _check(plan, {e.agent for e in inventory.entries})
    # The risk is the inventory's, never re-derived: worst tier over the environments, read-only from its radius.
    for wave in plan.waves:
        for candidate in wave.agents:
            entries = [e for e in inventory.entries if e.agent == candidate.agent]
            assert candidate.tier == max((e.blast.tier for e in entries), key=lambda t: t.rank)
            assert candidate.read_only == all(not e.blast.changes and not e.blast.sends_to for e in entries)
    first, last = plan.waves[0], plan.waves[-1]
    assert {c.function for c in first.agents} <= {"reporting", "monitoring"}
    assert {c.agent for c in first.agents} == {"cost-anomaly-monitor", "access-review-reporter"}
    assert {c.agent for c in last.agents} == {"payment-gateway-sync", "ticket-triage"}  # external reach, writes
    assert all(not c.read_only for c in last.agents)
    assert plan.findings == () and plan.considered == 9
    # Without --all: only agents with a migration section (the examples have none).
    with contextlib.chdir(REPO):
        assert plan_waves(Path("agent_specs"), Path("stacks"), TODAY).considered == 0


@pytest.fixture(scope="module")
def thousand(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, int]]:
    """1,000 varied agents (bench/bench_validate.py's generator), each migrating, with random declared waves."""
    from tests.migrate.conftest import new_project

    rng = random.Random(20261203)
    specs, waves = {}, {}
    for i in range(1000):
        name, text = spec_text(i, rng)
        env = text.split("environments: [", 1)[1].split(",", 1)[0].split("]", 1)[0]
        waves[name] = rng.randint(1, 40)
        specs[name] = text + (f"migration:\n  wave: {waves[name]}\n  environments:\n    {env}:\n      legacy:\n"
                              f"        iam_users: [shared-{i % 37}]\n")
    return new_project(tmp_path_factory.mktemp("fleet"), specs), waves


@pytest.mark.parametrize("cap", [1, 7, 25, 1000])
def test_a_thousand_agents_no_wave_above_the_cap_and_the_order_respects_risk(
        thousand: tuple[Path, dict[str, int]], cap: int) -> None:
    root, waves = thousand
    with contextlib.chdir(root):
        plan = plan_waves(Path("agent_specs"), Path("stacks"), TODAY, cap=cap)
    _check(plan, set(waves))
    kinds = {c.risk for w in plan.waves for c in w.agents}
    assert len(kinds) >= 3, "the generated fleet spans several risks"
    # Shared users: each is retired after the last wave of the agents declaring it.
    wave_of = {c.agent: w.number for w in plan.waves for c in w.agents}
    assert len(plan.shared) == 37
    for shared in plan.shared:
        assert shared.after_wave == max(wave_of[a] for a, _ in shared.agents)


def test_a_thousand_agents_every_out_of_order_declaration_is_found(thousand: tuple[Path, dict[str, int]]) -> None:
    root, waves = thousand
    with contextlib.chdir(root):
        plan = plan_waves(Path("agent_specs"), Path("stacks"), TODAY, cap=40)
    by_agent = {c.agent: c for w in plan.waves for c in w.agents}
    expected = {a.agent for a in by_agent.values()
                if any(o.team == a.team and o.risk < a.risk and waves[o.agent] > waves[a.agent]
                       for o in by_agent.values())}
    flagged = {f.file.rsplit("/", 1)[1].removesuffix(".yaml") for f in plan.findings if f.rule_id == ORDER_RULE}
    assert flagged == expected and expected
    sizes: dict[int, int] = {}
    for wave in waves.values():
        sizes[wave] = sizes.get(wave, 0) + 1
    over = {a for a, w in waves.items() if sizes[w] > 40}
    assert {f.file.rsplit("/", 1)[1].removesuffix(".yaml") for f in plan.findings if f.rule_id == CAP_RULE} == over


def test_declared_waves_out_of_order_or_over_the_cap_are_located(
        project_factory: Callable[[dict[str, str]], Path], monkeypatch: pytest.MonkeyPatch) -> None:
    def migration(wave: int) -> str:
        return (f"migration:\n  wave: {wave}\n  environments:\n    prod:\n      legacy:\n"
                "        iam_users: [billing-shared]\n")

    integration = ("network:\n  egress:\n    - host: api.billing-partner.io\n      purpose: send the reports\n"
                   "  vault_login_rate: {requests: 10, interval: 1m}\n")
    root = project_factory({
        "billing-sync": spec("billing-sync", function="integration", migration=migration(1)).replace(
            "migration:", integration + "migration:"),
        "billing-reporter": spec("billing-reporter", migration=migration(2)),
        "billing-digest": spec("billing-digest", migration=migration(2)),
        "billing-summary": spec("billing-summary", migration=migration(2)),
        "sre-reporter": spec("sre-reporter", team="sre", migration=migration(3)),
    })
    monkeypatch.chdir(root)
    result = CliRunner().invoke(cli, ["migrate", "plan", "--cap", "2"])
    assert result.exit_code == EXIT_KEPT, result.output
    line = next(i for i, text in enumerate((root / "agent_specs" / "billing-sync.yaml").read_text().splitlines(), 1)
                if text.startswith("  wave:"))
    assert (f"agent_specs/billing-sync.yaml:{line}:9  error  {ORDER_RULE}  migration.wave: billing-sync (writes or "
            "reaches "
            "out, tier high) migrates in wave 1, before billing-digest of the same team billing-platform (read-only, "
            "tier medium) in wave 2: migrate the lower-risk agents first") in result.output
    assert result.output.count(f"error  {CAP_RULE}  migration.wave: wave 2 holds 3 agents, above the cap of 2") == 3
    assert "sre-reporter" not in "".join(line for line in result.output.splitlines() if ORDER_RULE in line)
    assert "billing-platform" in result.output and "4 finding(s)" in result.output
    fixed = CliRunner().invoke(cli, ["migrate", "plan", "--cap", "3"])
    assert fixed.exit_code == EXIT_KEPT and "1 finding(s)" in fixed.output  # the order is still wrong


def test_propose_refuses_a_cap_below_one() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        propose([], 0)


def test_candidates_of_one_risk_fill_waves_up_to_the_cap() -> None:
    from agentiam.inventory.model import Tier

    agents = [Candidate(f"a{i:02d}", "team", "reporting", Tier.LOW, True, (), None, True, f"a{i}.yaml")
              for i in range(10)]
    waves = propose(agents, 4)
    assert [len(w.agents) for w in waves] == [4, 4, 2]
    assert [c.agent for w in waves for c in w.agents] == sorted(c.agent for c in agents)
