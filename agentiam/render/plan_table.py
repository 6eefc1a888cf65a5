"""The plan as terminal tables (rich)."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from agentiam.plan.model import IdentityPlan
from agentiam.render.escape import terminal
from agentiam.spec.types import format_duration


def _text(value: str) -> Text:
    """A value as rich `Text`, never markup (a `[...]` in an ARN is data, not a style to render or hide), with
    control and invisible characters as escapes (`escape.terminal`)."""
    return Text(terminal(value))


def _row(table: Table, *cells: str) -> None:
    table.add_row(*(_text(cell) for cell in cells))


def print_plan(plan: IdentityPlan, console: Console | None = None) -> None:
    """One summary table, then one permissions table per agent."""
    console = console or Console()
    summary = Table(title=_text(f"agentiam plan: {plan.environment} (account {plan.account_id}, {plan.region}) - "
                                f"{len(plan.agents)} agent(s)"))
    for column in ("agent", "function", "status", "owner", "IAM role", "token ttl/max", "AWS session", "expires"):
        summary.add_column(column)
    for agent in plan.agents:
        role = agent.vault.token_role  # the working token's lifetimes (the AppRole token only mints it)
        _row(summary, agent.agent, agent.function, agent.status, agent.owner_team, agent.aws.role_name,
                        f"{format_duration(role.token_period)}/{format_duration(role.token_explicit_max_ttl)}",
                        format_duration(agent.vault.aws_secret_role.max_sts_ttl) if agent.vault.aws_secret_role else "-",
                        agent.expires)
    console.print(summary)
    for agent in plan.agents:
        table = Table(title=_text(f"{agent.agent} ({agent.identity_name})"), title_justify="left", show_lines=False)
        table.add_column("system")
        table.add_column("grant")
        table.add_column("on")
        for statement in (agent.aws.inline_policy or {}).get("Statement", []):
            _row(table, "aws", ", ".join(statement["Action"]), "\n".join(statement["Resource"]))
        for role in agent.vault.database_roles:
            _row(table, "database", f"{role.access} (lease {format_duration(role.default_ttl)}, "
                                      f"max {format_duration(role.max_ttl)})", role.database)
        for endpoint in agent.egress.endpoints:
            rate = (f", {agent.egress.rate_limit_requests}/{format_duration(agent.egress.rate_limit_interval)}"
                    if agent.egress.rate_limit_requests else "")
            _row(table, "egress", f"https {endpoint['port']}{rate}", endpoint["host"])
        _row(table, "vault policy", agent.vault.policy_name, agent.vault.approle.mount)
        role = agent.vault.token_role
        _row(table, "vault token", f"working token (ttl {format_duration(role.token_period)}, max "
                                   f"{format_duration(role.token_explicit_max_ttl)})", f"auth/token/create/{role.name}")
        _row(table, "boundary", agent.aws.boundary_policy_name, "")
        console.print(table)
