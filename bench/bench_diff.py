"""Benchmark: `agentiam diff` on a 10,000-agent repository where the head commit changes 10 specs.

Builds a temporary git repository (the project's stack configs + 10,000 generated specs in three
environments), commits 10 realistic spec changes on top, then measures in the same run:

- `agentiam diff --base base --head head --format json` as a subprocess (wall time, Python start included);
- the same with the working tree as head (no --head: every spec on disk is read and hashed);
- the same diff in-process (`compute_diff`), the engine alone;
- the baseline: compile everything at both revisions (read every spec from git objects, validate it
  against every guardrail, build the full plan of every stack) and compare the agent entries.

It checks the two agree on which agent x environment entries changed and on the environment-wide
changes (one edit adds an action new to its function class, so each environment's class ceiling
changes; the diff finds that incrementally, with a few `git grep` look-ups of the unchanged specs),
then prints the figures and the ratio baseline / diff.

    python bench/bench_diff.py           # 10,000 specs, 10 changed
    python bench/bench_diff.py 2000 5    # other sizes
"""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agentiam.diff.compute import compute_diff  # noqa: E402
from agentiam.diff.gitsource import GitRepo, GitTree, stack_of  # noqa: E402
from agentiam.diff.model import Change  # noqa: E402
from agentiam.diff.platform import EnvironmentSide, platform_changes  # noqa: E402
from agentiam.environment.load import parse_environment  # noqa: E402
from agentiam.plan.build import build_plan  # noqa: E402
from agentiam.rules.registry import run_rules  # noqa: E402
from agentiam.spec.validate import load_spec_bytes  # noqa: E402
from tests.program.fleet import write_fleet  # noqa: E402

PROJECT = Path(__file__).resolve().parent.parent
CHANGES = (  # realistic edits a pull request makes, applied round-robin to the changed specs
    ("  token_ttl: 1h\n", "  token_ttl: 2h\n"),
    ("      actions: [s3:GetObject, s3:ListBucket]\n",
     "      actions: [s3:GetObject, s3:ListBucket, s3:GetObjectTagging]\n"),
    ("    requests: 100\n", "    requests: 200\n"),
    ("      capabilities: [read]\n", "      capabilities: [read, list]\n"),
)


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)


def build_repository(root: Path, count: int, changed: int) -> None:
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    git(root, "config", "user.email", "bench@example.com")
    git(root, "config", "user.name", "bench")
    (root / "stacks").mkdir()
    for config in (PROJECT / "stacks").glob("Pulumi.*.yaml"):
        shutil.copy(config, root / "stacks" / config.name)
    shutil.copytree(PROJECT / "stacks" / "ca", root / "stacks" / "ca")
    names = write_fleet(root / "agent_specs" / "fleet", count)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "base")
    git(root, "tag", "base")
    step = max(1, count // changed)
    edited = 0
    for index in range(0, count, step):
        if edited == changed:
            break
        path = root / "agent_specs" / "fleet" / f"{names[index]}.yaml"
        text = path.read_text()
        for old, new in CHANGES[edited % len(CHANGES):] + CHANGES[:edited % len(CHANGES)]:
            if old in text:
                path.write_text(text.replace(old, new, 1))
                edited += 1
                break
    git(root, "commit", "-q", "-am", f"{edited} spec changes")
    git(root, "tag", "head")


def full_recompile(root: Path) -> tuple[set[tuple[str, str]], dict[str, list[Change]]]:
    """Baseline: every spec at both revisions, validated and planned in every stack, entries and platforms compared."""
    repo = GitRepo(root)
    today = dt.date.today()
    sides = []
    for rev in ("base", "head"):
        snap = repo.snapshot(rev, "agent_specs", "stacks")
        blobs = repo.read_blobs(list(snap.specs.values()) + list(snap.stacks.values()))
        files = GitTree(repo, snap.commit or "")  # the agent CA at that revision
        stacks = {stack_of(p): parse_environment(p, blobs[oid], files) for p, oid in snap.stacks.items()}
        specs = [s for s in (load_spec_bytes(p, blobs[oid])[0] for p, oid in sorted(snap.specs.items())) if s]
        run_rules(specs, {c.name: c for c in stacks.values()}, today)
        entries, platforms = {}, {}
        for env in stacks.values():
            plan = build_plan(specs, env)
            platforms[env.name] = EnvironmentSide(env, plan.platform)
            for agent in plan.agents:
                entries[(agent.environment, agent.agent)] = agent
        sides.append((entries, platforms))
    (before, old), (after, new) = sides
    described = {name: sorted(platform_changes(old[name], new[name]), key=Change.sort_key) for name in old}
    return ({k for k in set(before) | set(after) if before.get(k) != after.get(k)},
            {name: changes for name, changes in described.items() if changes})


def timed(func, *args):
    start = time.perf_counter()
    result = func(*args)
    return result, time.perf_counter() - start


def main(count: int, changed: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "repo"
        _, setup_s = timed(build_repository, root, count, changed)
        compute_diff(GitRepo(root), "base", "head")  # warm-up: imports, IAM catalogue of the services used
        cli_s = []
        for _ in range(3):
            start = time.perf_counter()
            subprocess.run(["agentiam", "diff", "--base", "base", "--head", "head", "--format", "json",
                            "--fail-on", "never", "--output", str(Path(tmp) / "diff.json")], cwd=root, check=True)
            cli_s.append(time.perf_counter() - start)
        worktree_s = []
        for _ in range(3):  # what a developer runs locally: head = the working tree (every file hashed)
            start = time.perf_counter()
            subprocess.run(["agentiam", "diff", "--base", "base", "--format", "json", "--fail-on", "never",
                            "--output", str(Path(tmp) / "diff.json")], cwd=root, check=True)
            worktree_s.append(time.perf_counter() - start)
        engine = [timed(compute_diff, GitRepo(root), "base", "head") for _ in range(3)]
        report = engine[0][0]
        (baseline_keys, baseline_envs), full_s = timed(full_recompile, root)
    diff_keys = {(a.environment, a.agent) for a in report.agents}
    assert diff_keys == baseline_keys, "diff and full recompile disagree"
    assert {e.environment: list(e.changes) for e in report.environments} == baseline_envs, \
        "environment-wide changes of diff and full recompile disagree"
    engine_s = min(s for _, s in engine)
    print(f"repository: {count} specs x 3 environments, {len(report.changed_spec_files)} specs changed in head "
          f"(built in {setup_s:.1f} s)")
    print(f"changed agent x environment entries: {len(diff_keys)}; spec files compiled by diff: "
          f"{report.specs_compiled} (both revisions)")
    print(f"environment-wide changes: {sum(len(e.changes) for e in report.environments)} in "
          f"{', '.join(f'{e.environment} ({e.compiled})' for e in report.environments) or 'none'}; "
          f"git grep look-ups of unchanged specs: {report.rest_lookups}")
    print(f"agentiam diff (CLI, wall, best of 3):     {min(cli_s):8.3f} s")
    print(f"agentiam diff, head = working tree:       {min(worktree_s):8.3f} s")
    print(f"diff engine in-process (best of 3):       {engine_s:8.3f} s")
    print(f"full recompile of both revisions:         {full_s:8.3f} s")
    print(f"ratio full recompile / diff engine:       {full_s / engine_s:8.1f}x")
    print(f"ratio full recompile / agentiam diff CLI: {full_s / min(cli_s):8.1f}x")


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:]]
    main(*(args + [10_000, 10][len(args):]))
