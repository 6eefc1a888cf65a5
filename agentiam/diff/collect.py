"""The git side of the diff: load two revisions, compiling only the specs that changed, into their plan entries.

`collect()` returns the plan-level change set, i.e. every agent x environment whose `AgentPlan` differs. Only spec
files whose blob differs are loaded and compiled, plus every spec of a stack whose config changed (then each of its
agents may change). An agent's plan entry depends on its own spec and its stack config only, so this equals the
difference of the full plans (tests/diff/test_full_plans.py). Everything after it is pure over the two sides
(`agentiam.diff.describe`, `agentiam.diff.platform`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field

from agentiam.diff.gitsource import GitRepo, GitTree, Snapshot, project_prefix, stack_of
from agentiam.diff.model import EntryChange
from agentiam.environment.load import parse_environments
from agentiam.environment.model import EnvironmentConfig
from agentiam.errors import ConfigError, SpecError
from agentiam.findings import Finding
from agentiam.inputs.files import (REFERENCED, SPEC, STACK_CONFIG, InputKind, Problem, Refused, file_finding,
                                   too_large_detail)
from agentiam.inputs.references import FileTree
from agentiam.plan.build import agent_plan, selected
from agentiam.plan.model import AgentPlan
from agentiam.rules.registry import run_rules
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
