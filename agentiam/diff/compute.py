"""Compute the permission diff between two revisions, compiling only the specs that changed.

Three steps, kept apart so the first and the third can be checked against full plans (tests/diff/test_full_plans.py):
1. `collect()`: the plan-level change set, i.e. every agent x environment whose `AgentPlan` differs.
   Only spec files whose blob differs are loaded and compiled, plus every spec of a stack whose
   config changed (then each of its agents may change). An agent's plan entry depends on its own spec
   and its stack config only, so this equals the difference of the full plans.
2. `describe()`: each differing entry -> changes keyed by natural key (action, resource, Vault path,
   database, field), never by list position, each with its risk labels and the spec line causing it.
3. `environment_diffs()`: the environment-wide part (`PlatformPlan`, trusted principal, account), in full
   where a stack config changed and incrementally from the changed specs elsewhere (`agentiam.diff.platform`).
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentiam.diff import platform, risk, toolchange
from agentiam.diff.gitsource import GitError, GitRepo, GitTree, Snapshot, project_prefix, stack_of
from agentiam.diff.migration import migration_changes
from agentiam.diff.model import AgentDiff, Change, DiffReport, Direction, EntryChange, EnvironmentDiff, RiskLabel
from agentiam.environment.load import parse_environments
from agentiam.environment.model import EnvironmentConfig
from agentiam.errors import ConfigError, SpecError
from agentiam.findings import Finding
from agentiam.inputs.files import (REFERENCED, SPEC, STACK_CONFIG, InputKind, Problem, Refused, file_finding,
                                   too_large_detail)
from agentiam.inputs.references import FileTree
from agentiam.iam import catalogue
from agentiam.iam.arn import Breadth, breadth
from agentiam.plan.boundary import NO_EXPORT_CLASSES
from agentiam.plan.build import RESOURCE_ACCOUNT_KEY, agent_plan, platform_plan, selected
from agentiam.plan.effective import fill
from agentiam.plan.model import AgentPlan
from agentiam.rules.registry import run_rules
from agentiam.spec.model import STATUS_ORDER, AgentSpec
from agentiam.spec.source import PathPart
from agentiam.spec.types import format_duration
from agentiam.spec.validate import LoadedSpec, load_spec_bytes

Key = tuple[str, str]  # (environment, agent)
_PRELOADED_FILES = 32  # other files of the stacks folder read with the specs; more are read when referenced


@dataclass
class Side:
    """One revision, compiled as far as the diff needs it."""

    snapshot: Snapshot
    stacks: dict[str, EnvironmentConfig]  # stack name -> config
    specs: dict[str, LoadedSpec]  # repository path -> spec, only the files that were loaded
    entries: dict[Key, AgentPlan] = field(default_factory=dict)
    by_agent: dict[str, LoadedSpec] = field(default_factory=dict)

    def environments(self) -> dict[str, EnvironmentConfig]:
        """Configs keyed by environment name (shards of one environment agree on all but `selection`)."""
        return {cfg.name: cfg for _, cfg in sorted(self.stacks.items())}


@dataclass
class Collected:
    """The plan-level change set plus what describing it needs."""

    base: Side
    head: Side
    entries: list[EntryChange]
    changed_spec_files: list[str]
    changed_stack_files: list[str]
    head_findings: list[Finding]
    notes: list[str]


def _differs(a: Mapping[str, str], b: Mapping[str, str]) -> list[str]:
    return sorted(p for p in set(a) | set(b) if a.get(p) != b.get(p))


def collect(repo: GitRepo, base_rev: str, head_rev: str | None, specs_prefix: str = "agent_specs",
            stacks_prefix: str = "stacks", today: dt.date | None = None) -> Collected:
    """Load both revisions (only what changed) and return every agent x environment whose plan differs."""
    base = repo.snapshot(base_rev, specs_prefix, stacks_prefix)
    root = project_prefix(stacks_prefix)  # referenced files are relative to the folder holding the stacks folder
    if head_rev is None:
        head, on_disk = repo.worktree_snapshot(specs_prefix, stacks_prefix)
    else:
        head, on_disk = repo.snapshot(head_rev, specs_prefix, stacks_prefix), {}
    changed_specs = _differs(base.specs, head.specs)
    changed_stacks = _differs(base.stacks, head.stacks)
    affected = {stack_of(p) for p in changed_stacks}
    # A changed stack config can change every agent of that stack, so all specs are needed then.
    wanted = [sorted(snap.specs) if affected else [p for p in changed_specs if p in snap.specs]
              for snap in (base, head)]
    oids = [base.specs[p] for p in wanted[0]] + list(base.stacks.values())
    if head_rev is not None:
        oids += [head.specs[p] for p in wanted[1]] + list(head.stacks.values())
    # The few other files of the stacks folder (the agent CA) come in the same batch, for the references.
    extra = {oid for snap in (base, head) for oid in snap.others.values() if int(snap.sizes[oid]) <= REFERENCED.limit}
    oids += sorted(extra) if len(extra) <= _PRELOADED_FILES else []
    # An oversized blob is refused unread, as `validate` refuses the file (sizes from the `ls-tree -l` listings).
    sizes = {oid: int(snap.sizes[oid]) for snap in (base, head) for oid in oids if oid in snap.sizes}
    blobs = repo.read_blobs(o for o in oids if sizes.get(o, 0) <= max(SPEC.limit, STACK_CONFIG.limit))
    files: dict[int, FileTree] = {id(base): GitTree(repo, base.commit or "", root, base, blobs),
                                  id(head): repo.worktree(root) if head_rev is None
                                  else GitTree(repo, head.commit or "", root, head, blobs)}
    worktree = repo.worktree()

    def content(snap: Snapshot, path: str, oid: str, kind: InputKind) -> bytes | Refused:
        if snap is head and head_rev is None:
            if path in on_disk:
                return on_disk[path]
            try:
                return worktree.read(path, kind)
            except Refused as refused:
                return refused
        if sizes.get(oid, 0) > kind.limit:
            return Refused(Problem.TOO_LARGE, path, too_large_detail(sizes[oid], kind))
        return blobs[oid]

    notes: list[str] = []
    sides: list[Side] = []
    head_errors: list[Finding] = []
    for snap, paths in zip((base, head), wanted, strict=True):
        shown = {p: p if snap is head else f"{p}@{snap.label}" for p in (*snap.stacks, *snap.refused)}
        raws: dict[str, bytes] = {}
        problems = [file_finding(shown[p], refused) for p, refused in sorted(snap.refused.items())
                    if p == stacks_prefix or p.startswith(stacks_prefix + "/")]
        for p, oid in sorted(snap.stacks.items()):
            got = content(snap, p, oid, STACK_CONFIG)
            if isinstance(got, Refused):
                problems.append(file_finding(shown[p], got))
            else:
                raws[shown[p]] = got
        loaded, invalid = parse_environments(raws, files[id(snap)])
        problems += invalid
        if problems and snap is head:
            raise ConfigError(findings=sorted(problems))
        if problems:  # a fix of a broken base must still be reviewable: its environments count as new
            notes.append(f"{len(problems)} stack config problem(s) at {snap.label} (first: {sorted(problems)[0].render()}); "
                         "environments that do not load there are shown as added")
        path_of = {name: p for p, name in shown.items()}
        side = Side(snap, {stack_of(path_of[stack.file]): stack.config for stack in loaded}, {})
        for path, refused in sorted(snap.refused.items()):
            if not (path == specs_prefix or path.startswith(specs_prefix + "/")):
                continue
            if snap is head:
                head_errors.append(file_finding(path, refused))
            else:
                notes.append(f"{path} is not a regular file at {snap.label}; its agents are shown as added")
        for path in paths:
            got = content(snap, path, snap.specs[path], SPEC)
            loaded_spec, problems = (None, [file_finding(path, got)]) if isinstance(got, Refused) \
                else load_spec_bytes(path, got)
            if loaded_spec is not None:
                side.specs[path] = loaded_spec
            elif snap is head:
                head_errors.extend(problems)
            else:
                notes.append(f"{path} does not load at {snap.label}; its agents are shown as added")
        sides.append(side)
    if head_errors:
        raise SpecError(sorted(head_errors))
    base_side, head_side = sides
    changed = set(changed_specs)
    for side in sides:
        _compile(side, changed, affected, notes)
    keys = sorted(set(base_side.entries) | set(head_side.entries))
    entries = [EntryChange(env, agent, base_side.entries.get((env, agent)), head_side.entries.get((env, agent)))
               for env, agent in keys
               if base_side.entries.get((env, agent)) != head_side.entries.get((env, agent))]
    changed_head = [head_side.specs[p] for p in changed_specs if p in head_side.specs]
    # Fleet rules see the changed specs plus the unchanged ones they name (the owner of a shared KV path), so a
    # reference to an unchanged agent is judged against it; only the changed files' findings are reported.
    context = _unchanged_specs_named(repo, base, head, _named_agents(changed_head), specs_prefix)
    findings = [f for f in run_rules(changed_head + context, head_side.environments(), today or dt.date.today())
                if f.file in head_side.specs]
    return Collected(base_side, head_side, entries, changed_specs, changed_stacks, findings, notes)


def _named_agents(specs: list[LoadedSpec]) -> set[str]:
    """Agents other than themselves that the specs refer to by name (`shared_by`)."""
    own = {loaded.spec.name for loaded in specs}
    return {g.shared_by for loaded in specs for g in loaded.spec.permissions.kv if g.shared_by} - own


def _unchanged_specs_named(repo: GitRepo, base: Snapshot, head: Snapshot, wanted: set[str],
                           prefix: str) -> list[LoadedSpec]:
    """Unchanged specs (the same blob at both revisions) declaring one of the `wanted` agents, found with
    `git grep` at the base commit and parsed to confirm."""
    if not wanted or base.commit is None:
        return []
    unchanged = {p: o for p, o in base.specs.items() if head.specs.get(p) == o}
    found: list[LoadedSpec] = []
    for name in sorted(wanted):
        hits = [p for p in repo.files_containing(base.commit, (name,), prefix) if p in unchanged]
        blobs = repo.read_blobs(unchanged[p] for p in hits)
        for path in hits:
            loaded = load_spec_bytes(path, blobs[unchanged[path]])[0]
            if loaded is not None and loaded.spec.name == name:
                found.append(loaded)
    return found


def _compile(side: Side, changed: set[str], affected: set[str], notes: list[str]) -> None:
    """Plan entries of the loaded specs: in every stack if the spec changed, else in the changed stacks only."""
    for path, loaded in sorted(side.specs.items()):
        spec = loaded.spec
        if spec.name in side.by_agent:
            notes.append(f"{path} and {side.by_agent[spec.name].file} both declare agent {spec.name!r} at "
                         f"{side.snapshot.label}; the first is compared")
            continue
        side.by_agent[spec.name] = loaded
        stacks = side.stacks if path in changed else {s: c for s, c in side.stacks.items() if s in affected}
        for _stack, env in sorted(stacks.items()):
            if env.name in spec.environments and selected(spec, env):
                side.entries[(env.name, spec.name)] = agent_plan(loaded, env)


# --------------------------------------------------------------------------------------------------------
# Describing one entry


_CAPABILITY_RANK = {"deny": -1, "list": 0, "read": 1, "create": 2, "update": 2, "patch": 2, "delete": 3, "sudo": 4}


class Locator:
    """Finds the spec line behind a change, by natural key (so annotations point at what the reviewer reads)."""

    def __init__(self, loaded: LoadedSpec | None, env: EnvironmentConfig | None):
        self.loaded, self.env = loaded, env

    def at(self, path: tuple[PathPart, ...]) -> dict[str, Any]:
        if self.loaded is None:
            return {}
        finding = self.loaded.document.finding("DIFF", path, "")
        return {"line": finding.line, "column": finding.column, "field": finding.path}

    @property
    def spec(self) -> AgentSpec | None:
        return self.loaded.spec if self.loaded else None

    def _fill(self, template: str) -> str:
        return fill(template, self.spec, self.env) if self.spec and self.env else template

    def aws(self, action: str, resource: str | None = None) -> dict[str, Any]:
        """The action in the statement that grants it (on `resource`, if given)."""
        if self.spec is None:
            return {}
        for i, grant in enumerate(self.spec.permissions.aws):
            filled = [self._fill(r) for r in grant.resources]
            for j, granted in enumerate(grant.actions):
                if granted.lower() == action.lower() and (resource is None or resource in filled):
                    return self.at(("permissions", "aws", i, "actions", j))
        return self.at(("permissions", "aws"))

    def resource(self, action: str, resource: str) -> dict[str, Any]:
        """The resource line of the statement granting `action` on `resource`."""
        if self.spec is None:
            return {}
        resource = resource.split(" (also in account", 1)[0]
        for i, grant in enumerate(self.spec.permissions.aws):
            if any(a.lower() == action.lower() for a in grant.actions):
                for j, template in enumerate(grant.resources):
                    if self._fill(template) == resource:
                        return self.at(("permissions", "aws", i, "resources", j))
        return self.aws(action)

    def kv(self, vault_path: str) -> dict[str, Any]:
        if self.spec is None:
            return {}
        for i, grant in enumerate(self.spec.permissions.kv):
            filled = self._fill(grant.path)
            if vault_path.endswith(("/data/" + filled, "/metadata/" + filled)):
                return self.at(("permissions", "kv", i))
        return self.at(("permissions",))

    def database(self, name: str) -> dict[str, Any]:
        if self.spec is None:
            return {}
        for i, grant in enumerate(self.spec.permissions.databases):
            if grant.database == name:
                return self.at(("permissions", "databases", i, "access"))
        return self.at(("permissions", "databases"))

    def _override(self, section: str, name: str) -> tuple[PathPart, ...] | None:
        if self.spec is None or self.env is None:
            return None
        override = self.spec.overrides.get(self.env.name)
        value = getattr(override, section, None) if override else None
        if value is not None and (name == "" or getattr(value, name, None) is not None):
            return ("overrides", self.env.name, section) + ((name,) if name else ())
        return None

    def credential(self, name: str) -> dict[str, Any]:
        return self.at(self._override("credentials", name) or ("credentials", name))

    def network(self, what: str, host: str | None = None) -> dict[str, Any]:
        """`what` is `egress` or `rate_limit`; the environment's network override replaces the whole section."""
        base: tuple[PathPart, ...] = self._override("network", "") or ("network",)
        if self.spec is None:
            return {}
        network = self.spec.overrides[self.env.name].network if len(base) > 1 else self.spec.network
        if what == "egress" and host is not None:
            for i, endpoint in enumerate(network.egress):
                if endpoint.host == host:
                    return self.at(base + ("egress", i))
        return self.at(base + (what,))

    def status(self) -> dict[str, Any]:
        return self.at(self._override("status", "") or ("status",))


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
    policy = entry.aws.inline_policy if entry else None
    own = entry.aws.role_arn.split(":")[4] if entry else ""
    for statement in (policy or {}).get("Statement", []):
        accounts = statement.get("Condition", {}).get("StringEqualsIfExists", {}).get(RESOURCE_ACCOUNT_KEY, [own])
        others = sorted(set(accounts) - {own})
        suffix = f" (also in account {', '.join(others)})" if others else ""
        for action in statement["Action"]:
            _, resources = grants.setdefault(action.lower(), (action, set()))
            resources.update(f"{r}{suffix}" for r in statement["Resource"])
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
        labels = risk.action_risks(concrete, reached, _widest(resources))
        labels.append(risk.wildcard_action(action, len(concrete)))
        labels.extend(_resource_risks(resources, old_levels, ctx, levels))
        changes.append(Change("aws", "added", action, Direction.WIDER, access_level=", ".join(levels),
                              resources=tuple(sorted(resources)), risks=_unique(labels),
                              expands_to=tuple(i.name for i in concrete) if action != _name(concrete) else (),
                              **ctx.head.aws(action)))
    for key in sorted(set(old) - set(new)):
        action, resources = old[key]
        levels = risk.ordered_levels(catalogue.access_levels(action))
        wider = sorted(a for a, rs in new.values() if resources <= rs and _subsumes(a, action))
        if wider:  # `s3:GetObject` replaced by `s3:Get*` on the same resources: not a removal of power
            changes.append(Change("aws", "subsumed", action, Direction.NEUTRAL, after=", ".join(wider),
                                  access_level=", ".join(levels), resources=tuple(sorted(resources)),
                                  **ctx.base.aws(action)))
            continue
        changes.append(Change("aws", "removed", action, Direction.NARROWER, access_level=", ".join(levels),
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
            changes.append(Change("aws", "widened", action, Direction.WIDER, before=", ".join(covered),
                                  after=resource, access_level=", ".join(levels), resources=(resource,),
                                  risks=_unique(labels), **ctx.head.resource(action, resource)))
            continue
        wider = [r for r in removed if _covers(r, resource)]
        if wider:
            paired.update(wider)
            changes.append(Change("aws", "narrowed", action, Direction.NARROWER, before=", ".join(wider),
                                  after=resource, access_level=", ".join(levels), resources=(resource,),
                                  **ctx.head.resource(action, resource)))
            continue
        changes.append(Change("aws", "added", action, Direction.WIDER, access_level=", ".join(levels),
                              resources=(resource,), risks=_unique(labels), **ctx.head.resource(action, resource)))
    for resource in removed:
        if resource not in paired:
            changes.append(Change("aws", "removed", action, Direction.NARROWER, access_level=", ".join(levels),
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
            changes.append(Change("vault", "added", path, Direction.WIDER, after=_caps(now),
                                  risks=_unique(labels), **where))
        elif not now:
            changes.append(Change("vault", "removed", path, Direction.NARROWER, before=_caps(was), **where))
        else:
            gained = now - was
            top_was = max(_CAPABILITY_RANK.get(c, 0) for c in was)
            labels = [risk.ACCESS_ESCALATION.label("medium", f"{_caps(was)} -> {_caps(now)} on {path}")
                      if any(_CAPABILITY_RANK.get(c, 0) > top_was for c in gained) else None]
            direction = Direction.WIDER if gained else Direction.NARROWER
            changes.append(Change("vault", "widened" if gained else "narrowed", path, direction,
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
            changes.append(Change("vault", "widened" if gained else "narrowed", f"{label}: {path}",
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
        changes.append(Change("vault", "added", f"token role {now.name} allowed policy {policy}", Direction.WIDER,
                              after=policy, risks=(risk.TRUST_CHANGED.label(
                                  "high", f"the agent's login may mint tokens carrying policy {policy}"),)))
    for policy in sorted(set(was.allowed_policies) - set(now.allowed_policies)):
        changes.append(Change("vault", "removed", f"token role {now.name} allowed policy {policy}",
                              Direction.NARROWER, before=policy))
    if was.entity_alias != now.entity_alias:
        changes.append(Change("vault", "changed", f"token role {now.name} entity alias", Direction.WIDER,
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
            changes.append(Change("vault", "shared", subject, Direction.WIDER, before=_caps(was or []),
                                  after=_caps(now), risks=(risk.RESOURCE_EXPOSURE.label(
                                      "high", f"{agent} may be granted {_caps(now)} on this agent's secret"),),
                                  **where))
        else:
            changes.append(Change("vault", "unshared" if now is None else "narrowed", subject, Direction.NARROWER,
                                  before=_caps(was or []), after=_caps(now) if now else None,
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
            changes.append(Change("database", "added", subject, Direction.WIDER, after=now, risks=_unique(labels),
                                  **ctx.head.database(database)))
        elif now is None:
            changes.append(Change("database", "removed", subject, Direction.NARROWER, before=was,
                                  **ctx.base.database(database)))
        elif now == "write":
            label = risk.ACCESS_ESCALATION.label("medium", f"read -> write on {subject}")
            changes.append(Change("database", "widened", subject, Direction.WIDER, before=was, after=now,
                                  risks=(label,), **ctx.head.database(database)))
        else:
            changes.append(Change("database", "narrowed", subject, Direction.NARROWER, before=was, after=now,
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
    for role in entry.vault.database_roles:
        values[f"database_ttl ({role.database})"] = (role.default_ttl, "database_ttl")
        values[f"database_max_ttl ({role.database})"] = (role.max_ttl, "database_max_ttl")
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
        changes.append(Change("lifetime", "widened" if now > was else "narrowed", name,
                              Direction.WIDER if now > was else Direction.NARROWER, before=format_duration(was),
                              after=format_duration(now), risks=_unique([label]), **where))
    uses_was, uses_now = before.vault.approle.secret_id_num_uses, after.vault.approle.secret_id_num_uses
    if uses_was != uses_now:
        changes.append(Change("lifetime", "widened" if uses_now > uses_was else "narrowed", "secret_id_num_uses",
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
        labels = [risk.new_egress(e["host"], e["port"], e["purpose"]),
                  risk.cross_environment(e["host"], ctx.environment, ctx.accounts)]
        changes.append(Change("network", "added", f"egress {key}", Direction.WIDER, after=e["purpose"],
                              risks=_unique(labels), **ctx.head.network("egress", e["host"])))
    for key in sorted(set(old) & set(new)):
        if old[key]["purpose"] != new[key]["purpose"]:
            changes.append(Change("network", "changed", f"egress {key} purpose", Direction.NEUTRAL,
                                  before=old[key]["purpose"], after=new[key]["purpose"],
                                  **ctx.head.network("egress", new[key]["host"])))
    for key in sorted(set(old) - set(new)):
        changes.append(Change("network", "removed", f"egress {key}", Direction.NARROWER, before=old[key]["purpose"],
                              **ctx.base.network("egress", old[key]["host"])))
    if before is not None and after is not None:
        was = _rate(before)
        now = _rate(after)
        if was != now:
            direction = Direction.WIDER if _per_second(now) > _per_second(was) else Direction.NARROWER
            changes.append(Change("network", "widened" if direction is Direction.WIDER else "narrowed", "rate limit",
                                  direction, before=_rate_text(was), after=_rate_text(now),
                                  **ctx.head.network("rate_limit")))
        changes.extend(_cidr_changes(before.vault.token_role.token_bound_cidrs,
                                     after.vault.token_role.token_bound_cidrs, ctx))
    return changes


def _rate(entry: AgentPlan) -> tuple[int, int] | None:
    egress = entry.egress
    if egress.rate_limit_requests is None or egress.rate_limit_interval is None:
        return None
    return (egress.rate_limit_requests, egress.rate_limit_interval)


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
    return [Change("network", "widened" if wider else "narrowed", "login networks (bound_cidrs)",
                   Direction.WIDER if wider else Direction.NARROWER, before=", ".join(sorted(was)) or "anywhere",
                   after=", ".join(sorted(now)) or "anywhere", **where)]


def _identity_changes(before: AgentPlan | None, after: AgentPlan | None, ctx: Context) -> list[Change]:
    """Lifecycle, function class, owner and expiry."""
    if before is None and after is not None:
        return [Change("agent", "added", after.agent, Direction.WIDER, after=after.status,
                       **ctx.head.at(("name",)))]
    if after is None or before is None:
        return [] if before is None else [Change("agent", "removed", before.agent, Direction.NARROWER,
                                                 before=before.status, **ctx.base.at(("name",)))]
    changes: list[Change] = []
    if before.status != after.status:
        wider = STATUS_ORDER.index(after.status) < STATUS_ORDER.index(before.status)  # loosest first
        op = {"active": "reactivated", "suspended": "suspended", "revoked": "revoked"}[after.status]
        labels = [risk.REACTIVATED.label("high", f"{before.status} -> active lifts the kill switch: every "
                            "permission of the spec is restored at once")] if after.status == "active" else []
        changes.append(Change("agent", op, "status", Direction.WIDER if wider else Direction.NARROWER,
                              before=before.status, after=after.status, risks=tuple(labels), **ctx.head.status()))
    if before.function != after.function:
        was_fenced = before.function in {c.value for c in NO_EXPORT_CLASSES}
        now_fenced = after.function in {c.value for c in NO_EXPORT_CLASSES}
        direction = (Direction.WIDER if was_fenced and not now_fenced else
                     Direction.NARROWER if now_fenced and not was_fenced else Direction.NEUTRAL)
        changes.append(Change("function", "changed", "function class", direction, before=before.function,
                              after=after.function, **ctx.head.at(("function",))))
    for attr, label in (("owner_team", "owner team"), ("owner_sponsor", "sponsor"), ("owner_contact", "contact")):
        if getattr(before, attr) != getattr(after, attr):
            changes.append(Change("owner", "changed", label, Direction.NEUTRAL, before=getattr(before, attr),
                                  after=getattr(after, attr), **ctx.head.at(("owner", attr.split("_", 1)[1]))))
    if before.expires != after.expires:
        later = after.expires > before.expires
        labels = [risk.LONGER_LIFETIME.label("low", f"identity valid until {after.expires}")] if later else []
        changes.append(Change("owner", "extended" if later else "shortened", "expires",
                              Direction.WIDER if later else Direction.NARROWER, before=before.expires,
                              after=after.expires, risks=tuple(labels), **ctx.head.at(("expires",))))
    if before.description != after.description:
        changes.append(Change("owner", "changed", "description", Direction.NEUTRAL, **ctx.head.at(("description",))))
    names = ctx.head.at(("authentication", "certificate_common_name"))
    if before.vault.cert.allowed_common_names != after.vault.cert.allowed_common_names:
        changes.append(Change("owner", "changed", "certificate common name", Direction.NEUTRAL,
                              before=", ".join(before.vault.cert.allowed_common_names),
                              after=", ".join(after.vault.cert.allowed_common_names), **names))
    if before.source_file != after.source_file:
        changes.append(Change("other", "moved", "spec file", Direction.NEUTRAL, before=before.source_file,
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
            changes.append(Change("trust", "changed" if lost else "added", f"{sid} principal", Direction.WIDER,
                                  before=", ".join(sorted(lost)) or None, after=", ".join(sorted(gained)),
                                  risks=(risk.TRUST_CHANGED.label("high", f"{', '.join(sorted(gained))} may "
                                                   f"assume the role and so mint the agent's AWS credentials"),)))
        elif lost:
            changes.append(Change("trust", "removed", f"{sid} principal", Direction.NARROWER,
                                  before=", ".join(sorted(lost))))
        for action in sorted(now["actions"] - was["actions"]):
            changes.append(Change("trust", "added", f"{sid} action {action}", Direction.WIDER, risks=(
                risk.TRUST_CHANGED.label("medium", f"trusted principals may now call {action}"),)))
        for action in sorted(was["actions"] - now["actions"]):
            changes.append(Change("trust", "removed", f"{sid} action {action}", Direction.NARROWER))
        if sid not in old or sid not in new:
            continue  # a whole statement added or removed: its principals say it all
        for key in sorted(set(was["conditions"]) | set(now["conditions"])):
            a, b = was["conditions"].get(key), now["conditions"].get(key)
            if a == b:
                continue
            if b is None:  # a condition dropped lets the principal assume the role without meeting it
                changes.append(Change("trust", "removed", f"{sid} condition {key}", Direction.WIDER, before=a,
                                      risks=(risk.TRUST_CHANGED.label("medium", f"condition {key} no longer "
                                                       "required to assume the role"),)))
            elif a is None:
                changes.append(Change("trust", "added", f"{sid} condition {key}", Direction.NARROWER, after=b))
            else:
                changes.append(Change("trust", "changed", f"{sid} condition {key}", Direction.WIDER, before=a,
                                      after=b, risks=(risk.TRUST_CHANGED.label("medium", f"condition {key} "
                                                                "now accepts another value"),)))
    return changes


# Plan fields the handlers above describe, or derive from what they describe (digest, tags, names; the AppRole and
# token role CIDRs come from one spec field, `authentication.bound_cidrs`). Anything else shows as "other".
_DESCRIBED = ("agent", "environment", "identity_name", "status", "function", "description", "owner_team",
              "owner_sponsor", "owner_contact", "expires", "source_file", "spec_digest", "tags",
              "aws.inline_policy", "aws.trust_policy", "aws.max_session_duration", "aws.kill_switch_policy",
              "aws.boundary_policy",
              "vault.policy_rules", "vault.policy_hcl", "vault.login_policy_rules", "vault.login_policy_hcl",
              "vault.mint_policy_rules", "vault.mint_policy_hcl", "vault.mint_policy_name",
              "vault.approle.token_ttl", "vault.approle.token_max_ttl", "vault.approle.token_explicit_max_ttl",
              "vault.approle.token_policies", "vault.approle.secret_id", "vault.approle.token_bound_cidrs",
              "vault.token_role.name", "vault.token_role.token_period", "vault.token_role.token_explicit_max_ttl",
              "vault.token_role.token_bound_cidrs", "vault.token_role.allowed_policies",
              "vault.token_role.entity_alias",
              "vault.cert.allowed_common_names", "vault.cert.token_bound_cidrs", "vault.entity", "vault.database_roles",
              "vault.aws_secret_role", "vault.rate_limit", "vault.kv_shares", "egress", "migration")


def _other_changes(before: AgentPlan | None, after: AgentPlan | None) -> list[Change]:
    """Any plan field no handler describes is still shown, so the diff never hides a change."""
    if before is None or after is None:
        return []
    old, new = platform.flatten(before.model_dump(mode="json")), platform.flatten(after.model_dump(mode="json"))
    return [Change("other", "changed", path, Direction.NEUTRAL, before=old.get(path), after=new.get(path))
            for path in sorted(set(old) | set(new))
            if old.get(path) != new.get(path) and not path.startswith(_DESCRIBED)]


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


def compute_diff(repo: GitRepo, base_rev: str, head_rev: str | None, specs_dir: Path | str = "agent_specs",
                 stacks_dir: Path | str = "stacks", today: dt.date | None = None,
                 code_snapshots: tuple[Path, Path] | None = None) -> DiffReport:
    """The permission diff between `base_rev` and `head_rev` (None: the working tree).

    `code_snapshots`: (base-code, head-code) snapshot folders of the head's specs, for changes caused by agentiam's
    own code (`agentiam.diff.toolchange`); without them a changed tool file is reported as not compiled.
    """
    specs_prefix = repo.relative(Path(specs_dir)) if isinstance(specs_dir, Path) else specs_dir
    stacks_prefix = repo.relative(Path(stacks_dir)) if isinstance(stacks_dir, Path) else stacks_dir
    for prefix, option in ((specs_prefix, "--specs"), (stacks_prefix, "--stacks")):
        if prefix == ".":
            raise GitError(f"{option} must name a folder below the repository root, not the root itself")
    got = collect(repo, base_rev, head_rev, specs_prefix, stacks_prefix, today)
    base_envs, head_envs = got.base.environments(), got.head.environments()
    accounts = {name: cfg.account_id for name, cfg in {**base_envs, **head_envs}.items()}
    now = dt.datetime.combine(today, dt.time(), dt.timezone.utc) if today else None
    findings_by_file: dict[str, list[Finding]] = {}
    for finding in got.head_findings:
        findings_by_file.setdefault(finding.file, []).append(finding)
    agents: list[AgentDiff] = []
    for entry in got.entries:
        head_spec = got.head.by_agent.get(entry.agent) if entry.after else None
        base_spec = got.base.by_agent.get(entry.agent) if entry.before else None
        ctx = Context(Locator(head_spec, head_envs.get(entry.environment)),
                      Locator(base_spec, base_envs.get(entry.environment)), entry.environment, accounts, now)
        changes = tuple(describe(entry, ctx))
        kind = "added" if entry.before is None else "removed" if entry.after is None else "changed"
        spec_file = (entry.after or entry.before).source_file  # type: ignore[union-attr]
        agents.append(AgentDiff(entry.environment, entry.agent, kind, spec_file, changes, risk.verdict(changes),
                                tuple(_in_environment(findings_by_file.get(spec_file, []), entry.environment)),
                                _kill_switch_note(entry, changes)))
    environments, lookups = environment_diffs(repo, got, specs_prefix, project_prefix(stacks_prefix))
    code = toolchange.code_diff(repo, got.base.snapshot.commit or base_rev, got.head.snapshot.commit,
                                (specs_prefix, stacks_prefix), sorted(stack_of(p) for p in got.head.snapshot.stacks),
                                code_snapshots)
    if got.changed_spec_files or got.changed_stack_files:
        catalogue_version = catalogue.data_version()
    else:
        catalogue_version = ""
    return DiffReport(base=got.base.snapshot.label, head=got.head.snapshot.label,
                      agents=sorted(agents, key=lambda a: (a.agent, _env_order(a.environment))),
                      findings=got.head_findings, changed_spec_files=got.changed_spec_files,
                      changed_stack_files=got.changed_stack_files,
                      specs_compiled=len(got.base.specs) + len(got.head.specs), notes=got.notes,
                      catalogue_version=catalogue_version, accounts=accounts,
                      environments=sorted(environments, key=lambda e: _env_order(e.environment)),
                      rest_lookups=lookups, code=code)


def _kill_switch_note(entry: EntryChange, changes: Iterable[Change]) -> tuple[str, ...]:
    """A widening of an agent that stays inactive takes effect only on re-activation: say so, hide nothing."""
    after = entry.after
    if after is None or after.status == "active" or not any(c.direction is Direction.WIDER for c in changes):
        return ()
    return (f"inactive in {entry.environment} ({after.status}): kill switch denies all until re-activated",)


def _owners(side: Side) -> dict[str, tuple[EnvironmentConfig, list[str]]]:
    """Environment -> (config of the stack owning its shared resources, every stack file of it)."""
    out: dict[str, tuple[EnvironmentConfig, list[str]]] = {}
    for path, _oid in sorted(side.snapshot.stacks.items()):
        cfg = side.stacks.get(stack_of(path))
        if cfg is None:  # did not load at the base (see `collect`): the environment counts as absent there
            continue
        owner, files = out.get(cfg.name, (cfg, []))
        if not owner.selection.shared_resources and cfg.selection.shared_resources:
            owner = cfg
        out[cfg.name] = (owner, [*files, path])
    return out


def _changed_references(old: EnvironmentConfig, new: EnvironmentConfig, root: str) -> list[str]:
    """Repository paths of the files the two configs reference whose path or content differ."""
    was, now = old.referenced_files, new.referenced_files
    paths: set[str] = set()
    for field_path in set(was) | set(now):
        a, b = was.get(field_path), now.get(field_path)
        if (a and (a.path, a.sha256)) != (b and (b.path, b.sha256)):
            paths.update(f"{root}/{ref.path}" if root else ref.path for ref in (a, b) if ref is not None)
    return sorted(paths)


def environment_diffs(repo: GitRepo, got: Collected, specs_prefix: str,
                      root: str = "") -> tuple[list[EnvironmentDiff], int]:
    """Environment-wide changes: compiled in full where a stack config changed, incrementally elsewhere.

    `root` is the project root as a repository path: referenced files (the agent CA) are named from it; one that
    changed under an unchanged stack config is compared too, and named as the cause."""
    before, after = _owners(got.base), _owners(got.head)
    changed_stacks = set(got.changed_stack_files)
    base_snap, head_snap = got.base.snapshot, got.head.snapshot
    rest = platform.Rest(repo, base_snap.commit or "", specs_prefix,
                         {p: o for p, o in base_snap.specs.items() if head_snap.specs.get(p) == o})
    changed = set(got.changed_spec_files)
    out: list[EnvironmentDiff] = []
    for name in sorted(set(before) | set(after)):
        files = sorted({f for f in before.get(name, (None, []))[1] + after.get(name, (None, []))[1]
                        if f in changed_stacks})
        if name not in after:
            changes, compiled = [Change("environment", "removed", name, Direction.NARROWER)], "full"
        elif name not in before:  # reviewed like a new agent plus its platform: every trust root is new
            cfg = after[name][0]
            changes = platform.new_environment_changes(cfg, platform_plan(list(got.head.by_agent.values()), cfg))
            compiled = "full"
        elif files:
            sides = [platform.EnvironmentSide(cfg, platform_plan(list(side.by_agent.values()), cfg))
                     for (cfg, _), side in ((before[name], got.base), (after[name], got.head))]
            changes, compiled = platform.platform_changes(*sides), "full"
            files += _changed_references(before[name][0], after[name][0], root)
        else:
            env = after[name][0]
            changes, compiled = platform.agent_ca_changes(before[name][0], env), "incremental"
            files = _changed_references(before[name][0], env, root)
            shares = [[c for c in (platform.contribution(side.specs[p], env) for p in sorted(changed)
                                   if p in side.specs) if c is not None] for side in (got.base, got.head)]
            if Counter(shares[0]) != Counter(shares[1]):
                changes += platform.incremental_changes(env, shares[0], shares[1], rest)
        if changes:
            ordered = tuple(sorted(changes, key=Change.sort_key))
            out.append(EnvironmentDiff(name, ordered, risk.verdict(ordered), compiled, tuple(files)))
    return out, rest.lookups


def _in_environment(findings: list[Finding], environment: str) -> list[Finding]:
    """A spec's findings, minus those located in another environment's override block."""
    return [f for f in findings if not (f.path.startswith("overrides.") and
                                        not f.path.startswith(f"overrides.{environment}"))]


_ENV_ORDER = ("dev", "staging", "prod")


def _env_order(name: str) -> tuple[int, str]:
    return (_ENV_ORDER.index(name) if name in _ENV_ORDER else len(_ENV_ORDER), name)


