"""AGT010-AGT015: credential lifetime caps (field guide: tokens of at most 24 hours; STS: 15 minutes to 12 hours)."""

from __future__ import annotations

from collections.abc import Iterator

from agentiam.findings import Finding, Severity
from agentiam.plan.effective import effective
from agentiam.rules.base import Rule, SpecContext
from agentiam.plan.locate import credential_path, credential_values
from agentiam.spec.types import format_duration

DAY = 86400
STS_MAX = 12 * 3600  # docs/facts.md#aws-sts-sessions: AssumeRole sessions last 900 s up to MaxSessionDuration (1-12 h)
STS_MIN = 900
# docs/facts.md#aws-sts-sessions: role chaining caps sessions at 1 h (Vault's engine running on a role)
ROLE_CHAINING_MAX = 3600


def _check_token_max_ttl(rule: Rule, ctx: SpecContext) -> Iterator[Finding]:
    for path, value in credential_values(ctx.loaded.spec, "token_max_ttl"):
        if value > DAY:
            yield ctx.finding(rule, path, f"token_max_ttl {format_duration(value)} exceeds the 24h cap")


def _ordered_pair(rule: Rule, ctx: SpecContext, short: str, long: str) -> Iterator[Finding]:
    """`short` <= `long` in every environment, reported once per offending field."""
    spec = ctx.loaded.spec
    by_path: dict[tuple, list[str]] = {}
    values: dict[tuple, tuple[int, int]] = {}
    for env in spec.environments:
        creds = effective(spec, env).credentials
        low, high = getattr(creds, short), getattr(creds, long)
        if low > high:
            short_path, long_path = credential_path(spec, env, short), credential_path(spec, env, long)
            path = long_path if long_path[0] == "overrides" and short_path[0] != "overrides" else short_path
            by_path.setdefault(path, []).append(env)
            values[path] = (low, high)
    for path, envs in by_path.items():
        low, high = values[path]
        yield ctx.finding(rule, path, f"{short} {format_duration(low)} is longer than {long} "
                                      f"{format_duration(high)} in {', '.join(envs)}")


def _check_token_ttl_within_max(rule: Rule, ctx: SpecContext) -> Iterator[Finding]:
    yield from _ordered_pair(rule, ctx, "token_ttl", "token_max_ttl")


def _check_aws_session_ttl(rule: Rule, ctx: SpecContext) -> Iterator[Finding]:
    for path, value in credential_values(ctx.loaded.spec, "aws_session_ttl"):
        if value < STS_MIN:
            yield ctx.finding(rule, path, f"aws_session_ttl {format_duration(value)} is below the STS minimum of 15m")
        elif value > STS_MAX:
            yield ctx.finding(rule, path, f"aws_session_ttl {format_duration(value)} exceeds the STS cap of 12h "
                                          "(MaxSessionDuration)")


def _check_role_chaining(rule: Rule, ctx: SpecContext) -> Iterator[Finding]:
    spec = ctx.loaded.spec
    if not spec.permissions.aws:
        return
    by_path: dict[tuple, list[str]] = {}
    values: dict[tuple, int] = {}
    for config in ctx.deployed():
        if not engine_runs_on_a_role(config.aws_secrets_engine_principal_arn):
            continue
        ttl = effective(spec, config.name).credentials.aws_session_ttl
        if ttl > ROLE_CHAINING_MAX:
            path = credential_path(spec, config.name, "aws_session_ttl")
            by_path.setdefault(path, []).append(config.name)
            values[path] = ttl
    for path, envs in by_path.items():
        yield ctx.finding(rule, path, f"aws_session_ttl {format_duration(values[path])} exceeds 1h in "
                                      f"{', '.join(envs)}: Vault's AWS secrets engine runs as a role there, and STS "
                                      "caps chained role sessions at 1h")


def engine_runs_on_a_role(principal_arn: str) -> bool:
    """True when the secrets engine's own credentials are a role's: its AssumeRole calls are then role chaining."""
    return ":role/" in principal_arn or ":assumed-role/" in principal_arn


def _check_database_ttls(rule: Rule, ctx: SpecContext) -> Iterator[Finding]:
    for path, value in credential_values(ctx.loaded.spec, "database_max_ttl"):
        if value > DAY:
            yield ctx.finding(rule, path, f"database_max_ttl {format_duration(value)} exceeds the 24h cap")
    yield from _ordered_pair(rule, ctx, "database_ttl", "database_max_ttl")


def _check_secret_id_ttl(rule: Rule, ctx: SpecContext) -> Iterator[Finding]:
    for path, value in credential_values(ctx.loaded.spec, "secret_id_ttl"):
        if value > DAY:
            yield ctx.finding(rule, path, f"secret_id_ttl {format_duration(value)} exceeds the 24h cap")


TOKEN_MAX_TTL = Rule(
    id="AGT010", severity=Severity.ERROR, title="Token max TTL at most 24h",
    rationale="Agents get short-lived tokens of at most 24 hours (field guide: credential rotation).",
    check=_check_token_max_ttl)

TOKEN_TTL_WITHIN_MAX = Rule(
    id="AGT011", severity=Severity.ERROR, title="Token TTL within token max TTL",
    rationale="Vault silently caps a TTL above the max TTL; the spec must say what will really happen.",
    check=_check_token_ttl_within_max)

AWS_SESSION_TTL = Rule(
    id="AGT012", severity=Severity.ERROR, title="AWS session TTL between 15m and 12h",
    rationale="STS issues AssumeRole sessions of 900 s up to 12 h; anything else fails at credential time.",
    check=_check_aws_session_ttl)

ROLE_CHAINING = Rule(
    id="AGT015", severity=Severity.ERROR, title="AWS session at most 1h where Vault's engine runs on a role",
    rationale="A role assuming a role is role chaining: STS caps those sessions at 1 hour, so a longer "
              "aws_session_ttl would fail every time the agent asks for AWS credentials.",
    check=_check_role_chaining)

DATABASE_TTLS = Rule(
    id="AGT013", severity=Severity.ERROR, title="Database TTLs: default within max, max at most 24h",
    rationale="Dynamic database users live at most 24 hours; a default above the max would be silently capped.",
    check=_check_database_ttls)

SECRET_ID_TTL = Rule(
    id="AGT014", severity=Severity.ERROR, title="Secret id TTL at most 24h",
    rationale="The secret id is the second factor; a long-lived one is a standing credential (0 = never expires "
              "is refused by the schema).",
    check=_check_secret_id_ttl)
