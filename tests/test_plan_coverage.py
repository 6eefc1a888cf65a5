"""Every plan field is declared by every consumer (diff, text plan, components, revoke): a resource type cannot be
half-added. The exercise below adds a Vault PKI role to the plan model and shows what fails until each consumer
handles it."""

from __future__ import annotations

import typing
from typing import Any, Literal

import pytest
from pydantic import BaseModel, ConfigDict

from agentiam import revoke
from agentiam.diff import describe, platform
from agentiam.diff.describe import Context, describe as describe_entry
from agentiam.diff.model import EntryChange, System
from agentiam.plan import coverage
from agentiam.plan.build import agent_plan
from agentiam.plan.locate import Locator
from agentiam.plan.model import AgentPlan, IdentityPlan, PlatformPlan, VaultPlan
from agentiam.project import load_environments
from agentiam.render import plan_table
from agentiam.spec.validate import load_spec_file
from components import plan_coverage
from tests.diff.conftest import FIXTURES, PROJECT

CONSUMERS = {c.consumer: c for c in (describe.COVERAGE, platform.COVERAGE, plan_table.COVERAGE,
                                     plan_coverage.COVERAGE, revoke.COVERAGE)}


@pytest.mark.parametrize("consumer", sorted(CONSUMERS))
def test_every_plan_field_is_declared_by_every_consumer(consumer: str) -> None:
    assert coverage.missing(CONSUMERS[consumer]) == []


def test_the_consumers_together_reach_the_whole_plan() -> None:
    """The diff is declared in two halves (agent, environment); together with the others they reach every plan
    class, so no class escapes by sitting outside every consumer's root."""
    everything = set(coverage.plan_fields(IdentityPlan))
    for name in ("diff (agent)", "plan table", "components"):
        assert set(coverage.plan_fields(CONSUMERS[name].root)) <= everything
    assert set(coverage.plan_fields(AgentPlan)) | set(coverage.plan_fields(PlatformPlan)) | {IdentityPlan} \
        >= everything - {c for c in everything if c.__name__ == "DeployPlan"}


# ---------------------------------------------------------------------------------------------------------------
# The exercise: a Vault PKI role (certificates the agent may issue itself) added to the plan model.


class PkiRolePlan(BaseModel):
    """A PKI secrets engine role the agent may issue certificates from (`<mount>/issue/<name>`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    mount: str
    name: str
    allowed_domains: list[str]
    allow_subdomains: bool
    ttl: int
    max_ttl: int


class PkiVaultPlan(VaultPlan):
    pki_roles: list[PkiRolePlan]


class PkiAgentPlan(AgentPlan):
    vault: PkiVaultPlan


class PkiIdentityPlan(IdentityPlan):
    agents: list[PkiAgentPlan]  # type: ignore[assignment]


NEW = ["PkiRolePlan.allow_subdomains", "PkiRolePlan.allowed_domains", "PkiRolePlan.max_ttl", "PkiRolePlan.mount",
       "PkiRolePlan.name", "PkiRolePlan.ttl", "PkiVaultPlan.pki_roles"]
ROOTS: dict[type[BaseModel], type[BaseModel]] = {IdentityPlan: PkiIdentityPlan, AgentPlan: PkiAgentPlan}


@pytest.mark.parametrize("consumer", ["diff (agent)", "plan table", "components"])
def test_a_pki_role_added_to_the_plan_fails_every_field_consumer_until_it_handles_it(consumer: str) -> None:
    declared = CONSUMERS[consumer]
    assert coverage.missing(declared, ROOTS[declared.root]) == NEW
    handles = coverage.Coverage(declared.consumer, declared.root, {
        **declared.fields, PkiVaultPlan: {"pki_roles": coverage.handled("its own handler")},
        PkiRolePlan: coverage.each("mount name allowed_domains allow_subdomains ttl max_ttl",
                                   coverage.handled("its own handler"))})
    assert coverage.missing(handles, ROOTS[declared.root]) == []


def test_a_pki_role_fails_revoke_until_revocation_says_what_it_does_with_its_certificates() -> None:
    assert coverage.missing(revoke.COVERAGE, PkiAgentPlan) == NEW
    # Revoke declares whole classes: a PKI role issues certificates, so it needs a step (revoke the leases under
    # `<mount>/issue/<name>`, or tidy and revoke by serial), not just a field list.
    handles = coverage.Coverage("revoke", AgentPlan, {
        **revoke.COVERAGE.fields, PkiVaultPlan: {"pki_roles": coverage.handled("its own step")},
        PkiRolePlan: {coverage.EVERY_FIELD: coverage.handled("revoke leases on <mount>/issue/<name>/")}})
    assert coverage.missing(handles, PkiAgentPlan) == []


def test_a_declaration_of_a_field_the_plan_no_longer_has_is_reported() -> None:
    stale = coverage.Coverage("diff (agent)", AgentPlan, {
        **describe.COVERAGE.fields,
        VaultPlan: {**describe.COVERAGE.fields[VaultPlan], "policy": coverage.handled("gone")}})
    assert coverage.missing(stale) == ["stale: VaultPlan.policy"]


def test_a_declaration_needs_a_note() -> None:
    silent = coverage.Coverage("diff (agent)", AgentPlan, {
        **describe.COVERAGE.fields, VaultPlan: {**describe.COVERAGE.fields[VaultPlan],
                                                "kv_shares": coverage.not_needed(" ")}})
    assert coverage.missing(silent) == ["no note: VaultPlan.kv_shares"]


# ---------------------------------------------------------------------------------------------------------------
# The diff's declarations are what it does: a field it says it handles yields a described change, a field it
# shows generically yields an `other` change, whatever value it takes.


@pytest.fixture(scope="module")
def entry() -> AgentPlan:
    loaded = load_spec_file(FIXTURES / "specs" / "billing" / "invoice-reader.yaml")[0]
    return agent_plan(loaded, load_environments(PROJECT / "stacks")["dev"])


def _changed(value: Any, annotation: Any) -> Any:
    """Another valid value of a scalar or list-of-text field."""
    others = [v for v in typing.get_args(annotation) if v != value] if typing.get_origin(annotation) is Literal else []
    if others:
        return others[0]
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value * 2 + 60
    if isinstance(value, str):
        return "2099-12-31" if value[:2] == "20" else value + "-x"
    if isinstance(value, list) and typing.get_args(annotation) == (str,):
        return [*value, "10.99.0.0/16"]
    return None


def _with(model: BaseModel, path: list[str], value: Any) -> BaseModel:
    if len(path) == 1:
        return model.model_copy(update={path[0]: value})
    return model.model_copy(update={path[0]: _with(getattr(model, path[0]), path[1:], value)})


def _perturbable(entry: AgentPlan) -> list[tuple[str, coverage.Use, Any]]:
    out = []
    for (cls, name), (path, leaf) in coverage.field_paths(AgentPlan).items():
        use = coverage.declared(describe.COVERAGE, cls, name)
        node: Any = entry
        for part in path.split(".")[:-1]:
            node = getattr(node, part)
        if not leaf or node is None or use is None:
            continue
        value = _changed(getattr(node, name), cls.model_fields[name].annotation)
        if value is not None:
            out.append((path, use, value))
    return out


def test_every_scalar_field_the_diff_handles_or_shows_as_other_yields_a_change(entry: AgentPlan) -> None:
    cases = _perturbable(entry)
    assert len(cases) > 40  # the walk reached the plan's fields
    ctx = Context(Locator(None, None), Locator(None, None), "dev", {})
    wrong = []
    for path, use, value in cases:
        after = _with(entry, path.split("."), value)
        changes = describe_entry(EntryChange("dev", entry.agent, entry, after), ctx)
        generic = [c for c in changes if c.system is System.OTHER and c.subject.startswith(path)]
        if use.kind is coverage.Kind.HANDLED and len(changes) == len(generic):
            wrong.append(f"{path}: declared handled ({use.note}), no change described")
        if use.kind is coverage.Kind.OTHER and not generic:
            wrong.append(f"{path}: declared other, not shown")
        if use.kind in (coverage.Kind.HANDLED, coverage.Kind.DERIVED) and generic:
            wrong.append(f"{path}: declared {use.kind.value}, shown as other too")
    assert wrong == [], "\n".join(wrong)
