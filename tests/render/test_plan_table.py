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
