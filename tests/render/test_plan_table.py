"""The plan table shows exactly what the plan holds: values are text, never rich markup."""

from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console

from agentiam.environment.load import load_environment
from agentiam.plan.build import build_plan
from agentiam.render.plan_table import print_plan
from agentiam.spec.validate import load_spec_bytes

REPO = Path(__file__).resolve().parents[2]


def test_brackets_in_an_arn_are_shown_not_rendered():
    # Rendered as markup, `[dim]x[/dim]` vanished: the table showed `.../x/*` while the policy grants the literal.
    raw = (REPO / "agent_specs" / "billing" / "invoice-reader.yaml").read_text().replace(
        "billing-{env}-invoices/*", "billing-{env}-invoices/[dim]x[/dim]/*")
    loaded, findings = load_spec_bytes("invoice-reader.yaml", raw.encode())
    assert findings == [] and loaded is not None
    out = io.StringIO()
    print_plan(build_plan([loaded], load_environment(REPO / "stacks", "dev")), Console(file=out, width=250))
    assert "arn:aws:s3:::billing-dev-invoices/[dim]x[/dim]/*" in out.getvalue()
    assert "invoice-reader" in out.getvalue() and "agent-dev-invoice-reader" in out.getvalue()


def test_the_working_tokens_lifetimes_and_token_role_are_shown():
    """The AppRole token only mints the working token: the table shows the token role's period and max."""
    raw = (REPO / "agent_specs" / "billing" / "invoice-reader.yaml").read_bytes()
    loaded, _ = load_spec_bytes("invoice-reader.yaml", raw)
    plan = build_plan([loaded], load_environment(REPO / "stacks", "dev"))
    role = plan.agents[0].vault.token_role
    assert (role.token_period, role.token_explicit_max_ttl) == (3600, 86400)  # the spec's 1h / 24h
    out = io.StringIO()
    print_plan(plan, Console(file=out, width=250))
    lines = out.getvalue().splitlines()
    assert any("invoice-reader" in line and "1h/24h" in line for line in lines)
    assert any("vault token" in line and "working token (ttl 1h, max 24h)" in line
               and "auth/token/create/agent-dev-invoice-reader" in line for line in lines)
