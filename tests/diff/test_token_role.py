"""The token role and the login tokens' policies in the diff: every change shown, widenings labelled, never hidden."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from agentiam.diff.describe import Context, describe
from agentiam.plan.locate import Locator
from agentiam.diff.model import Change, Direction, EntryChange
from agentiam.plan.build import agent_plan
from agentiam.plan.model import AgentPlan
from agentiam.project import load_environments
from agentiam.spec.model import Status
from agentiam.spec.validate import load_spec_file
from tests.diff.conftest import FIXTURES, PROJECT, labels

CTX = Context(Locator(None, None), Locator(None, None), "dev", {})


@pytest.fixture(scope="module")
def before() -> AgentPlan:
    return agent_plan(load_spec_file(FIXTURES / "specs" / "billing" / "invoice-reader.yaml")[0],
                      load_environments(PROJECT / "stacks")["dev"])


def _vault(entry: AgentPlan, **update: Any) -> AgentPlan:
    return entry.model_copy(update={"vault": entry.vault.model_copy(update=update)})


def _role(entry: AgentPlan, **update: Any) -> AgentPlan:
    return _vault(entry, token_role=entry.vault.token_role.model_copy(update=update))


def _changes(before: AgentPlan, after: AgentPlan) -> dict[str, Change]:
    changes = describe(EntryChange("dev", before.agent, before, after), CTX)
    return {c.subject: c for c in changes}


def test_a_longer_working_token_is_a_labelled_lifetime_change(before: AgentPlan) -> None:
    role = before.vault.token_role
    after = _role(before, token_period=role.token_period * 8, token_explicit_max_ttl=role.token_explicit_max_ttl * 2)
    changes = _changes(before, after)
    assert set(changes) == {"token_ttl", "token_max_ttl"}
    ttl = changes["token_ttl"]
    assert (ttl.system, ttl.op, ttl.direction) == ("lifetime", "widened", Direction.WIDER)
    assert [(r.id, r.severity) for r in ttl.risks] == [("longer-lifetime", "high")]
    assert labels(changes["token_max_ttl"]) == {"longer-lifetime"}


def test_another_policy_or_identity_on_the_working_token_is_a_high_trust_change(before: AgentPlan) -> None:
    name = before.vault.token_role.name
    after = _role(before, allowed_policies=[*before.vault.token_role.allowed_policies, "ops-admin"],
                  entity_alias="agent-dev-payment-gateway-sync")
    changes = _changes(before, after)
    policy = changes[f"token role {name} allowed policy ops-admin"]
    assert (policy.system, policy.direction, policy.after) == ("vault", Direction.WIDER, "ops-admin")
    assert [(r.id, r.severity) for r in policy.risks] == [("trust-changed", "high")]
    alias = changes[f"token role {name} entity alias"]
    assert (alias.before, alias.after) == (name, "agent-dev-payment-gateway-sync")
    assert labels(alias) == {"trust-changed"}
    back = _changes(after, before)[f"token role {name} allowed policy ops-admin"]
    assert back.direction is Direction.NARROWER and not back.risks


def test_a_mint_policy_gaining_a_path_is_shown_and_labelled(before: AgentPlan) -> None:
    rules = dict(before.vault.mint_policy_rules)
    rules["auth/token/create-orphan"] = ["update"]
    changes = _changes(before, _vault(before, mint_policy_rules=rules))
    change = changes["AppRole mint token: auth/token/create-orphan"]
    assert (change.system, change.direction, change.after) == ("vault", Direction.WIDER, "update")
    assert labels(change) == {"access-escalation"}


def test_suspension_shows_what_the_login_tokens_lose(before: AgentPlan) -> None:
    loaded = load_spec_file(FIXTURES / "specs" / "billing" / "invoice-reader.yaml")[0]
    loaded = dataclasses.replace(loaded, spec=loaded.spec.model_copy(update={"status": Status.SUSPENDED}))
    changes = _changes(before, agent_plan(loaded, load_environments(PROJECT / "stacks")["dev"]))
    create = f"AppRole mint token: auth/token/create/{before.vault.token_role.name}"
    assert changes[create].direction is Direction.NARROWER and changes[create].after is None
    assert any(s.startswith("certificate token: auth/") and s.endswith("/secret-id") for s in changes)
    assert changes["status"].after == "suspended"


def test_a_token_role_field_no_handler_describes_still_shows(before: AgentPlan) -> None:
    changes = _changes(before, _role(before, orphan=False))
    change = changes["vault.token_role.orphan"]
    assert (change.system, change.before, change.after) == ("other", "true", "false")


# Derived, not described on their own: names from the identity, and the AppRole CIDRs from the same spec field
# (`authentication.bound_cidrs`) as the token role's, which the network handler describes.
DERIVED = {"token_role.name", "approle.token_policies", "approle.secret_id_bound_cidrs", "approle.token_bound_cidrs"}


def test_every_field_of_the_token_role_and_the_approle_shows_when_it_changes(before: AgentPlan) -> None:
    """Fails when a field is added that no handler shows (STYLE: a test worth more than a checklist)."""
    unseen = set()
    for field in ("token_role", "approle"):
        part = getattr(before.vault, field)
        for name, value in part.model_dump().items():
            other: Any = (not value if isinstance(value, bool) else value * 2 + 1 if isinstance(value, int) else
                          value + "-x" if isinstance(value, str) else [*value, "x"])
            after = _vault(before, **{field: part.model_copy(update={name: other})})
            if not describe(EntryChange("dev", before.agent, before, after), CTX):
                unseen.add(f"{field}.{name}")
    assert unseen == DERIVED
