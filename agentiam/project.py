"""Facade over the core: find specs, load them, check them, build plans. What the CLI and Pulumi program call."""

from __future__ import annotations

import datetime as dt
import gc
import itertools
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from agentiam.environment.load import LoadedStack, load_environment, project_root, read_stacks, stack_config_path
from agentiam.environment.model import EnvironmentConfig
from agentiam.errors import ConfigError, SpecError
from agentiam.findings import Finding, Severity, has_errors
from agentiam.inputs.files import SPEC, DiskTree, Refused, file_finding, split_path
from agentiam.plan.build import build_plan
from agentiam.plan.model import IdentityPlan
from agentiam.rules.fleet import FleetMember
from agentiam.rules.registry import RuleRun, judge_spec
from agentiam.spec.validate import LoadedSpec, SpecReading, ValidSpec, read_spec_bytes

DEFAULT_SPECS_DIR = Path("agent_specs")
DEFAULT_STACKS_DIR = Path("stacks")
SPEC_SUFFIXES = (".yaml", ".yml")


def read_spec_files(paths: Iterable[Path], anchor: Path = Path(".")) -> Iterator[tuple[str, bytes | Refused]]:
    """(file, bytes or refusal) of every spec under the given files/folders (sub-folders included), each once.

    A folder's `*.yaml`/`*.yml` files are read, a file named on its own whatever its name. Below `anchor` (the
    project root) no component may be a link; a link or special file met anywhere is refused, never skipped: a
    spec turned into a link, skipped silently, would drop its agent from the plan (and Pulumi would delete it).
    """
    trees: dict[tuple[str, str], list[str]] = {}
    base = os.path.abspath(anchor)
    for path in paths:  # grouped by tree, so the folders on the way are opened once (see `DiskTree.walk_many`)
        root, prefix, rel = split_path(path, base)
        trees.setdefault((root, prefix), []).append(rel)
    # One path is one walk, which meets each file once (links are refused, never followed): only several paths,
    # which may overlap, need the set of files already read (100,000 paths held: ~15 MB, docs/benchmarks.md).
    seen: set[str] | None = set() if sum(len(rels) for rels in trees.values()) > 1 else None
    for (root, prefix), rels in trees.items():
        for shown, got in DiskTree(root, prefix).walk_many(rels, SPEC, _is_spec_name):
            if seen is not None:
                key = os.path.normpath(shown)
                if key in seen:
                    continue
                seen.add(key)
            yield shown, got


def _is_spec_name(rel: str) -> bool:
    return rel.endswith(SPEC_SUFFIXES)


def load_specs(paths: Sequence[Path], anchor: Path = Path(".")) -> tuple[list[LoadedSpec], list[Finding], int]:
    """Load every spec under `paths`; collect all findings instead of stopping at the first bad file.

    Returns the valid specs, the findings and the number of files checked."""
    specs: list[LoadedSpec] = []
    findings: list[Finding] = []
    count = 0
    for file, got in read_spec_files(paths, anchor):
        count += 1
        loaded, _, problems = _read_one(file, got)
        findings.extend(problems)
        if loaded is not None:
            specs.append(loaded)
    if len(paths) > 1:  # each folder is read in order; several arguments are merged (by path components)
        specs.sort(key=_by_path)
    return specs, findings, count


def _read_one(file: str, got: bytes | Refused) -> SpecReading:
    """One file as read: its spec (valid, or what can be read of it), the findings of reading and validating it."""
    if isinstance(got, Refused):
        return SpecReading(None, None, [file_finding(file, got)])
    return read_spec_bytes(file, got)


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
             environments: dict[str, EnvironmentConfig] | None = None, keep_specs: bool = True,
             jobs: int = 1) -> Validation:
    """Load and check specs against every guardrail; all problems in all files in one run.

    A spec file with schema errors still gets the findings of every guardrail that needs none of its failed fields
    (`PartialSpec`). Stack-config findings are part of the result (located, every output format shows them); while
    there are any, the guardrails do not run, as they judge specs against environments that could not be read.

    Files are streamed: each is parsed, judged by the per-spec rules and dropped, only a small summary kept for the
    fleet rules (`RuleRun`). `keep_specs=False` (what `agentiam validate` uses) keeps no spec at all, so memory stays
    flat as the fleet grows; `Validation.specs` is then empty. With it, `jobs` > 1 parses and judges the files in
    that many worker processes (the fleet rules still run here, over the summaries they send back); findings
    and their order are the same."""
    keep = whole_spec if keep_specs else None
    specs, findings, count = check_specs(paths, stacks_dir, today, environments, keep, jobs)
    return Validation(specs, findings, count)


_Kept = TypeVar("_Kept", bound=ValidSpec)


def whole_spec(loaded: LoadedSpec) -> LoadedSpec:
    """`check_specs`' `keep` that keeps each spec with its document (to locate findings on its fields)."""
    return loaded


def check_specs(paths: Sequence[Path], stacks_dir: Path, today: dt.date | None,
                environments: Mapping[str, EnvironmentConfig] | None, keep: Callable[[LoadedSpec], _Kept] | None,
                jobs: int = 1, tolerated: frozenset[str] = frozenset()) -> tuple[list[_Kept], list[Finding], int]:
    """`validate`'s work: what `keep` makes of each valid spec (None: nothing kept) of the files without errors
    (errors of the rules in `tolerated` aside), every finding, sorted, and the number of files read. `keep` runs
    as each file is judged, so what it drops (`LoadedSpec.without_document`) is never held for the whole fleet."""
    config_findings: list[Finding] = []
    if environments is None:
        _, environments, config_findings = _load_stacks(stacks_dir)
    findings: list[Finding] = []
    specs: list[_Kept] = []
    run = RuleRun(environments, today or dt.date.today()) if not config_findings else None
    count = 0
    files = read_spec_files(paths, project_root(stacks_dir))
    parallel = run is not None and keep is None and jobs > 1
    with _cyclic_gc_paused():
        # With workers, the first chunk is judged here all the same: a repository that small never starts a process.
        for file, got in itertools.islice(files, _CHUNK) if parallel else files:
            count += 1
            loaded, part, problems = _read_one(file, got)
            findings.extend(problems)
            judged = loaded if loaded is not None else part
            if run is not None and judged is not None:
                findings.extend(run.add(judged))
            if loaded is not None and keep is not None:
                specs.append(keep(loaded))  # the document dropped here when `keep` drops it: before the next file
        if parallel and run is not None:
            for judged_findings in _judged_in_workers(files, run, jobs):
                count += 1
                findings.extend(judged_findings)
        if run is not None:
            # Several arguments are merged by path components (as `load_specs` orders them).
            findings.extend(run.finish(_by_path if len(paths) > 1 else None))
    if len(paths) > 1:
        specs.sort(key=_by_path)
    findings.extend(config_findings)
    bad_files = {f.file for f in findings if f.severity is Severity.ERROR and f.rule_id not in tolerated}
    return [s for s in specs if s.file not in bad_files], sorted(findings), count


# Files per task sent to a worker: large enough that pickling a task and its answer is a small part of its
# work, small enough that the workers stay busy to the end (docs/benchmarks.md).
_CHUNK = 256


def _judge_chunk(chunk: list[tuple[str, bytes | Refused]], environments: Mapping[str, EnvironmentConfig],
                 today: dt.date) -> list[tuple[list[Finding], FleetMember | None, bool]]:
    """In a worker: per file, its findings (input, schema, per-spec rules), its fleet summary and whether the spec
    is only partly valid."""
    out: list[tuple[list[Finding], FleetMember | None, bool]] = []
    for file, got in chunk:
        loaded, part, problems = _read_one(file, got)
        judged = loaded if loaded is not None else part
        if judged is None:
            out.append((problems, None, False))
            continue
        found, member = judge_spec(judged, environments, today)
        out.append((problems + found, member, loaded is None))
    return out


def _judged_in_workers(files: Iterator[tuple[str, bytes | Refused]], run: RuleRun, jobs: int
                       ) -> Iterator[list[Finding]]:
    """The findings of every file, judged in `jobs` worker processes in chunks, in file order; each summary is
    kept in `run`. The files are read here (the one reader that refuses links), only the bytes travel. No
    process starts when `files` is already exhausted."""
    first = list(itertools.islice(files, _CHUNK))
    if not first:
        return
    import concurrent.futures  # noqa: PLC0415 (only when asked for workers)
    import multiprocessing  # noqa: PLC0415

    # fork: the workers start with every module (pydantic models, rules, IAM catalogue) already imported.
    with concurrent.futures.ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("fork")) as pool:
        pending: list[concurrent.futures.Future] = []
        chunks = itertools.chain([first], iter(lambda: list(itertools.islice(files, _CHUNK)), []))
        for chunk in chunks:
            pending.append(pool.submit(_judge_chunk, chunk, run.environments, run.today))
            if len(pending) > 2 * jobs:  # bounded read-ahead: memory stays flat
                yield from _answers(pending.pop(0), run)
        for future in pending:
            yield from _answers(future, run)


def _answers(future: Any, run: RuleRun) -> Iterator[list[Finding]]:
    for findings, member, partial in future.result():
        if member is not None:
            run.keep(member, partial)
        yield findings


def _by_path(spec: ValidSpec | FleetMember) -> list[str]:
    return spec.file.split(os.sep)


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
    # Each spec is kept as its typed model only (`ValidSpec`): the plan locates nothing, and the parsed documents
    # were more than half of what a plan of the whole fleet held (docs/benchmarks.md).
    specs, findings, _ = check_specs([specs_dir], stacks_dir, today, environments, LoadedSpec.without_document)
    if has_errors(findings):
        raise SpecError([f for f in findings if f.severity is Severity.ERROR])
    return build_plan(specs, environment), findings
