"""Deterministic names of everything an agent owns; one place, so no consumer invents its own."""

from __future__ import annotations

import hashlib
import unicodedata


def identity_name(agent: str, environment: str) -> str:
    """`agent-<env>-<name>`: IAM role, Vault policy, AppRole role, cert role, entity (<= 64 chars, FACTS.md)."""
    return f"agent-{environment}-{agent}"


def role_path(environment: str) -> str:
    """IAM path grouping every agent role of an environment."""
    return f"/agentiam/{environment}/"


def role_arn(account_id: str, agent: str, environment: str) -> str:
    return f"arn:aws:iam::{account_id}:role{role_path(environment)}{identity_name(agent, environment)}"


def boundary_policy_name(environment: str, function: str) -> str:
    return f"agentiam-{environment}-boundary-{function}"


def boundary_policy_arn(account_id: str, environment: str, function: str) -> str:
    return f"arn:aws:iam::{account_id}:policy{role_path(environment)}{boundary_policy_name(environment, function)}"


def login_policy_name(agent: str, environment: str) -> str:
    return f"{identity_name(agent, environment)}-login"


def mint_policy_name(agent: str, environment: str) -> str:
    """The AppRole token's policy: it may only create the agent's working token through its token role."""
    return f"{identity_name(agent, environment)}-mint"


def token_role_name(agent: str, environment: str) -> str:
    """The token role minting the agent's working tokens, and the name of its entity alias on the token mount."""
    return identity_name(agent, environment)


def token_lease_prefix(role: str) -> str:
    """Where Vault files the leases of every token a token role created: `sys/leases/revoke-prefix` of it revokes
    exactly that role's tokens (the trailing slash keeps `agent-dev-x` from matching `agent-dev-x-two`)."""
    return f"auth/token/create/{role}/"


def database_role_name(agent: str, environment: str, database: str, access: str) -> str:
    return f"{identity_name(agent, environment)}-{database}-{access}"


def default_common_name(agent: str, environment: str) -> str:
    return f"{agent}.{environment}.agents.internal"


def shard_of(agent: str, shard_count: int) -> int:
    """Stable shard of an agent: the same name always lands in the same stack, whatever else changes."""
    return int.from_bytes(hashlib.sha256(agent.encode()).digest()[:8], "big") % shard_count


# Vault's built-in token auth mount: token roles live under it, and the working token's entity alias hangs on it.
TOKEN_MOUNT = "token"
KILL_SWITCH_POLICY_NAME = "agentiam-kill-switch"
INLINE_POLICY_NAME = "agentiam-least-privilege"


# IAM (and CloudWatch) tag values: Unicode letters, numbers and spaces and `_ . : / = + - @`, at most 256
# characters (IAM user guide, "Tagging IAM resources"); a sponsor address may hold a `%`, which CreateRole refuses.
IAM_TAG_VALUE_MAX = 256
_TAG_PUNCTUATION = frozenset("_.:/+-@")
_TAG_ESCAPE = "="


def iam_tag_value(text: str) -> str:
    """`text` as an IAM tag value: every other character (and `=` itself) as `=XX` per UTF-8 byte, reversible.

    Too long once escaped: cut, then `=` and 16 hex digits of the original's SHA-256, so distinct values stay
    distinct and the value still starts with what a reader searches for."""
    out = []
    for char in text:
        if char != _TAG_ESCAPE and (char in _TAG_PUNCTUATION or unicodedata.category(char)[0] in "LNZ"):
            out.append(char)
        else:
            out.append("".join(f"{_TAG_ESCAPE}{byte:02X}" for byte in char.encode("utf-8")))
    value = "".join(out)
    if len(value) <= IAM_TAG_VALUE_MAX:
        return value
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
    cut = value[:IAM_TAG_VALUE_MAX - len(digest) - 1]
    cut = cut[:cut.rfind(_TAG_ESCAPE)] if _TAG_ESCAPE in cut[-2:] else cut  # never half an escape
    return f"{cut}{_TAG_ESCAPE}{digest}"
