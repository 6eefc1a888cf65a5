"""The permission diff between two revisions: a short orchestrator over the git reader and the pure comparisons.

1. `agentiam.diff.collect`: the plan-level change set, every agent x environment whose `AgentPlan` differs,
   compiling only the specs that changed (the one part that reads git).
2. `agentiam.diff.describe.compare_agent`: each differing entry -> its changes, risk labels and spec lines.
3. `environment_diffs()`: the environment-wide part (`PlatformPlan`, trusted principal, account), in full
   where a stack config changed and incrementally from the changed specs elsewhere (`agentiam.diff.platform`).
4. `agentiam.diff.toolchange`: what agentiam's own code changes, from two snapshots.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path

from agentiam.diff import platform, risk, toolchange
from agentiam.diff.collect import Collected, Side, collect
from agentiam.diff.describe import Context, compare_agent
from agentiam.diff.gitsource import GitError, GitRepo, project_prefix, stack_of
from agentiam.diff.model import AgentDiff, Change, DiffReport, Direction, EnvironmentDiff, Op, System
from agentiam.environment.model import EnvironmentConfig
from agentiam.findings import Finding
from agentiam.iam import catalogue
from agentiam.plan.build import contribution, platform_plan
from agentiam.plan.locate import Locator


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
    findings_by_file: dict[str, list[Finding]] = {}
    for finding in got.head_findings:
        findings_by_file.setdefault(finding.file, []).append(finding)
    agents: list[AgentDiff] = []
    for entry in got.entries:
        head_spec = got.head.by_agent.get(entry.agent) if entry.after else None
        base_spec = got.base.by_agent.get(entry.agent) if entry.before else None
        ctx = Context(Locator(head_spec, head_envs.get(entry.environment)),
                      Locator(base_spec, base_envs.get(entry.environment)), entry.environment, accounts)
        spec_file = (entry.after or entry.before).source_file  # type: ignore[union-attr]
        agents.append(compare_agent(entry, ctx, findings_by_file.get(spec_file, [])))
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
            changes, compiled = [Change(System.ENVIRONMENT, Op.REMOVED, name, Direction.NARROWER)], "full"
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
            shares = [[c for c in (contribution(side.specs[p], env) for p in sorted(changed)
                                   if p in side.specs) if c is not None] for side in (got.base, got.head)]
            if Counter(shares[0]) != Counter(shares[1]):
                changes += platform.incremental_changes(env, shares[0], shares[1], rest)
        if changes:
            ordered = tuple(sorted(changes, key=Change.sort_key))
            out.append(EnvironmentDiff(name, ordered, risk.verdict(ordered), compiled, tuple(files)))
    return out, rest.lookups


_ENV_ORDER = ("dev", "staging", "prod")


def _env_order(name: str) -> tuple[int, str]:
    return (_ENV_ORDER.index(name) if name in _ENV_ORDER else len(_ENV_ORDER), name)
