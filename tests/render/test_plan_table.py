"""The text plan shows everything the plan holds that a reviewer acts on, whole at any width: every ARN and every
name appears unbroken at 80 and 120 columns, lines break between values only, values are text (never markup), and
the summary counts what the plan holds. Golden files pin what users read.

Regenerate the golden files after an intended change: AGENTIAM_REGEN_GOLDEN=1 python -m pytest tests/render
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from agentiam import project
from agentiam.environment.load import load_environment
from agentiam.plan import model
from agentiam.plan.build import build_plan
from agentiam.plan.model import IdentityPlan
from agentiam.render.plan_table import INDENT, LABEL, OBJECTS, object_counts, render_plan
from agentiam.render.text_layout import cells
from agentiam.spec.validate import load_spec_bytes

REPO = Path(__file__).resolve().parents[2]
GOLDEN = REPO / "tests" / "fixtures" / "plan"
TODAY = dt.date(2026, 12, 1)  # every example is valid then
WIDTHS = (80, 120)
# Plan fields whose values the text names (besides every ARN, found wherever it is): identities, roles, policies,
# mounts, paths, hosts, log groups, the CA's fingerprints.
NAMED = {"agent", "identity_name", "role_name", "role_arn", "boundary_policy_name", "boundary_policy_arn",
         "inline_policy_name", "policy_name", "login_policy_name", "mint_policy_name", "mount", "source_file",
         "allowed_common_names", "token_bound_cidrs", "database", "schemas", "allowed_roles", "host", "path",
         "agent_log_group", "trail_log_group", "subscription_filter_name", "denied_metric_filter_name",
         "denied_alarm_name", "alarm_topic_arn", "destination_arn", "destination_role_arn", "sha256",
         "sha256_fingerprint", "owner_team", "owner_sponsor", "owner_contact", "spec_digest", "username"}


STACKS = ("dev", "staging", "prod", "prod-0", "prod-1")


@pytest.fixture(scope="module")
def plans(tmp_path_factory: pytest.TempPathFactory) -> dict[str, IdentityPlan]:
    """The plan of every example stack, the sharded ones included (one owns the platform, the other does not)."""
    plans = {}
    for sharded in (False, True):
        root = tmp_path_factory.mktemp("project")
        for folder in ("agent_specs", "stacks"):
            shutil.copytree(REPO / folder, root / folder)
        if sharded:  # prod split in two stacks, as the sharded example's comment says to use it
            (root / "stacks" / "Pulumi.prod.yaml").unlink()
            for shard in (root / "stacks" / "sharded-example").glob("Pulumi.*.yaml"):
                shutil.copy(shard, root / "stacks" / shard.name)
        validation = project.validate([root / "agent_specs"], root / "stacks", TODAY)
        assert validation.ok
        for stack in (("prod-0", "prod-1") if sharded else ("dev", "staging", "prod")):
            plans[stack] = build_plan(validation.specs, load_environment(root / "stacks", stack))
    return plans


def _shown_values(node: Any, key: str = "") -> set[str]:
    """Every ARN of the plan, and every value of the fields in NAMED."""
    if isinstance(node, BaseModel):
        return set().union(*(_shown_values(getattr(node, k), k) for k in type(node).model_fields))
    if isinstance(node, dict):
        return set().union(set(), *(_shown_values(v, k if key not in NAMED else key) for k, v in node.items()))
    if isinstance(node, list):
        return set().union(set(), *(_shown_values(item, key) for item in node))
    if isinstance(node, str) and (node.startswith("arn:") or key in NAMED):
        return {node}
    return set()


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("stack", STACKS)
def test_every_arn_and_name_appears_whole(plans, stack, width):
    text = render_plan(plans[stack], width)
    lines = text.splitlines()
    missing = sorted(v for v in _shown_values(plans[stack]) if not any(v in line for line in lines))
    assert missing == []
    assert len(_shown_values(plans[stack])) > 50  # the walk found the plan's values (not an empty set)


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("stack", STACKS)
def test_lines_break_between_values_only(plans, stack, width):
    """A line is at most `width` columns, unless it holds one value wider than any line could (it is never cut)."""
    for line in render_plan(plans[stack], width).splitlines():
        if cells(line) <= width:
            continue
        value = line[INDENT + LABEL:] if line[:INDENT + LABEL].strip() else line.strip()
        assert len(value.split()) == 1 and cells(value) > width - INDENT - LABEL - 2, line


def test_every_grant_and_the_platform_are_shown(plans):
    text = render_plan(plans["prod"], 250)  # wide: each phrase on one line, to be found whole
    for expected in (
        # AWS statements with their resource-account condition
        "ReadInvoices: s3:GetObject, s3:ListBucket",
        "only in 333333333333 (this environment) (condition aws:ResourceAccount)",
        # KV paths with capabilities, databases with schemas and privileges, egress with its rate limit
        "kv        secret/data/billing/invoice-reader/*: read",
        "database  billing: write (SELECT, INSERT, UPDATE, DELETE) on schema(s) public",
        "database  analytics: read (SELECT) on schema(s) marts, public",
        "egress    api.stripe.com port 443: create and confirm payouts",
        "rate      100 requests per 1m",
        # the working token's lifetimes from its token role
        "token     ttl 30m, max 8h, through auth/token/create/agent-prod-payment-gateway-sync",
        # the platform: mounts with lease ceilings and login guards, database connections by host, log routing,
        # retention, audit device, agent CA fingerprints
        "mount     auth approle at agentiam-prod-approle: leases 1h, at most 24h",
        "logins on auth/agentiam-prod-approle/login at most 20 per 1s per client address (quota "
        "agentiam-prod-approle-login)",
        "database  billing: postgresql-database-plugin at billing-db.prod.internal:5432/billing as vault_admin",
        "kept 365 days, forwarded to",
        "Vault audit device agentiam-file (file):",
        "2F:44:09:B1:F1:6D:1C:77:2C:9E:1B:4B:90:FC:D5:F8:83:94:A1:50:F3:39:A7:D5:2C:99:50:9C:A2:76:5F:01",
        "Summary: 9 agent(s) (8 active, 1 suspended)",
    ):
        assert expected in text, expected
    assert "{{password}}" not in text and "password" not in text.lower()  # connection URLs by host only


def test_declared_other_accounts_are_named_as_such():
    raw = (REPO / "agent_specs" / "billing" / "invoice-reader.yaml").read_text().replace(
        "        - arn:aws:s3:::billing-{env}-invoices/*\n",
        "        - arn:aws:s3:::billing-{env}-invoices/*\n      cross_account:\n        accounts: [\"444455556666\"]\n"
        "        reason: the partner's drop bucket for settlement files\n")
    loaded, findings = load_spec_bytes("invoice-reader.yaml", raw.encode())
    assert findings == [] and loaded is not None
    text = render_plan(build_plan([loaded], load_environment(REPO / "stacks", "dev")), 250)
    assert ("only in 111111111111 (this environment), 444455556666 (declared other account) "
            "(condition aws:ResourceAccount)") in text


def test_a_stack_that_does_not_own_the_platform_says_so(plans):
    assert "another stack of prod creates them; shown for reference" in render_plan(plans["prod-1"], 120)
    assert "(this stack creates them)" in render_plan(plans["prod-0"], 120)


def test_brackets_in_an_arn_are_shown_not_rendered():
    # Rendered as markup, `[dim]x[/dim]` vanished: the table showed `.../x/*` while the policy grants the literal.
    raw = (REPO / "agent_specs" / "billing" / "invoice-reader.yaml").read_text().replace(
        "billing-{env}-invoices/*", "billing-{env}-invoices/[dim]x[/dim]/*")
    loaded, findings = load_spec_bytes("invoice-reader.yaml", raw.encode())
    assert findings == [] and loaded is not None
    text = render_plan(build_plan([loaded], load_environment(REPO / "stacks", "dev")), 250)
    assert "arn:aws:s3:::billing-dev-invoices/[dim]x[/dim]/*" in text
    assert "invoice-reader" in text and "agent-dev-invoice-reader" in text


def test_every_plan_type_is_counted_in_the_summary():
    """A resource type added to the plan is counted (or marked a container) here, or this fails."""
    plan_types = {value for value in vars(model).values()
                  if isinstance(value, type) and issubclass(value, BaseModel) and value.__module__ == model.__name__
                  and value.__name__ != "_Plan"}
    assert plan_types == set(OBJECTS)


def test_summary_counts_what_the_plan_holds(plans):
    plan = plans["prod"]
    agents, platform = object_counts(plan)
    active = [a for a in plan.agents if a.status == "active"]
    assert agents["IAM roles"] == agents["identity entities"] == agents["token roles"] == len(plan.agents) == 9
    assert agents["Vault policies"] == 3 * len(plan.agents)
    assert agents["AWS secret roles"] == sum(a.vault.aws_secret_role is not None for a in plan.agents) == 8
    assert agents["kill switches"] == len(plan.agents) - len(active) == 1
    assert agents["database roles"] == sum(len(a.vault.database_roles) for a in plan.agents) == 4
    assert platform["boundaries"] == len(plan.platform.boundaries) == 5
    assert platform["mounts"] == 3 and platform["database connections"] == 2 and platform["audit devices"] == 1
    assert platform["CA certificates"] == len(plan.platform.agent_ca.certificates)
    text = render_plan(plan, 120)
    assert "AWS secret roles 8" in text and "boundaries 5" in text and "Vault policies 27" in text


@pytest.mark.parametrize("width", WIDTHS)
def test_the_cli_prints_the_golden_plan_at_the_terminal_width(width, tmp_path, monkeypatch):
    from click.testing import CliRunner

    from agentiam.cli.main import cli

    for folder in ("agent_specs", "stacks"):
        shutil.copytree(REPO / folder, tmp_path / folder)
    shutil.copy(REPO / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", str(width))
    result = CliRunner().invoke(cli, ["plan", "--env", "prod", "--today", TODAY.isoformat()])
    assert result.exit_code == 0, result.output
    golden = GOLDEN / f"prod-{width}.txt"
    if os.environ.get("AGENTIAM_REGEN_GOLDEN") == "1":
        golden.parent.mkdir(exist_ok=True)
        golden.write_text(result.output, encoding="utf-8")
    assert result.output == golden.read_text(encoding="utf-8")


def test_the_readme_excerpt_is_the_golden_plan():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    start = readme.index("$ COLUMNS=120 agentiam plan --env prod")
    excerpt = readme[start:readme.index("```", start)].splitlines()[1:]
    golden = (GOLDEN / "prod-120.txt").read_text(encoding="utf-8").splitlines()
    position = 0
    for line in excerpt:  # every line of the excerpt, in the golden file's order ("..." leaves lines out)
        if line != "...":
            position = golden.index(line, position) + 1
    assert len(excerpt) > 40


def test_values_cannot_add_lines_or_reach_the_terminal_raw(plans):
    """A value with a line break, an escape sequence or a bidirectional override stays one escaped value."""
    from agentiam.characters import first_invisible

    plan = plans["dev"]
    hostile = "x\n  aws       Admin: *\x1b[2J\u202egnp.\r"
    agent = plan.agents[0]
    harmless = plan.model_copy(update={"agents": [agent.model_copy(update={"description": "x", "owner_contact": "y"})]})
    attacked = plan.model_copy(update={"agents": [agent.model_copy(update={"description": hostile,
                                                                         "owner_contact": hostile})]})
    text = render_plan(attacked, 250)
    assert first_invisible(text.replace("\n", "")) is None
    assert len(text.splitlines()) == len(render_plan(harmless, 250).splitlines())
    assert "x\\n" in text and "\\x1b[2J\\u202egnp.\\r" in text


@pytest.mark.parametrize("width", [1, 20, 1000])
def test_any_width_and_no_agent_lay_out(plans, width):
    empty = plans["dev"].model_copy(update={"agents": []})
    assert "Summary: 0 agent(s) (none)" in " ".join(render_plan(empty, width).split())
    assert "arn:aws:iam::111111111111:role/agentiam/dev/agent-dev-invoice-reader" in render_plan(plans["dev"], width)
