"""Facade over the core: find specs, load them, check them, build plans. What the CLI and Pulumi program call."""

from __future__ import annotations

import datetime as dt
import gc
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from agentiam.environment.load import load_environment, stack_config_path, stack_names
from agentiam.environment.model import EnvironmentConfig, Selection
from agentiam.errors import ConfigError, SpecError
from agentiam.findings import Finding, Severity, has_errors
from agentiam.plan.build import build_plan
from agentiam.plan.model import IdentityPlan
from agentiam.rules.registry import run_rules
from agentiam.spec.validate import LoadedSpec, load_spec_file

DEFAULT_SPECS_DIR = Path("agent_specs")
DEFAULT_STACKS_DIR = Path("stacks")
SPEC_SUFFIXES = (".yaml", ".yml")


def discover_spec_files(paths: Iterable[Path]) -> list[Path]:
    """Spec files under the given files/folders (sub-folders included), sorted, without duplicates.

    A `*.yaml` entry that is not a readable file (a dangling or looping symlink) is kept, so loading reports it
    (YAML000): skipped silently, its agent would vanish from the plan and Pulumi would delete the identity.
    """
    found: set[Path] = set()
    for path in paths:
        if path.is_dir():
            found.update(p for p in path.rglob("*") if p.suffix in SPEC_SUFFIXES and not p.is_dir())
        else:
            found.add(path)
    return sorted(found)


def load_specs(files: Sequence[Path]) -> tuple[list[LoadedSpec], list[Finding]]:
    """Load every file; collect all findings instead of stopping at the first bad file."""
    specs: list[LoadedSpec] = []
    findings: list[Finding] = []
    for path in files:
        loaded, problems = load_spec_file(path)
        findings.extend(problems)
        if loaded is not None:
            specs.append(loaded)
    return specs, findings


def load_environments(stacks_dir: Path) -> dict[str, EnvironmentConfig]:
    """Environment facts keyed by environment name, with the shards of each environment checked together.

    Shards may differ only in `selection`; exactly one stack per environment owns the shared resources (two
    owners would fight over the mounts and boundaries, none would leave them unmanaged); and hash shards must
    cover every index, or the agents hashed to a missing shard would silently never be provisioned.
    """
    return _load_stacks(stacks_dir)[1]


def _load_stacks(stacks_dir: Path) -> tuple[dict[str, EnvironmentConfig], dict[str, EnvironmentConfig]]:
    """(config by stack, config by environment) of every stack file, read once; see `load_environments`."""
    by_stack: dict[str, EnvironmentConfig] = {}
    environments: dict[str, EnvironmentConfig] = {}
    selections: dict[str, list[tuple[str, Selection]]] = {}
    problems: list[str] = []
    for stack in stack_names(stacks_dir):
        try:
            config = load_environment(stacks_dir, stack)
        except ConfigError as exc:
            problems.append(str(exc))
            continue
        by_stack[stack] = config
        selections.setdefault(config.name, []).append((stack, config.selection))
        known = environments.get(config.name)
        if known is None:
            environments[config.name] = config
        elif known.model_copy(update={"selection": config.selection}) != config:
            problems.append(f"{stack_config_path(stacks_dir, stack)}: environment {config.name!r} is configured "
                            "differently by another stack; shards of one environment may differ only in `selection`")
    for name, stacks in sorted(selections.items()):
        problems.extend(_shard_problems(stacks_dir, name, stacks))
    if problems:
        raise ConfigError("\n".join(problems))
    return by_stack, environments


def _shard_problems(stacks_dir: Path, environment: str, stacks: list[tuple[str, Selection]]) -> list[str]:
    files = ", ".join(str(stack_config_path(stacks_dir, stack)) for stack, _ in stacks)
    problems = []
    owners = [stack for stack, selection in stacks if selection.shared_resources]
    if len(owners) != 1:
        problems.append(f"{files}: environment {environment!r} needs exactly one stack with "
                        f"`selection.shared_resources: true`, found {len(owners)}")
    hashed = [selection for _, selection in stacks if selection.teams is None]
    counts = {selection.shard_count for selection in hashed}
    if len(counts) > 1:
        problems.append(f"{files}: shards of environment {environment!r} disagree on shard_count ({sorted(counts)})")
    elif counts:
        (count,) = counts
        missing = sorted(set(range(count)) - {selection.shard_index for selection in hashed})
        if missing:
            problems.append(f"{files}: environment {environment!r} has shard_count {count} but no stack for "
                            f"shard_index {', '.join(map(str, missing))}; those agents would never be provisioned")
    return problems


@dataclass
class Validation:
    """Outcome of validating specs: the valid ones and every finding."""

    specs: list[LoadedSpec]
    findings: list[Finding] = field(default_factory=list)
    files_checked: int = 0

    @property
    def ok(self) -> bool:
        return not has_errors(self.findings)


@contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while specs are loaded and checked, restoring its state after.

    Loading allocates only acyclic data (dicts, lists, models) that stays alive until the run ends, so every
    full collection meanwhile rescans the whole fleet for nothing: ~30% of `validate` over 10,000 specs
    (bench/bench_validate.py). Reference counting still frees everything as usual.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def validate(paths: Sequence[Path], stacks_dir: Path = DEFAULT_STACKS_DIR, today: dt.date | None = None,
             environments: dict[str, EnvironmentConfig] | None = None) -> Validation:
    """Load and check specs against every guardrail; all problems in all files in one run."""
    files = discover_spec_files(paths)
    environments = load_environments(stacks_dir) if environments is None else environments
    with _cyclic_gc_paused():
        specs, findings = load_specs(files)
        findings.extend(run_rules(specs, environments, today or dt.date.today()))
    bad_files = {f.file for f in findings if f.severity is Severity.ERROR}
    return Validation([s for s in specs if s.file not in bad_files], sorted(findings), len(files))


def compile_plan(stack: str, specs_dir: Path = DEFAULT_SPECS_DIR, stacks_dir: Path = DEFAULT_STACKS_DIR,
                 today: dt.date | None = None) -> tuple[IdentityPlan, list[Finding]]:
    """The plan of one stack. Raises SpecError if any spec is invalid: nothing is ever half-applied."""
    if not stack_config_path(stacks_dir, stack).is_file():
        load_environment(stacks_dir, stack)  # raises the clearest error: no such stack, with the known ones
    by_stack, environments = _load_stacks(stacks_dir)  # every stack file read once, the shards checked together
    environment = by_stack.get(stack) or load_environment(stacks_dir, stack)
    result = validate([specs_dir], stacks_dir, today, environments)
    if not result.ok:
        raise SpecError([f for f in result.findings if f.severity is Severity.ERROR])
    return build_plan(result.specs, environment), result.findings
