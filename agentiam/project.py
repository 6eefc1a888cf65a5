"""Facade over the core: find specs, load them, check them, build plans. What the CLI and Pulumi program call."""

from __future__ import annotations

import datetime as dt
import gc
import os
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from agentiam.environment.load import LoadedStack, load_environment, project_root, read_stacks, stack_config_path
from agentiam.environment.model import EnvironmentConfig
from agentiam.errors import ConfigError, SpecError
from agentiam.findings import Finding, Severity, has_errors
from agentiam.inputs.files import SPEC, DiskTree, Refused, file_finding, split_path
from agentiam.plan.build import build_plan
from agentiam.plan.model import IdentityPlan
from agentiam.rules.registry import run_rules
from agentiam.spec.validate import LoadedSpec, PartialSpec, read_spec_bytes

DEFAULT_SPECS_DIR = Path("agent_specs")
DEFAULT_STACKS_DIR = Path("stacks")
SPEC_SUFFIXES = (".yaml", ".yml")


def read_spec_files(paths: Iterable[Path], anchor: Path = Path(".")) -> Iterator[tuple[str, bytes | Refused]]:
    """(file, bytes or refusal) of every spec under the given files/folders (sub-folders included), each once.

    A folder's `*.yaml`/`*.yml` files are read, a file named on its own whatever its name. Below `anchor` (the
    project root) no component may be a link; a link or special file met anywhere is refused, never skipped: a
    spec turned into a link, skipped silently, would drop its agent from the plan (and Pulumi would delete it).
    """
    seen: set[str] = set()
    trees: dict[tuple[str, str], list[str]] = {}
    base = os.path.abspath(anchor)
    for path in paths:  # grouped by tree, so the folders on the way are opened once (see `DiskTree.walk_many`)
        root, prefix, rel = split_path(path, base)
        trees.setdefault((root, prefix), []).append(rel)
    for (root, prefix), rels in trees.items():
        for shown, got in DiskTree(root, prefix).walk_many(rels, SPEC, _is_spec_name):
            key = os.path.normpath(shown)
            if key not in seen:
                seen.add(key)
                yield shown, got


def _is_spec_name(rel: str) -> bool:
    return rel.endswith(SPEC_SUFFIXES)


def load_specs(paths: Sequence[Path], anchor: Path = Path(".")) -> tuple[list[LoadedSpec], list[Finding], int]:
    """Load every spec under `paths`; collect all findings instead of stopping at the first bad file.

    Returns the valid specs, the findings and the number of files checked."""
    specs, _, findings, count = _read_specs(paths, anchor)
    return specs, findings, count


def _read_specs(paths: Sequence[Path], anchor: Path) -> tuple[list[LoadedSpec], list[PartialSpec], list[Finding], int]:
    """`load_specs`, plus what can be read of the specs with schema errors (for the guardrails, never the plan)."""
    specs: list[LoadedSpec] = []
    partial: list[PartialSpec] = []
    findings: list[Finding] = []
    count = 0
    for file, got in read_spec_files(paths, anchor):
        count += 1
        if isinstance(got, Refused):
            findings.append(file_finding(file, got))
            continue
        loaded, part, problems = read_spec_bytes(file, got)
        findings.extend(problems)
        if loaded is not None:
            specs.append(loaded)
        elif part is not None:
            partial.append(part)
    if len(paths) > 1:  # each folder is read in order; several arguments are merged (by path components)
        specs.sort(key=lambda s: s.file.split(os.sep))
    return specs, partial, findings, count


def load_environments(stacks_dir: Path) -> dict[str, EnvironmentConfig]:
    """Environment facts keyed by environment name, with the shards of each environment checked together.

    Shards may differ only in `selection`; exactly one stack per environment owns the shared resources (two
    owners would fight over the mounts and boundaries, none would leave them unmanaged); and hash shards must
    cover every index, or the agents hashed to a missing shard would silently never be provisioned.
    ConfigError carries every finding.
    """
    _, environments, findings = _load_stacks(stacks_dir)
    if findings:
        raise ConfigError(findings=findings)
    return environments


def _load_stacks(stacks_dir: Path) -> tuple[dict[str, EnvironmentConfig], dict[str, EnvironmentConfig], list[Finding]]:
    """(config by stack, config by environment, findings) of every stack file, read once; see `load_environments`."""
    loaded, findings = read_stacks(stacks_dir)
    by_stack: dict[str, EnvironmentConfig] = {}
    environments: dict[str, EnvironmentConfig] = {}
    members: dict[str, list[LoadedStack]] = {}
    for stack in sorted(loaded, key=lambda s: s.stack):
        config = stack.config
        by_stack[stack.stack] = config
        members.setdefault(config.name, []).append(stack)
        known = environments.get(config.name)
        if known is None:
            environments[config.name] = config
        elif known.model_copy(update={"selection": config.selection}) != config:
            findings.append(stack.finding("CFG004", (), f"environment {config.name!r} is configured differently "
                                          f"by {members[config.name][0].file}; shards of one environment may "
                                          "differ only in `selection`"))
    for name, stacks in sorted(members.items()):
        findings.extend(_shard_problems(name, stacks))
    return by_stack, environments, sorted(findings)


def _shard_problems(environment: str, stacks: list[LoadedStack]) -> list[Finding]:
    """Located on the first stack's `selection` (where the fix goes), naming every stack file of the environment."""
    files = ", ".join(stack.file for stack in stacks)
    problems = []
    owners = [stack for stack in stacks if stack.config.selection.shared_resources]
    if len(owners) != 1:
        problems.append(f"{files}: environment {environment!r} needs exactly one stack with "
                        f"`selection.shared_resources: true`, found {len(owners)}")
    hashed = [stack.config.selection for stack in stacks if stack.config.selection.teams is None]
    counts = {selection.shard_count for selection in hashed}
    if len(counts) > 1:
        problems.append(f"{files}: shards of environment {environment!r} disagree on shard_count ({sorted(counts)})")
    elif counts:
        (count,) = counts
        missing = sorted(set(range(count)) - {selection.shard_index for selection in hashed})
        if missing:
            problems.append(f"{files}: environment {environment!r} has shard_count {count} but no stack for "
                            f"shard_index {', '.join(map(str, missing))}; those agents would never be provisioned")
    return [stacks[0].finding("CFG004", ("selection",), message) for message in problems]


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
    """Load and check specs against every guardrail; all problems in all files in one run.

    A spec file with schema errors still gets the findings of every guardrail that needs none of its failed fields
    (`PartialSpec`). Stack-config findings are part of the result (located, every output format shows them); while
    there are any, the guardrails do not run, as they judge specs against environments that could not be read."""
    config_findings: list[Finding] = []
    if environments is None:
        _, environments, config_findings = _load_stacks(stacks_dir)
    with _cyclic_gc_paused():
        specs, partial, findings, count = _read_specs(paths, project_root(stacks_dir))
        if not config_findings:
            findings.extend(run_rules(specs, environments, today or dt.date.today(), partial))
    findings.extend(config_findings)
    bad_files = {f.file for f in findings if f.severity is Severity.ERROR}
    return Validation([s for s in specs if s.file not in bad_files], sorted(findings), count)


def compile_plan(stack: str, specs_dir: Path = DEFAULT_SPECS_DIR, stacks_dir: Path = DEFAULT_STACKS_DIR,
                 today: dt.date | None = None) -> tuple[IdentityPlan, list[Finding]]:
    """The plan of one stack. Raises ConfigError or SpecError with every finding if a stack config or a spec is
    invalid: nothing is ever half-applied."""
    if not stack_config_path(stacks_dir, stack).is_file():
        load_environment(stacks_dir, stack)  # raises the clearest error: no such stack (with the known ones), a link
    by_stack, environments, config_findings = _load_stacks(stacks_dir)  # every file read once, shards together
    if config_findings:
        raise ConfigError(findings=config_findings)
    environment = by_stack.get(stack) or load_environment(stacks_dir, stack)
    result = validate([specs_dir], stacks_dir, today, environments)
    if not result.ok:
        raise SpecError([f for f in result.findings if f.severity is Severity.ERROR])
    return build_plan(result.specs, environment), result.findings
