"""AGT035-AGT037, AGT041: database grants name configured databases, KV paths stay in bounds and in the agent's own
folder (or one shared with it by name), CNs are pinned."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING

from agentiam.environment.model import EnvironmentConfig
from agentiam.findings import Finding, Severity
from agentiam.rules.base import FleetRule, Rule, SpecContext

if TYPE_CHECKING:  # agentiam.rules.fleet reads `kv_owner` from here
    from agentiam.rules.fleet import FleetMember

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


def kv_segments(path: str, agent: str) -> list[str]:
    """The path's segments with `{agent}` filled (`{env}` left as written: folders never differ by environment)."""
    body = path[:-2] if path.endswith("/*") else path
    return body.replace("{agent}", agent).split("/")


def kv_owner(path: str, agent: str, shared_by: str | None) -> str | None:
    """The agent whose folder `path` is in: KV paths are `<folder>/<agent>/...` (`{env}` segments aside, wherever
    they are), so the second segment, when it is
    this agent or `shared_by`; None otherwise. A fixed position, not "any segment": an agent named like a folder
    (`billing`) must not own `billing/*`, every other agent's secrets below it."""
    segments = [segment for segment in kv_segments(path, agent) if segment != "{env}"]  # `platform/{env}/{agent}`
    owner = segments[1] if len(segments) > 1 else None
    return owner if owner in (agent, shared_by) else None


def _check_kv_own_folder(rule: Rule, ctx: SpecContext) -> Iterator[Finding]:
    spec = ctx.loaded.spec
    for i, grant in enumerate(spec.permissions.kv):
        if kv_path_problem(grant.path) is not None:
            continue  # AGT036's: one mistake, one finding
        owner = kv_owner(grant.path, spec.name, grant.shared_by)
        if owner is None:
            whose = f"this agent's ({spec.name}) or {grant.shared_by}'s" if grant.shared_by else \
                f"this agent's own ({spec.name})"
            yield ctx.finding(rule, ("permissions", "kv", i, "path"),
                              f"{grant.path!r} is not in {whose} folder: KV paths are `<folder>/<agent>/...` "
                              "(`billing/{agent}/*`); another agent's secret needs `shared_by` and that agent's "
                              "`kv_shares`")
        elif grant.shared_by == spec.name:
            yield ctx.finding(rule, ("permissions", "kv", i, "shared_by"), "shared_by names this agent itself")
    for i, share in enumerate(spec.permissions.kv_shares):
        if kv_owner(share.path, spec.name, None) is None:
            yield ctx.finding(rule, ("permissions", "kv_shares", i, "path"),
                              f"{share.path!r} is not in this agent's own folder: an agent shares only its own "
                              "secrets (`<folder>/{agent}/...`)")


def _share_covers(share_path: str, path: str) -> bool:
    """Whether a shared path (`folder/*` or one secret) covers a granted path (one secret, or a folder below)."""
    if share_path.endswith("/*"):
        return (path[:-2] if path.endswith("/*") else path).startswith(share_path[:-1])
    return share_path == path


def _check_kv_shares(rule: FleetRule, members: list[FleetMember],
                     _environments: Mapping[str, EnvironmentConfig]) -> Iterator[Finding]:
    by_name = {member.name: member for member in members}
    for member in members:
        for i, path, owner_name, capabilities in member.kv_shared:
            owner = by_name.get(owner_name)
            if owner is None:
                yield member.finding(rule.id, ("permissions", "kv", i, "shared_by"),
                                     f"no agent named {owner_name!r} exists to share {path!r}", rule.severity)
                continue
            shares = [(share_path, share_capabilities) for share_path, agents, share_capabilities in owner.kv_shares
                      if member.name in agents and _share_covers(share_path.replace("{agent}", owner_name), path)]
            allowed = {c for _, share_capabilities in shares for c in share_capabilities}
            extra = sorted(set(capabilities) - allowed)
            if extra:
                shared = f"shares it with capabilities {', '.join(sorted(allowed))}" if shares else \
                    f"does not share it with {member.name}"
                yield member.finding(rule.id, ("permissions", "kv", i, "capabilities"),
                                     f"{path!r} is {owner_name}'s secret and {owner.file} {shared}; "
                                     f"{', '.join(extra)} not allowed", rule.severity)


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

KV_OWN_FOLDER = Rule(
    id="AGT037", severity=Severity.ERROR, title="KV grants stay in the agent's own folder unless shared by name",
    rationale="A reporting agent must not read the payment agent's API key: a KV path names its owning agent, and "
              "another agent's secret is reachable only if that agent's spec shares it by name (AGT045 checks it).",
    check=_check_kv_own_folder)

KV_SHARED_BY_OWNER = FleetRule(
    id="AGT045", severity=Severity.ERROR, title="A shared KV path is shared by its owner with this agent",
    rationale="The owner of a secret decides who else may read it, in its own reviewed spec.",
    check=_check_kv_shares)

PINNED_COMMON_NAME = Rule(
    id="AGT041", severity=Severity.ERROR, title="Certificate CN pinned",
    rationale="The cert-auth alias is the CN: an unpinned CN lets any certificate of the CA become this agent.",
    check=_check_pinned_common_name)
