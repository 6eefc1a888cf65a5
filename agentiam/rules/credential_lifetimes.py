"""AGT010-AGT013: credential lifetime caps (field guide: tokens of at most 24 hours; STS: at most 12 hours)."""

from __future__ import annotations

from collections.abc import Iterator

from agentiam.findings import Finding, Severity
from agentiam.plan.effective import effective
from agentiam.rules.base import Rule, SpecContext
from agentiam.spec.types import format_duration

DAY = 86400
STS_MAX = 12 * 3600  # FACTS.md: MaxSessionDuration 1-12 h
STS_MIN = 900


def _credential_fields(ctx: SpecContext, field: str) -> Iterator[tuple[tuple, int]]:
    """(path, value) of `credentials.<field>` and of each environment override that sets it."""
    spec = ctx.loaded.spec
    yield ("credentials", field), getattr(spec.credentials, field)
    for env, override in spec.overrides.items():
        if override.credentials is not None and getattr(override.credentials, field) is not None:
            yield ("overrides", env, "credentials", field), getattr(override.credentials, field)


def _check_token_max_ttl(rule: Rule, ctx: SpecContext) -> Iterator[Finding]:
    for path, value in _credential_fields(ctx, "token_max_ttl"):
        if value > DAY:
            yield ctx.finding(rule, path, f"token_max_ttl {format_duration(value)} exceeds the 24h cap")


def _check_token_ttl_within_max(rule: Rule, ctx: SpecContext) -> Iterator[Finding]:
    spec = ctx.loaded.spec
    for env in spec.environments:
        creds = effective(spec, env).credentials
        if creds.token_ttl > creds.token_max_ttl:
            path = ("overrides", env, "credentials", "token_ttl") if env in spec.overrides else ("credentials", "token_ttl")
            yield ctx.finding(rule, path, f"token_ttl {format_duration(creds.token_ttl)} is longer than token_max_ttl "
                                          f"{format_duration(creds.token_max_ttl)} in {env}")


TOKEN_MAX_TTL = Rule(
    id="AGT010", severity=Severity.ERROR, title="Token max TTL at most 24h",
    rationale="Agents get short-lived tokens of at most 24 hours (field guide: credential rotation).",
    check=_check_token_max_ttl)

TOKEN_TTL_WITHIN_MAX = Rule(
    id="AGT011", severity=Severity.ERROR, title="Token TTL within token max TTL",
    rationale="Vault silently caps a TTL above the max TTL; the spec must say what will really happen.",
    check=_check_token_ttl_within_max)
