"""The inventory is the plan, re-read: every entry's facts come from its plan entry; expired specs are listed, not
refused; any other invalid spec stops it; filters and orders; shards; shared secrets."""

from __future__ import annotations

import contextlib
import datetime as dt
import shutil
from pathlib import Path

import pytest

from agentiam import project
from agentiam.errors import ConfigError, SpecError
from agentiam.inventory.build import compile_inventory, environment_plans, select, sort_entries
from agentiam.inventory.model import Inventory, Tier
from tests.inventory.conftest import REPO, TODAY


def test_every_fact_comes_from_the_plan(bundled: Inventory) -> None:
    with contextlib.chdir(REPO):
        plan, _ = project.compile_plan("prod", Path("agent_specs"), Path("stacks"), TODAY)
    entries = {e.agent: e for e in bundled.entries if e.environment == "prod"}
    assert set(entries) == {a.agent for a in plan.agents}
    for agent in plan.agents:
        entry = entries[agent.agent]
        assert (entry.identity_name, entry.function, entry.status, entry.owner_team, entry.sponsor, entry.contact,
                entry.expires, entry.source_file, entry.spec_digest) == (
            agent.identity_name, agent.function, agent.status, agent.owner_team, agent.owner_sponsor,
            agent.owner_contact, agent.expires, agent.source_file, agent.spec_digest)
        creds = entry.credentials
        # The working token's lifetimes are its token role's (the AppRole token only mints it).
        assert (creds.token_ttl, creds.token_max_ttl, creds.secret_id_ttl, creds.secret_id_num_uses) == (
            agent.vault.token_role.token_period, agent.vault.token_role.token_explicit_max_ttl,
            agent.vault.approle.secret_id_ttl, agent.vault.approle.secret_id_num_uses)
        assert creds.aws_session_ttl == (agent.vault.aws_secret_role.max_sts_ttl if agent.vault.aws_secret_role
                                         else None)
        statements = (agent.aws.inline_policy or {}).get("Statement", [])
        assert [(g.sid, list(g.actions), list(g.resources)) for g in entry.aws] == [
            (s["Sid"], s["Action"], s["Resource"]) for s in statements]
        assert [(d.database, d.access, d.role) for d in entry.databases] == [
            (r.database, r.access, r.name) for r in agent.vault.database_roles]
        assert [(e.host, e.port) for e in entry.egress] == [(e["host"], e["port"]) for e in agent.egress.endpoints]
        assert entry.aws_usable is (agent.status == "active")
        assert entry.expires_in_days == (dt.date.fromisoformat(agent.expires) - TODAY).days


def test_kv_paths_and_their_owners(bundled: Inventory) -> None:
    entry = next(e for e in bundled.entries if (e.agent, e.environment) == ("incident-log-summariser", "dev"))
    assert [(v.path, v.capabilities, v.owner) for v in entry.vault] == [
        ("secret/data/sre/incident-log-summariser/*", ("read",), "incident-log-summariser"),
        ("secret/metadata/sre/incident-log-summariser/*", ("list",), "incident-log-summariser")]
    assert entry.deployed_in == ("dev", "prod", "staging")


def _copy_examples(tmp_path: Path) -> tuple[Path, Path]:
    specs, stacks = tmp_path / "agent_specs", tmp_path / "stacks"
    shutil.copytree(REPO / "agent_specs", specs)
    shutil.copytree(REPO / "stacks", stacks)
    return specs, stacks


def test_an_expired_spec_is_listed_as_expired_not_refused(tmp_path: Path) -> None:
    specs, stacks = _copy_examples(tmp_path)
    inventory, findings = compile_inventory(specs, stacks, ["prod"], dt.date(2027, 4, 15))
    assert {f.rule_id for f in findings} >= {"AGT004"}
    triage = next(e for e in inventory.entries if e.agent == "access-review-reporter")
    assert triage.expired and triage.expires_in_days == -15


def test_any_other_error_stops_the_inventory(tmp_path: Path) -> None:
    specs, stacks = _copy_examples(tmp_path)
    path = specs / "billing" / "invoice-reader.yaml"
    path.write_text(path.read_text().replace("token_max_ttl: 24h", "token_max_ttl: 48h"))
    with pytest.raises(SpecError) as caught:
        compile_inventory(specs, stacks, None, TODAY)
    assert [f.rule_id for f in caught.value.findings] == ["AGT010"]


def test_an_unknown_environment_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="no stack config for environment\\(s\\) qa"):
        compile_inventory(REPO / "agent_specs", REPO / "stacks", ["qa"], TODAY)


def test_filters_and_orders(bundled: Inventory) -> None:
    billing = select(bundled, teams=["billing-platform"], sort="agent")
    assert {e.owner_team for e in billing.entries} == {"billing-platform"}
    assert [e.agent for e in billing.entries] == sorted(e.agent for e in billing.entries)
    worst = select(bundled, min_tier="high")
    assert {e.blast.tier for e in worst.entries} == {Tier.HIGH}
    assert {(e.agent, e.environment) for e in worst.entries} == {
        ("payment-gateway-sync", "dev"), ("payment-gateway-sync", "staging"), ("payment-gateway-sync", "prod"),
        ("ticket-triage", "dev"), ("ticket-triage", "staging")}
    assert {e.agent for e in select(bundled, tiers=["none"]).entries} == {"ticket-triage", "kb-answer-retriever"}
    assert {e.function for e in select(bundled, functions=["monitoring"]).entries} == {"monitoring"}
    assert select(bundled, teams=["nobody"]).entries == ()
    by_tier = [e.blast.tier.rank for e in bundled.entries]
    assert by_tier == sorted(by_tier, reverse=True)
    assert [e.expires for e in sort_entries(bundled.entries, "expires")] == sorted(e.expires for e in bundled.entries)
    with pytest.raises(ConfigError, match="unknown sort key"):
        sort_entries(bundled.entries, "colour")


def test_a_sharded_environment_is_inventoried_whole_and_knows_each_agents_stack(tmp_path: Path) -> None:
    specs, stacks = _copy_examples(tmp_path)
    (stacks / "Pulumi.prod.yaml").unlink()
    for shard in (stacks / "sharded-example").glob("Pulumi.*.yaml"):
        shutil.copy(shard, stacks / shard.name)
    compiled = environment_plans(specs, stacks, ["prod"], TODAY)
    plan, _ = compiled.plan("prod")
    assert len(plan.agents) == 9
    assert set(compiled.stacks["prod"].values()) == {"prod-0", "prod-1"}
    assert set(compiled.stacks["prod"]) == {a.agent for a in plan.agents}
    assert compiled.platform_stacks == {"prod": "prod-0"}
