"""One agent x environment compared: two plan entries in, changes keyed by natural key out. Pure: no git, no files.

Each change is keyed by what it is about (an action, a resource, a Vault path, a database, a lifetime), never by
list position, and carries its risk labels and the spec line causing it (`agentiam.plan.locate.Locator`).
`compare_agent` is the whole per-agent diff; the handlers below each describe one part of the plan entry, and
`COVERED` lists the plan fields they read, so a field no handler reads still shows (as `other`), and a new plan
field is not forgotten (tests/test_plan_coverage.py).
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from agentiam.diff import platform, risk
from agentiam.diff.migration import migration_changes
from agentiam.diff.model import AgentDiff, Change, Direction, EntryChange, Op, RiskLabel, System
from agentiam.findings import Finding
from agentiam.iam import catalogue
from agentiam.iam.arn import Breadth, breadth
from agentiam.plan.boundary import NO_EXPORT_CLASSES
from agentiam.plan.locate import Locator
from agentiam.plan import coverage
from agentiam.plan.coverage import derived, each, handled, other
from agentiam.plan.model import (AgentPlan, AppRolePlan, AwsRolePlan, AwsSecretRolePlan, CertRolePlan,
                                 DatabaseRolePlan, EgressPlan, EntityPlan, KvSharePlan, LegacyCredentialPlan,
                                 MigrationPlan, RateLimitPlan, TokenRolePlan, VaultPlan)
from agentiam.spec.model import STATUS_ORDER
from agentiam.spec.types import format_duration

_CAPABILITY_RANK = {"deny": -1, "list": 0, "read": 1, "create": 2, "update": 2, "patch": 2, "delete": 3, "sudo": 4}


@dataclass
class Context:
    """What describing one entry needs besides the two plan entries."""

    head: Locator
    base: Locator
    environment: str
    accounts: dict[str, str]  # every known environment -> account id (crossing environments)
    now: dt.datetime | None = None  # the review's time, for when revoke-legacy may act (None: the clock's)


def _aws_grants(entry: AgentPlan | None) -> dict[str, tuple[str, set[str]]]:
    """lower-case action -> (action as written, resources): natural keys, statement and order free.

    A statement allowed to reach other accounts (`cross_account`) names them with each resource,
    `arn:aws:s3:::drop/* (also in account 999999999999)`: the same ARN in another account is another grant.
    """
    grants: dict[str, tuple[str, set[str]]] = {}
    own = entry.aws.role_arn.split(":")[4] if entry else ""
    for statement in entry.aws.statements() if entry else []:
        others = sorted(set(statement.resource_accounts or (own,)) - {own})
        suffix = f" (also in account {', '.join(others)})" if others else ""
        for action in statement.actions:
            _, resources = grants.setdefault(action.lower(), (action, set()))
            resources.update(f"{r}{suffix}" for r in statement.resources)
    return grants


def _levels_by_resource(grants: dict[str, tuple[str, set[str]]]) -> dict[str, set[str]]:
    levels: dict[str, set[str]] = {}
    for action, resources in grants.values():
        reached = catalogue.access_levels(action)
        for resource in resources:
            levels.setdefault(resource, set()).update(reached)
    return levels


def _covers(wide: str, narrow: str) -> bool:
    """IAM resource matching: `*` and `?` in `wide` (case-sensitive, as IAM compares ARNs)."""
    return wide != narrow and fnmatch.fnmatchcase(narrow, wide)


def _resource_risks(resources: Iterable[str], before_levels: Mapping[str, set[str]], ctx: Context,
                    after_levels: Iterable[str]) -> list[RiskLabel]:
    """Wildcards, other environments, and a higher access level on resources the agent already reached."""
    labels: list[RiskLabel | None] = []
    escalated: dict[tuple[str | None, str | None], list[str]] = {}
    top = risk.top_level(after_levels)
    for resource in sorted(resources):
        labels += [risk.wildcard_resource(resource), risk.cross_environment(resource, ctx.environment, ctx.accounts),
                   risk.foreign_account(resource, ctx.accounts.get(ctx.environment, ""), ctx.accounts)]
        previous = risk.top_level(before_levels.get(resource, ()))
        if risk.access_escalation(resource, previous, top) is not None:
            escalated.setdefault((previous, top), []).append(resource)
    for (previous, now), names in sorted(escalated.items(), key=str):
        labels.append(risk.access_escalation(", ".join(names), previous, now))
    return [label for label in labels if label is not None]


def _aws_changes(before: AgentPlan | None, after: AgentPlan | None, ctx: Context) -> list[Change]:
    old, new = _aws_grants(before), _aws_grants(after)
    old_levels = _levels_by_resource(old)
    reached = {info.name for action, _ in new.values() for info in catalogue.expand(action)}
    changes: list[Change] = []
    for key in sorted(set(new) - set(old)):
        action, resources = new[key]
        concrete = catalogue.expand(action)
        levels = risk.ordered_levels(level for i in concrete for level in i.access_levels)
        labels: list[RiskLabel | None] = [*risk.action_risks(concrete, reached, _widest(resources))]
        labels.append(risk.wildcard_action(action, len(concrete)))
        labels.extend(_resource_risks(resources, old_levels, ctx, levels))
        changes.append(Change(System.AWS, Op.ADDED, action, Direction.WIDER, access_level=", ".join(levels),
                              resources=tuple(sorted(resources)), risks=_unique(labels),
                              expands_to=tuple(i.name for i in concrete) if action != _name(concrete) else (),
                              **ctx.head.aws(action)))
    for key in sorted(set(old) - set(new)):
        action, resources = old[key]
        levels = risk.ordered_levels(catalogue.access_levels(action))
        wider = sorted(a for a, rs in new.values() if resources <= rs and _subsumes(a, action))
        if wider:  # `s3:GetObject` replaced by `s3:Get*` on the same resources: not a removal of power
            changes.append(Change(System.AWS, Op.SUBSUMED, action, Direction.NEUTRAL, after=", ".join(wider),
                                  access_level=", ".join(levels), resources=tuple(sorted(resources)),
                                  **ctx.base.aws(action)))
            continue
        changes.append(Change(System.AWS, Op.REMOVED, action, Direction.NARROWER, access_level=", ".join(levels),
                              resources=tuple(sorted(resources)), **ctx.base.aws(action)))
    for key in sorted(set(old) & set(new)):
        action, old_resources = old[key]
        _, new_resources = new[key]
        changes.extend(_resource_changes(action, old_resources, new_resources, old_levels, reached, ctx))
    return changes


def _widest(resources: Iterable[str]) -> Breadth:
    return max((breadth(r) for r in resources), default=Breadth.EXACT)


def _subsumes(wide: str, narrow: str) -> bool:
    """Whether every action `narrow` reaches is also reached by `wide`."""
    reached = {i.name for i in catalogue.expand(wide)}
    return bool(reached) and {i.name for i in catalogue.expand(narrow)} <= reached


def _name(concrete: list[catalogue.ActionInfo]) -> str | None:
    return concrete[0].name if len(concrete) == 1 else None


def _resource_changes(action: str, old: set[str], new: set[str], old_levels: Mapping[str, set[str]],
                      reached: set[str], ctx: Context) -> list[Change]:
    """Resources of an action granted on both sides: widened / narrowed scope, or resources added / removed."""
    added, removed = sorted(new - old), sorted(old - new)
    concrete = catalogue.expand(action)
    levels = risk.ordered_levels(level for i in concrete for level in i.access_levels)
    changes: list[Change] = []
    paired: set[str] = set()
    for resource in added:
        covered = [r for r in removed if _covers(resource, r)]
        labels = _resource_risks([resource], old_levels, ctx, levels)
        labels.extend(risk.action_risks(concrete, reached, breadth(resource)))
        if covered:
            paired.update(covered)
            changes.append(Change(System.AWS, Op.WIDENED, action, Direction.WIDER, before=", ".join(covered),
                                  after=resource, access_level=", ".join(levels), resources=(resource,),
                                  risks=_unique(labels), **ctx.head.resource(action, resource)))
            continue
        wider = [r for r in removed if _covers(r, resource)]
        if wider:
            paired.update(wider)
            changes.append(Change(System.AWS, Op.NARROWED, action, Direction.NARROWER, before=", ".join(wider),
                                  after=resource, access_level=", ".join(levels), resources=(resource,),
                                  **ctx.head.resource(action, resource)))
            continue
        changes.append(Change(System.AWS, Op.ADDED, action, Direction.WIDER, access_level=", ".join(levels),
                              resources=(resource,), risks=_unique(labels), **ctx.head.resource(action, resource)))
    for resource in removed:
        if resource not in paired:
            changes.append(Change(System.AWS, Op.REMOVED, action, Direction.NARROWER, access_level=", ".join(levels),
                                  resources=(resource,), **ctx.base.resource(action, resource)))
    return changes


_unique = risk.unique_labels


def _caps(caps: Iterable[str]) -> str:
    return ", ".join(sorted(caps))


def _vault_changes(before: AgentPlan | None, after: AgentPlan | None, ctx: Context) -> list[Change]:
    old = {path: frozenset(caps) for path, caps in before.vault.policy_rules.items()} if before else {}
    new = {path: frozenset(caps) for path, caps in after.vault.policy_rules.items()} if after else {}
    changes: list[Change] = []
    for path in sorted(set(old) | set(new)):
        was, now = old.get(path, frozenset()), new.get(path, frozenset())
        if was == now:
            continue
        where = ctx.head.kv(path) if now else ctx.base.kv(path)
        if not was:
            labels = [risk.cross_environment(path, ctx.environment, ctx.accounts)]
            changes.append(Change(System.VAULT, Op.ADDED, path, Direction.WIDER, after=_caps(now),
                                  risks=_unique(labels), **where))
        elif not now:
            changes.append(Change(System.VAULT, Op.REMOVED, path, Direction.NARROWER, before=_caps(was), **where))
        else:
            gained = now - was
            top_was = max(_CAPABILITY_RANK.get(c, 0) for c in was)
            labels = [risk.ACCESS_ESCALATION.label("medium", f"{_caps(was)} -> {_caps(now)} on {path}")
                      if any(_CAPABILITY_RANK.get(c, 0) > top_was for c in gained) else None]
            direction = Direction.WIDER if gained else Direction.NARROWER
            changes.append(Change(System.VAULT, Op.WIDENED if gained else Op.NARROWED, path, direction,
                                  before=_caps(was), after=_caps(now), risks=_unique(labels), **where))
    return changes


def _login_policy_changes(before: AgentPlan | None, after: AgentPlan | None) -> list[Change]:
    """The login tokens' policies (certificate token, AppRole mint token), path by path, for an agent on both sides.

    agentiam decides them from the identity and the status, not the spec: a change comes with a status change
    (described) or with agentiam's own code, and is shown either way. A new agent's are not listed: its status is."""
    if before is None or after is None:
        return []
    changes: list[Change] = []
    for label, field in (("certificate token", "login_policy_rules"), ("AppRole mint token", "mint_policy_rules")):
        old, new = getattr(before.vault, field), getattr(after.vault, field)
        for path in sorted(set(old) | set(new)):
            was, now = set(old.get(path, ())), set(new.get(path, ()))
            if was == now:
                continue
            gained = now - was
            labels = [risk.ACCESS_ESCALATION.label("medium", f"the {label} gains {_caps(gained)} on {path}")
                      if gained else None]
            changes.append(Change(System.VAULT, Op.WIDENED if gained else Op.NARROWED, f"{label}: {path}",
                                  Direction.WIDER if gained else Direction.NARROWER, before=_caps(was) or None,
                                  after=_caps(now) or None, risks=_unique(labels)))
    return changes


def _token_role_changes(before: AgentPlan | None, after: AgentPlan | None) -> list[Change]:
    """What the agent's token role may put on a working token: its policies and the entity alias (the identity
    every audit line and the kill switch rely on). Lifetimes and networks are described with the others."""
    if before is None or after is None:
        return []
    was, now = before.vault.token_role, after.vault.token_role
    changes: list[Change] = []
    for policy in sorted(set(now.allowed_policies) - set(was.allowed_policies)):
        changes.append(Change(System.VAULT, Op.ADDED, f"token role {now.name} allowed policy {policy}", Direction.WIDER,
                              after=policy, risks=(risk.TRUST_CHANGED.label(
                                  "high", f"the agent's login may mint tokens carrying policy {policy}"),)))
    for policy in sorted(set(was.allowed_policies) - set(now.allowed_policies)):
        changes.append(Change(System.VAULT, Op.REMOVED, f"token role {now.name} allowed policy {policy}",
                              Direction.NARROWER, before=policy))
    if was.entity_alias != now.entity_alias:
        changes.append(Change(System.VAULT, Op.CHANGED, f"token role {now.name} entity alias", Direction.WIDER,
                              before=was.entity_alias, after=now.entity_alias, risks=(risk.TRUST_CHANGED.label(
                                  "high", f"working tokens carry the identity of alias {now.entity_alias}: audit "
                                          "lines and the kill switch follow it"),)))
    return changes


def _share_changes(before: AgentPlan | None, after: AgentPlan | None, ctx: Context) -> list[Change]:
    """Secrets of the agent's own folder it lets other agents be granted, by (path, agent)."""
    def shares(entry: AgentPlan | None) -> dict[tuple[str, str], list[str]]:
        return {(s.path, agent): s.capabilities for s in (entry.vault.kv_shares if entry else []) for agent in s.agents}

    old, new = shares(before), shares(after)
    changes: list[Change] = []
    where = ctx.head.at(("permissions", "kv_shares"))
    for path, agent in sorted(set(old) | set(new)):
        was, now = old.get((path, agent)), new.get((path, agent))
        if was == now:
            continue
        subject = f"{path} shared with {agent}"
        if now is not None and (was is None or set(now) - set(was)):
            changes.append(Change(System.VAULT, Op.SHARED, subject, Direction.WIDER, before=_caps(was or []),
                                  after=_caps(now), risks=(risk.RESOURCE_EXPOSURE.label(
                                      "high", f"{agent} may be granted {_caps(now)} on this agent's secret"),),
                                  **where))
        else:
            changes.append(Change(System.VAULT, Op.UNSHARED if now is None else Op.NARROWED, subject,
                                  Direction.NARROWER, before=_caps(was or []), after=_caps(now) if now else None,
                                  **ctx.base.at(("permissions", "kv_shares"))))
    return changes


def _database_changes(before: AgentPlan | None, after: AgentPlan | None, ctx: Context) -> list[Change]:
    """Database grants by natural key (database, schema): the stack config's connection decides the schemas a grant
    reaches, so a schema added there widens every agent granted that database, and is shown on each of them."""
    def access(entry: AgentPlan | None) -> dict[tuple[str, str], str]:
        levels: dict[tuple[str, str], str] = {}
        for role in entry.vault.database_roles if entry else []:
            for schema in role.schemas:
                if levels.get((role.database, schema)) != "write":
                    levels[(role.database, schema)] = role.access
        return levels

    old, new = access(before), access(after)
    old_databases = {database for database, _ in old}
    changes: list[Change] = []
    for database, schema in sorted(set(old) | set(new)):
        key, subject = (database, schema), f"{database} (schema {schema})"
        was, now = old.get(key), new.get(key)
        if was == now:
            continue
        if was is None:
            labels: list[RiskLabel | None] = [risk.INFRASTRUCTURE_MODIFICATION.label("low", f"writes to {subject}")
                                              if now == "write" else None]
            if database in old_databases:  # the same grant now reaches another schema
                labels.append(risk.DATABASE_SCOPE.label("high", f"the {database} grant now reaches schema {schema} "
                                                                f"({now}), as does every agent granted {database}"))
            changes.append(Change(System.DATABASE, Op.ADDED, subject, Direction.WIDER, after=now, risks=_unique(labels),
                                  **ctx.head.database(database)))
        elif now is None:
            changes.append(Change(System.DATABASE, Op.REMOVED, subject, Direction.NARROWER, before=was,
                                  **ctx.base.database(database)))
        elif now == "write":
            label = risk.ACCESS_ESCALATION.label("medium", f"read -> write on {subject}")
            changes.append(Change(System.DATABASE, Op.WIDENED, subject, Direction.WIDER, before=was, after=now,
                                  risks=(label,), **ctx.head.database(database)))
        else:
            changes.append(Change(System.DATABASE, Op.NARROWED, subject, Direction.NARROWER, before=was, after=now,
                                  **ctx.head.database(database)))
    return changes


def _lifetimes(entry: AgentPlan | None) -> dict[str, tuple[int, str | None]]:
    """Lifetime name -> (seconds, spec field behind it, None for agentiam's own); only what exists for the entry.

    The working token's lifetimes are its token role's (period, explicit max); the AppRole token is the mint token,
    whose life the plan decides, not the spec."""
    if entry is None:
        return {}
    approle, role = entry.vault.approle, entry.vault.token_role
    values: dict[str, tuple[int, str | None]] = {
        "token_ttl": (role.token_period, "token_ttl"), "token_max_ttl": (role.token_explicit_max_ttl, "token_max_ttl"),
        "secret_id_ttl": (approle.secret_id_ttl, "secret_id_ttl"),
        "mint token ttl": (max(approle.token_ttl, approle.token_max_ttl, approle.token_explicit_max_ttl), None)}
    if entry.vault.aws_secret_role is not None:
        values["aws_session_ttl"] = (entry.vault.aws_secret_role.max_sts_ttl, "aws_session_ttl")
    for db_role in entry.vault.database_roles:
        values[f"database_ttl ({db_role.database})"] = (db_role.default_ttl, "database_ttl")
        values[f"database_max_ttl ({db_role.database})"] = (db_role.max_ttl, "database_max_ttl")
    return values


def _lifetime_changes(before: AgentPlan | None, after: AgentPlan | None, ctx: Context) -> list[Change]:
    if before is None or after is None:
        return []
    old, new = _lifetimes(before), _lifetimes(after)
    changes: list[Change] = []
    for name in sorted(set(old) & set(new)):
        (was, spec_field), (now, _) = old[name], new[name]
        if was == now:
            continue
        label = risk.longer_lifetime(name, was, now, format_duration(was), format_duration(now))
        where = ctx.head.credential(spec_field) if spec_field else {}
        changes.append(Change(System.LIFETIME, Op.WIDENED if now > was else Op.NARROWED, name,
                              Direction.WIDER if now > was else Direction.NARROWER, before=format_duration(was),
                              after=format_duration(now), risks=_unique([label]), **where))
    uses_was, uses_now = before.vault.approle.secret_id_num_uses, after.vault.approle.secret_id_num_uses
    if uses_was != uses_now:
        changes.append(Change(System.LIFETIME, Op.WIDENED if uses_now > uses_was else Op.NARROWED, "secret_id_num_uses",
                              Direction.WIDER if uses_now > uses_was else Direction.NARROWER, before=str(uses_was),
                              after=str(uses_now), **ctx.head.credential("secret_id_num_uses")))
    return changes


def _network_changes(before: AgentPlan | None, after: AgentPlan | None, ctx: Context) -> list[Change]:
    def endpoints(entry: AgentPlan | None) -> dict[str, dict[str, Any]]:
        return {f"{e['host']}:{e['port']}": e for e in (entry.egress.endpoints if entry else [])}

    old, new = endpoints(before), endpoints(after)
    changes: list[Change] = []
    for key in sorted(set(new) - set(old)):
        e = new[key]
        assert after is not None
        labels = [risk.new_egress(e["host"], e["port"], e["purpose"], after.egress.enforcement,
                                  after.egress.allow_list),
                  risk.cross_environment(e["host"], ctx.environment, ctx.accounts)]
        changes.append(Change(System.NETWORK, Op.ADDED, f"egress {key}", Direction.WIDER, after=e["purpose"],
                              risks=_unique(labels), **ctx.head.network("egress", e["host"])))
    for key in sorted(set(old) & set(new)):
        if old[key]["purpose"] != new[key]["purpose"]:
            changes.append(Change(System.NETWORK, Op.CHANGED, f"egress {key} purpose", Direction.NEUTRAL,
                                  before=old[key]["purpose"], after=new[key]["purpose"],
                                  **ctx.head.network("egress", new[key]["host"])))
    for key in sorted(set(old) - set(new)):
        changes.append(Change(System.NETWORK, Op.REMOVED, f"egress {key}", Direction.NARROWER,
                              before=old[key]["purpose"],
                              **ctx.base.network("egress", old[key]["host"])))
    if before is not None and after is not None:
        was = _rate(before)
        now = _rate(after)
        # An inactive agent has no quota because it cannot log in at all: its status change says so.
        if was != now and before.status == after.status == "active":
            direction = Direction.WIDER if _per_second(now) > _per_second(was) else Direction.NARROWER
            op = Op.WIDENED if direction is Direction.WIDER else Op.NARROWED
            changes.append(Change(System.NETWORK, op, "Vault login rate", direction, before=_rate_text(was),
                                  after=_rate_text(now), **ctx.head.network("vault_login_rate")))
        changes.extend(_enforcement_changes(before, after))
        changes.extend(_cidr_changes(before.vault.token_role.token_bound_cidrs,
                                     after.vault.token_role.token_bound_cidrs, ctx))
    return changes


def _rate(entry: AgentPlan) -> tuple[int, int] | None:
    """The agent's Vault login quota (requests, interval); None when it has none (suspended, or no quota)."""
    quota = entry.vault.rate_limit
    return None if quota is None else (int(quota.rate), quota.interval)


def _enforcement_changes(before: AgentPlan, after: AgentPlan) -> list[Change]:
    """What enforces the agent's egress (the environment's `egress` setting): losing the firewall makes every host
    reachable, as far as agentiam is concerned; the agent's hosts are what the reviewer weighs."""
    was, now = before.egress, after.egress
    if (was.enforcement, was.allow_list) == (now.enforcement, now.allow_list) or not now.endpoints:
        return []
    lost = now.enforcement == "none"
    hosts = ", ".join(e["host"] for e in now.endpoints)
    return [Change(System.NETWORK, Op.CHANGED, "egress enforcement", Direction.WIDER if lost else Direction.NARROWER,
                   before=risk.enforcement_text(was.enforcement, was.allow_list),
                   after=risk.enforcement_text(now.enforcement, now.allow_list),
                   risks=(risk.NEW_EGRESS.label("medium", f"{hosts}: no longer enforced by a Network Firewall "
                                                          "allow-list; the network team's own controls are all that "
                                                          "remain"),) if lost else ())]


def _per_second(rate: tuple[int, int] | None) -> float:
    return float("inf") if rate is None else rate[0] / rate[1]


def _rate_text(rate: tuple[int, int] | None) -> str:
    return "unlimited" if rate is None else f"{rate[0]}/{format_duration(rate[1])}"


def _cidr_changes(was: list[str], now: list[str], ctx: Context) -> list[Change]:
    """Bound CIDRs: an empty list means from anywhere, so dropping the last one widens."""
    if set(was) == set(now):
        return []
    wider = not now or (bool(was) and bool(set(now) - set(was)))
    where = ctx.head.at(("authentication", "bound_cidrs"))
    return [Change(System.NETWORK, Op.WIDENED if wider else Op.NARROWED, "login networks (bound_cidrs)",
                   Direction.WIDER if wider else Direction.NARROWER, before=", ".join(sorted(was)) or "anywhere",
                   after=", ".join(sorted(now)) or "anywhere", **where)]


def _identity_changes(before: AgentPlan | None, after: AgentPlan | None, ctx: Context) -> list[Change]:
    """Lifecycle, function class, owner and expiry."""
    if before is None and after is not None:
        return [Change(System.AGENT, Op.ADDED, after.agent, Direction.WIDER, after=after.status,
                       **ctx.head.at(("name",)))]
    if after is None or before is None:
        return [] if before is None else [Change(System.AGENT, Op.REMOVED, before.agent, Direction.NARROWER,
                                                 before=before.status, **ctx.base.at(("name",)))]
    changes: list[Change] = []
    if before.status != after.status:
        wider = STATUS_ORDER.index(after.status) < STATUS_ORDER.index(before.status)  # loosest first
        op = {"active": Op.REACTIVATED, "suspended": Op.SUSPENDED, "revoked": Op.REVOKED}[after.status]
        labels = [risk.REACTIVATED.label("high", f"{before.status} -> active lifts the kill switch: every "
                            "permission of the spec is restored at once")] if after.status == "active" else []
        changes.append(Change(System.AGENT, op, "status", Direction.WIDER if wider else Direction.NARROWER,
                              before=before.status, after=after.status, risks=tuple(labels), **ctx.head.status()))
    if before.function != after.function:
        was_fenced = before.function in {c.value for c in NO_EXPORT_CLASSES}
        now_fenced = after.function in {c.value for c in NO_EXPORT_CLASSES}
        direction = (Direction.WIDER if was_fenced and not now_fenced else
                     Direction.NARROWER if now_fenced and not was_fenced else Direction.NEUTRAL)
        changes.append(Change(System.FUNCTION, Op.CHANGED, "function class", direction, before=before.function,
                              after=after.function, **ctx.head.at(("function",))))
    for attr, label in (("owner_team", "owner team"), ("owner_sponsor", "sponsor"), ("owner_contact", "contact")):
        if getattr(before, attr) != getattr(after, attr):
            changes.append(Change(System.OWNER, Op.CHANGED, label, Direction.NEUTRAL, before=getattr(before, attr),
                                  after=getattr(after, attr), **ctx.head.at(("owner", attr.split("_", 1)[1]))))
    if before.expires != after.expires:
        later = after.expires > before.expires
        labels = [risk.LONGER_LIFETIME.label("low", f"identity valid until {after.expires}")] if later else []
        changes.append(Change(System.OWNER, Op.EXTENDED if later else Op.SHORTENED, "expires",
                              Direction.WIDER if later else Direction.NARROWER, before=before.expires,
                              after=after.expires, risks=tuple(labels), **ctx.head.at(("expires",))))
    if before.description != after.description:
        changes.append(Change(System.OWNER, Op.CHANGED, "description", Direction.NEUTRAL,
                              **ctx.head.at(("description",))))
    names = ctx.head.at(("authentication", "certificate_common_name"))
    if before.vault.cert.allowed_common_names != after.vault.cert.allowed_common_names:
        changes.append(Change(System.OWNER, Op.CHANGED, "certificate common name", Direction.NEUTRAL,
                              before=", ".join(before.vault.cert.allowed_common_names),
                              after=", ".join(after.vault.cert.allowed_common_names), **names))
    if before.source_file != after.source_file:
        changes.append(Change(System.OTHER, Op.MOVED, "spec file", Direction.NEUTRAL, before=before.source_file,
                              after=after.source_file))
    return changes


def _trust_statements(entry: AgentPlan | None) -> dict[str, dict[str, Any]]:
    """Trust-policy statements by Sid (natural key), each as principals, actions and flattened conditions."""
    out: dict[str, dict[str, Any]] = {}
    for i, statement in enumerate(entry.aws.trust_policy.get("Statement", []) if entry else []):
        principals = {f"{kind}:{p}" for kind, value in statement.get("Principal", {}).items()
                      for p in ([value] if isinstance(value, str) else value)}
        actions = statement.get("Action", [])
        conditions = {f"{op} {key}": json.dumps(value, sort_keys=True)
                      for op, keys in statement.get("Condition", {}).items() for key, value in keys.items()}
        out[statement.get("Sid") or f"statement {i + 1}"] = {
            "principals": principals, "actions": {actions} if isinstance(actions, str) else set(actions),
            "conditions": conditions}
    return out


def _trust_changes(before: AgentPlan | None, after: AgentPlan | None, ctx: Context) -> list[Change]:
    """Who may assume the agent's role: principals, actions and conditions of the trust policy, by Sid."""
    if before is None or after is None:
        return []
    old, new = _trust_statements(before), _trust_statements(after)
    empty: dict[str, Any] = {"principals": set(), "actions": set(), "conditions": {}}
    changes: list[Change] = []
    for sid in sorted(set(old) | set(new)):
        was, now = old.get(sid, empty), new.get(sid, empty)
        gained, lost = now["principals"] - was["principals"], was["principals"] - now["principals"]
        if gained:
            changes.append(Change(System.TRUST, Op.CHANGED if lost else Op.ADDED, f"{sid} principal", Direction.WIDER,
                                  before=", ".join(sorted(lost)) or None, after=", ".join(sorted(gained)),
                                  risks=(risk.TRUST_CHANGED.label("high", f"{', '.join(sorted(gained))} may "
                                                   f"assume the role and so mint the agent's AWS credentials"),)))
        elif lost:
            changes.append(Change(System.TRUST, Op.REMOVED, f"{sid} principal", Direction.NARROWER,
                                  before=", ".join(sorted(lost))))
        for action in sorted(now["actions"] - was["actions"]):
            changes.append(Change(System.TRUST, Op.ADDED, f"{sid} action {action}", Direction.WIDER, risks=(
                risk.TRUST_CHANGED.label("medium", f"trusted principals may now call {action}"),)))
        for action in sorted(was["actions"] - now["actions"]):
            changes.append(Change(System.TRUST, Op.REMOVED, f"{sid} action {action}", Direction.NARROWER))
        if sid not in old or sid not in new:
            continue  # a whole statement added or removed: its principals say it all
        for key in sorted(set(was["conditions"]) | set(now["conditions"])):
            a, b = was["conditions"].get(key), now["conditions"].get(key)
            if a == b:
                continue
            if b is None:  # a condition dropped lets the principal assume the role without meeting it
                changes.append(Change(System.TRUST, Op.REMOVED, f"{sid} condition {key}", Direction.WIDER, before=a,
                                      risks=(risk.TRUST_CHANGED.label("medium", f"condition {key} no longer "
                                                       "required to assume the role"),)))
            elif a is None:
                changes.append(Change(System.TRUST, Op.ADDED, f"{sid} condition {key}", Direction.NARROWER, after=b))
            else:
                changes.append(Change(System.TRUST, Op.CHANGED, f"{sid} condition {key}", Direction.WIDER, before=a,
                                      after=b, risks=(risk.TRUST_CHANGED.label("medium", f"condition {key} "
                                                                "now accepts another value"),)))
    return changes


NAMES = "names agentiam derives from the environment and the agent's name"
FIXED = "fixed by agentiam, the same for every agent"
CIDRS = "authentication.bound_cidrs, described once on the token role (_cidr_changes)"
NESTED = "a nested plan object: its fields are declared one by one"
# What the handlers above do with each field of the agent's plan entry. Fields declared `other` are shown as an
# `other` change with their path; everything else a handler describes, or follows from what one describes.
COVERAGE = coverage.Coverage("diff (agent)", AgentPlan, {
    AgentPlan: {
        **each("status function description owner_team owner_sponsor owner_contact expires source_file",
               handled("_identity_changes")),
        **each("agent environment", derived("the key of the entry compared (an agent added or removed)")),
        "identity_name": derived(NAMES),
        "spec_digest": derived("the spec's digest: changes with any field the handlers describe"),
        "tags": derived("from the agent, environment, owner and function"),
        **each("aws vault egress", handled(NESTED)),
        "migration": handled("diff.migration.migration_changes")},
    MigrationPlan: {
        **each("wave note parallel_run parallel_run_started", handled("diff.migration.migration_changes")),
        "legacy": handled("diff.migration.migration_changes: each credential by its natural key")},
    LegacyCredentialPlan: {coverage.EVERY_FIELD: handled("diff.migration.migration_changes: the credential's subject")},
    AwsRolePlan: {
        **each("role_name role_path role_arn", other(NAMES)),
        "max_session_duration": derived("credentials.aws_session_ttl: described as aws_session_ttl"),
        "trust_policy": handled("_trust_changes, by Sid"),
        "inline_policy": handled("_aws_changes, by action and resource"),
        **each("inline_policy_name kill_switch_policy_name", derived(FIXED)),
        **each("boundary_policy_name boundary_policy_arn", derived("from the function class (_identity_changes)")),
        "kill_switch_policy": derived("present exactly while the status is not active (_identity_changes)")},
    VaultPlan: {
        **each("policy_name login_policy_name", other(NAMES)),
        "mint_policy_name": derived(NAMES),
        "policy_rules": handled("_vault_changes, path by path"),
        **each("login_policy_rules mint_policy_rules", handled("_login_policy_changes, path by path")),
        **each("policy_hcl login_policy_hcl mint_policy_hcl", derived("the rules as HCL")),
        **each("approle token_role cert entity aws_secret_role rate_limit", handled(NESTED)),
        "database_roles": handled("_database_changes by (database, schema); _lifetime_changes"),
        "kv_shares": handled("_share_changes, by (path, agent)")},
    AppRolePlan: {
        **each("mount role_name", other(NAMES)),
        "token_policies": derived("the mint policy (mint_policy_name)"),
        **each("token_ttl token_max_ttl token_explicit_max_ttl", handled("_lifetime_changes: mint token ttl")),
        **each("token_num_uses token_type token_no_default_policy bind_secret_id", other(FIXED)),
        **each("secret_id_ttl secret_id_num_uses", handled("_lifetime_changes")),
        **each("secret_id_bound_cidrs token_bound_cidrs", derived(CIDRS))},
    TokenRolePlan: {
        "name": derived(NAMES),
        **each("allowed_policies entity_alias", handled("_token_role_changes")),
        **each("orphan renewable token_type token_no_default_policy", other(FIXED)),
        **each("token_period token_explicit_max_ttl", handled("_lifetime_changes: token_ttl, token_max_ttl")),
        "token_bound_cidrs": handled("_cidr_changes: login networks")},
    CertRolePlan: {
        **each("mount role_name", other(NAMES)),
        "allowed_common_names": handled("_identity_changes: certificate common name"),
        **each("token_policies token_ttl token_max_ttl token_explicit_max_ttl token_type token_no_default_policy "
               "token_num_uses", other(FIXED)),
        "token_bound_cidrs": derived(CIDRS)},
    EntityPlan: {
        **each("name approle_alias_mount cert_alias_mount token_alias_mount token_alias_name", derived(NAMES)),
        "disabled": derived("from the status (_identity_changes)"),
        "metadata": derived("from the owner and function (_identity_changes)"),
        "cert_alias_name": derived("the certificate common name (_identity_changes)")},
    DatabaseRolePlan: {
        **each("mount name", derived(NAMES)),
        **each("database access schemas", handled("_database_changes")),
        **each("privileges creation_statements revocation_statements", derived("from the access and schemas")),
        **each("default_ttl max_ttl", handled("_lifetime_changes"))},
    AwsSecretRolePlan: {
        **each("mount name", derived(NAMES)),
        **each("credential_type role_arns", derived("the agent's own role, assumed: the same for every agent")),
        "max_sts_ttl": handled("_lifetime_changes: aws_session_ttl"),
        "default_sts_ttl": derived("equal to max_sts_ttl: both are credentials.aws_session_ttl"),
        "session_tags": derived("from the agent's tags, when the server sends them (platform.vault_server)")},
    RateLimitPlan: {coverage.EVERY_FIELD: handled("_network_changes: Vault login rate (network.vault_login_rate)")},
    KvSharePlan: {coverage.EVERY_FIELD: handled("_share_changes")},
    EgressPlan: {
        "endpoints": handled("_network_changes: egress by host:port"),
        # Environment-wide settings (the stack config's `egress`, described by diff.platform); per agent they are
        # described only for an agent that names hosts (_enforcement_changes).
        **each("enforcement allow_list", derived("the stack config's egress setting (diff.platform._egress_changes)"))},
})
_DESCRIBED, _DESCRIBED_OBJECTS = coverage.paths_of(COVERAGE, {coverage.Kind.HANDLED, coverage.Kind.DERIVED})


def _other_changes(before: AgentPlan | None, after: AgentPlan | None) -> list[Change]:
    """Any plan field no handler describes is still shown, so the diff never hides a change."""
    if before is None or after is None:
        return []
    old, new = platform.flatten(before.model_dump(mode="json")), platform.flatten(after.model_dump(mode="json"))
    return [Change(System.OTHER, Op.CHANGED, path, Direction.NEUTRAL, before=old.get(path), after=new.get(path))
            for path in sorted(set(old) | set(new))
            if old.get(path) != new.get(path) and not path.startswith(_DESCRIBED)
            and path not in _DESCRIBED_OBJECTS]


def describe(entry: EntryChange, ctx: Context) -> list[Change]:
    """Every change of one agent x environment, in a stable order."""
    before, after = entry.before, entry.after
    changes = (_identity_changes(before, after, ctx) + _trust_changes(before, after, ctx)
               + _aws_changes(before, after, ctx)
               + _vault_changes(before, after, ctx) + _login_policy_changes(before, after)
               + _token_role_changes(before, after) + _share_changes(before, after, ctx)
               + _database_changes(before, after, ctx)
               + _lifetime_changes(before, after, ctx) + _network_changes(before, after, ctx)
               + migration_changes(before, after, ctx) + _other_changes(before, after))
    return sorted(changes, key=Change.sort_key)


def compare_agent(entry: EntryChange, ctx: Context, findings: Iterable[Finding] = ()) -> AgentDiff:
    """The diff of one agent x environment: its changes, verdict, the head spec's findings that apply in this
    environment, and what the kill switch means for them."""
    changes = tuple(describe(entry, ctx))
    kind = "added" if entry.before is None else "removed" if entry.after is None else "changed"
    spec_file = (entry.after or entry.before).source_file  # type: ignore[union-attr]
    return AgentDiff(entry.environment, entry.agent, kind, spec_file, changes, risk.verdict(changes),
                     tuple(_in_environment(list(findings), entry.environment)), _kill_switch_note(entry, changes))


def _kill_switch_note(entry: EntryChange, changes: Iterable[Change]) -> tuple[str, ...]:
    """A widening of an agent that stays inactive takes effect only on re-activation: say so, hide nothing."""
    after = entry.after
    if after is None or after.status == "active" or not any(c.direction is Direction.WIDER for c in changes):
        return ()
    return (f"inactive in {entry.environment} ({after.status}): kill switch denies all until re-activated",)


def _in_environment(findings: list[Finding], environment: str) -> list[Finding]:
    """A spec's findings, minus those located in another environment's override block."""
    return [f for f in findings if not (f.path.startswith("overrides.") and
                                        not f.path.startswith(f"overrides.{environment}"))]
