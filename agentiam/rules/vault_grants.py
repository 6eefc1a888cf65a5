"""AGT035, AGT036, AGT041: database grants name configured databases, KV paths stay in bounds, CNs are pinned."""

from __future__ import annotations

import re
from collections.abc import Iterator

from agentiam.findings import Finding, Severity
from agentiam.rules.base import Rule, SpecContext

_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
KV_PLACEHOLDERS = frozenset({"env", "agent"})


def _check_databases_configured(rule: Rule, ctx: SpecContext) -> Iterator[Finding]:
    spec = ctx.loaded.spec
    for i, grant in enumerate(spec.permissions.databases):
        missing = []
        for config in ctx.deployed():
            if grant.database not in config.databases:
                missing.append(f"{config.name} (has: {', '.join(sorted(config.databases)) or 'none'})")
        if missing:
            yield ctx.finding(rule, ("permissions", "databases", i, "database"),
                              f"database {grant.database!r} is not configured in {'; '.join(missing)}")


def kv_path_problem(path: str) -> str | None:
    """Why a KV grant path could reach outside its folder, or None."""
    body = path[:-2] if path.endswith("/*") else path
    if path == "*" or body in ("", "*"):
        return "a bare wildcard grants the whole KV mount"
    segments = body.split("/")
    if any(s in (".", "..") for s in segments):
        return "'.' and '..' segments are refused: the grant must say where it points"
    if any(s == "" for s in segments):
        return "empty path segment ('//' or a leading/trailing '/')"
    if "*" in body:
        return "a wildcard is allowed only as a trailing /* segment"
    unknown = sorted(set(_PLACEHOLDER.findall(body)) - KV_PLACEHOLDERS)
    if unknown:
        names = ", ".join("{" + u + "}" for u in unknown)
        return f"unknown placeholder(s) {names}; KV paths may use {{env}} and {{agent}}"
    if _PLACEHOLDER.sub("", body).count("{") or _PLACEHOLDER.sub("", body).count("}"):
        return "unbalanced braces"
    return None


def _check_kv_paths(rule: Rule, ctx: SpecContext) -> Iterator[Finding]:
    for i, grant in enumerate(ctx.loaded.spec.permissions.kv):
        problem = kv_path_problem(grant.path)
        if problem:
            yield ctx.finding(rule, ("permissions", "kv", i, "path"), f"{grant.path!r}: {problem}")


def _check_pinned_common_name(rule: Rule, ctx: SpecContext) -> Iterator[Finding]:
    common_name = ctx.loaded.spec.authentication.certificate_common_name
    if common_name is not None and "*" in common_name:
        yield ctx.finding(rule, ("authentication", "certificate_common_name"),
                          f"{common_name!r}: a wildcard CN lets any certificate of the CA log in as this agent; "
                          "pin the exact name")


DATABASES_CONFIGURED = Rule(
    id="AGT035", severity=Severity.ERROR, title="Database grants name a database configured in every environment",
    rationale="A grant for a database an environment does not have cannot be provisioned there.",
    check=_check_databases_configured)

KV_PATH_HYGIENE = Rule(
    id="AGT036", severity=Severity.ERROR, title="KV paths stay within their folder",
    rationale="No bare `*`, no `..`, no empty segments: a KV grant must read as exactly what it reaches.",
    check=_check_kv_paths)

PINNED_COMMON_NAME = Rule(
    id="AGT041", severity=Severity.ERROR, title="Certificate CN pinned",
    rationale="The cert-auth alias is the CN: an unpinned CN lets any certificate of the CA become this agent.",
    check=_check_pinned_common_name)
