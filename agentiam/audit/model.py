"""The agent-event record: one action of one agent (or one failed login aimed at one), whatever log it came from.

Every text field of a record is copied from a log line, and log lines are attacker-influenced: a request path, an
error message, a remote address or an S3 key are chosen, in part, by whoever sent the request. Records keep them as
data; writers show them through `agentiam.render.escape` only.
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass, field
from enum import Enum
from functools import lru_cache
from typing import Any


class Source(str, Enum):
    """Which log a record came from."""

    VAULT = "vault"
    AWS = "aws"


class Result(str, Enum):
    """What happened to the request."""

    ALLOWED = "allowed"
    DENIED = "denied"  # refused by policy (Vault `permission denied`, AWS AccessDenied), or a login refused
    ERROR = "error"  # failed for another reason (not found, throttled, a server error, no response logged)


class Category(str, Enum):
    """What kind of action: logging in, or using what a login gave."""

    AUTHENTICATION = "authentication"  # a login, or minting the agent's working token
    ACCESS = "access"  # a request made with the agent's token or role session
    CREDENTIALS = "credentials"  # STS credentials of the agent's role issued to its secrets engine


class Recognised(str, Enum):
    """How the record was tied to its agent (strongest first). The names come from the identity plan."""

    ENTITY = "entity"  # auth.entity_id is the agent's identity entity (audit ids file, or learnt from a login)
    ROLE = "role"  # the AppRole or cert role named on the token (auth.metadata) is the agent's identity name
    POLICY = "policy"  # the token carries the agent's own policy, which only its roles give
    TOKEN_ROLE = "token-role"  # the request path names the agent's token role (auth/token/create/<identity>)
    ROLE_ID_HASH = "role-id-hash"  # a login's HMAC'd role id is the HMAC of the agent's role id (sys/audit-hash)
    NAME_HASH = "name-hash"  # a certificate login's HMAC'd role name is the HMAC of the agent's identity name
    ROLE_ARN = "role-arn"  # CloudTrail: the session's issuer is the agent's IAM role (ARN with path and account)
    ASSUMED_ROLE = "assumed-role"  # CloudTrail: an AssumeRole call naming the agent's role
    NONE = "none"  # not tied to an agent (a failed login on an agent mount nobody's role id matches)


@dataclass(slots=True)
class AgentEvent:
    """One normalised action. `time` is seconds since the epoch (UTC); `lines` locate the original log lines
    (`file:line`, or `file:records[i]` in a CloudTrail file) and `ids` are the logs' own ids (Vault `request.id`,
    CloudTrail `eventID`)."""

    time: float
    source: Source
    category: Category
    action: str  # Vault operation (`read`, `update`...) or `service:Action` for AWS
    resource: str  # Vault request path, or the AWS resource ARN when the record names one ("" otherwise)
    result: Result
    agent: str | None
    environment: str | None
    identity: str | None  # agent-<env>-<name>
    recognised_by: Recognised
    remote_address: str = ""
    error: str = ""  # the log's error text, on one line, shortened
    lines: list[str] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)
    mount: str = ""  # Vault: the auth mount of a login (`auth/<mount>/login`); "" otherwise
    policies: tuple[str, ...] = ()  # Vault: the token's policies, as the audit line lists them

    def as_dict(self) -> dict[str, Any]:
        """The record as JSON data (`agentiam events` writes one per line)."""
        return {
            "time": format_time(self.time),
            "agent": self.agent,
            "environment": self.environment,
            "identity": self.identity,
            "source": self.source.value,
            "category": self.category.value,
            "action": self.action,
            "resource": self.resource,
            "result": self.result.value,
            "error": self.error or None,
            "remote_address": self.remote_address or None,
            "recognised_by": self.recognised_by.value,
            "ids": self.ids,
            "lines": self.lines,
        }


MAX_ERROR_CHARS = 300


def short_error(text: Any) -> str:
    """An error text on one line and at most MAX_ERROR_CHARS characters (Vault's multi-error format flattened)."""
    if not text:
        return ""
    parts = [part.strip().removeprefix("* ").strip() for part in str(text).splitlines()]
    flat = "; ".join(p for p in parts if p and not (p.endswith("occurred:") and p[:1].isdigit()))
    return flat if len(flat) <= MAX_ERROR_CHARS else flat[:MAX_ERROR_CHARS - 1] + "…"


@lru_cache(maxsize=4096)
def _day(date: str) -> float | None:
    """Seconds since the epoch of `YYYY-MM-DD` at midnight UTC, cached: a log's records share few dates."""
    if len(date) != 10 or date[4] != "-" or date[7] != "-" or not (date[:4] + date[5:7] + date[8:]).isdigit():
        return None
    try:
        return float(calendar.timegm(dt.date(int(date[:4]), int(date[5:7]), int(date[8:])).timetuple()))
    except ValueError:  # month 13, February 30th
        return None


def _second(head: str) -> float | None:
    """Seconds since the epoch of `YYYY-MM-DDTHH:MM:SS` (UTC)."""
    day = _day(head[:10])
    if day is None or len(head) != 19 or head[10] not in "Tt " or head[13] != ":" or head[16] != ":":
        return None
    hours, minutes, seconds = head[11:13], head[14:16], head[17:19]
    if not (hours + minutes + seconds).isdigit() or hours > "23" or minutes > "59" or seconds > "60":
        return None
    return day + int(hours) * 3600 + int(minutes) * 60 + int(seconds)


def parse_time(text: Any) -> float | None:
    """Seconds since the epoch of an RFC 3339 time (`2026-12-03T09:07:54.827796639Z`, `...+00:00`, `...Z` without
    fraction; Vault writes nanoseconds, which `datetime` does not take), or None if it is not one."""
    if type(text) is not str:
        return None
    base = _second(text[:19])
    if base is None:
        return None
    rest = text[19:]
    if rest == "Z":
        return base
    fraction = 0.0
    if rest[:1] == ".":
        body = rest[1:]
        count = len(body) - len(body.lstrip("0123456789"))
        if count == 0:
            return None
        fraction = int(body[:count]) / 10 ** count
        rest = body[count:]
    if rest in ("Z", "z", "+00:00", "-00:00"):
        return base + fraction
    if len(rest) == 6 and rest[0] in "+-" and rest[3] == ":" and rest[1:3].isdigit() and rest[4:].isdigit():
        offset = int(rest[1:3]) * 3600 + int(rest[4:6]) * 60
        return base + fraction - offset if rest[0] == "+" else base + fraction + offset
    return None


def format_time(seconds: float) -> str:
    """RFC 3339 UTC with microseconds when there are any: what every writer shows."""
    moment = dt.datetime.fromtimestamp(seconds, dt.timezone.utc)
    text = moment.isoformat(timespec="microseconds" if moment.microsecond else "seconds")
    return text.replace("+00:00", "Z")
