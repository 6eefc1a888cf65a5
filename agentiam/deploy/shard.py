"""`agentiam shard`: split an environment across stacks of at most N agents, writing their stack config files.

Shards hash agent names (`names.shard_of`), so which stack holds an agent depends only on its name and the shard
count. The stack that owns the environment's shared resources stays shard 0 (its state holds the protected
mounts; moving them is an operation of its own, docs/deploy.md), the other shards are `Pulumi.<env>-<i>.yaml`.

What a run may change is narrow, so nothing written by hand is lost:
- in an existing stack file, only the `selection` block of `agentiam:environment`: every other line (comments,
  other config keys, encrypted secrets Pulumi wrote) stays byte for byte, and the result is parsed back and must
  differ from the original in `selection` alone;
- a new shard file is the owner's config (every shard must agree on everything but `selection`, CFG004) without
  its encrypted values, which belong to the owner's stack and its secrets provider;
- the shard count never shrinks (a removed shard's stack would keep its resources while other stacks create the
  same names), and is kept as it is while every shard still fits.
The same specs and stack files always give the same bytes, and a second run changes nothing.
"""

from __future__ import annotations

import math
import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from agentiam.deploy.pipeline import MAX_MATRIX
from agentiam.environment.load import CONFIG_KEY, LoadedStack, project_root, read_stacks, stack_config_path
from agentiam.environment.model import Selection
from agentiam.errors import ConfigError, SpecError, UserError
from agentiam.findings import Severity
from agentiam.inputs.files import STACK_CONFIG
from agentiam.plan.names import shard_of
from agentiam.project import load_environments, load_specs
from agentiam.spec.source import parse_spec_bytes

# The deploy workflow's shard job is one matrix over the environment's stacks (docs/facts.md#github-matrix).
MAX_SHARDS = MAX_MATRIX
# Pulumi's encrypted config value, `key: {secure: v1:...}`: encrypted for one stack (with the top-level
# `encryptionsalt`/`encryptedkey`/`secretsprovider` keys, which a new shard file leaves out too).
SECURE_KEY = "secure"


@dataclass(frozen=True)
class ShardFile:
    """One stack file of the new layout and what the run does to it."""

    stack: str
    path: Path
    shard_index: int
    agents: int
    action: str  # "created", "updated", "unchanged"
    text: str
    dropped_secrets: tuple[str, ...] = ()  # config keys of the owner's encrypted values this new stack must set


@dataclass(frozen=True)
class ShardLayout:
    """The environment's shards after the run."""

    environment: str
    agents: int
    previous_count: int
    shard_count: int
    moved: int  # agents provisioned by another stack than before
    files: list[ShardFile] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return any(f.action != "unchanged" for f in self.files)


def shard_sizes(agents: Sequence[str], count: int) -> list[int]:
    """How many of `agents` each of `count` shards holds."""
    counts = Counter(shard_of(name, count) for name in agents)
    return [counts.get(i, 0) for i in range(count)]


def shard_count_for(agents: Sequence[str], max_agents: int, current: int) -> int:
    """The current count while every shard fits, else the smallest larger count whose fullest shard fits.

    Hash shards are uneven (one holds more than `len/count`), so the count is searched, not divided."""
    if max(shard_sizes(agents, current)) <= max_agents:
        return current
    count = max(current + 1, math.ceil(len(agents) / max_agents))
    while count <= MAX_SHARDS and max(shard_sizes(agents, count)) > max_agents:
        count += 1
    if count > MAX_SHARDS:
        raise UserError(f"{len(agents):,} agents need more than {MAX_SHARDS} shards of at most {max_agents:,}, "
                        "the most one GitHub Actions matrix runs (docs/facts.md#github-matrix); "
                        "raise --max-agents or split the fleet into environments")
    return count


def _selection_block(indent: str, selection: Selection) -> list[str]:
    return [f"{indent}selection:\n", f"{indent}  shard_count: {selection.shard_count}\n",
            f"{indent}  shard_index: {selection.shard_index}\n",
            f"{indent}  shared_resources: {'true' if selection.shared_resources else 'false'}\n"]


def _indent_of(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _block_end(lines: list[str], start: int, indent: int) -> int:
    """Index after the last line of the block whose key is at `start` (lines indented deeper, blank lines inside)."""
    end = start + 1
    last = end
    while end < len(lines):
        stripped = lines[end].strip()
        if stripped and _indent_of(lines[end]) <= indent:
            break
        end += 1
        if stripped:
            last = end
    return last


def _with_selection(loaded: LoadedStack, text: str, selection: Selection) -> str:
    """`text` with the `selection` block of `agentiam:environment` replaced (or added): nothing else changes."""
    document = loaded.document
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    env_line, env_column = document.position(("config", CONFIG_KEY), at_key=True)
    _, child_column = document.position(("config", CONFIG_KEY, "name"), at_key=True)
    indent = " " * (child_column - 1)
    if "selection" in document.data["config"][CONFIG_KEY]:
        line, column = document.position(("config", CONFIG_KEY, "selection"), at_key=True)
        start, end = line - 1, _block_end(lines, line - 1, column - 1)
    else:
        start = end = _block_end(lines, env_line - 1, env_column - 1)
    return "".join(lines[:start] + _selection_block(indent, selection) + lines[end:])


def _expected(data: dict[str, Any], selection: Selection) -> dict[str, Any]:
    environment = {key: value for key, value in data["config"][CONFIG_KEY].items() if key != "selection"}
    environment["selection"] = selection.model_dump(exclude={"teams"})
    config = {**data["config"], CONFIG_KEY: environment}
    return {**data, "config": config}


def _normalised(data: dict[str, Any]) -> dict[str, Any]:
    """The document with `selection` written out in full (defaults included), for comparison."""
    selection = Selection.model_validate(data["config"][CONFIG_KEY].get("selection", {}))
    return _expected(data, selection)


def _checked(file: str, text: str, expected: dict[str, Any]) -> str:
    """`text` if it parses to `expected`; a UserError otherwise (a layout the line edit could not handle)."""
    document, findings = parse_spec_bytes(file, text.encode("utf-8"), STACK_CONFIG)
    if document is None or _normalised(document.data) != expected:
        detail = "; ".join(f.render() for f in findings) or "it would change more than `selection`"
        raise UserError(f"{file}: cannot rewrite its `selection` block safely ({detail}); write "
                        f"`selection: {expected['config'][CONFIG_KEY]['selection']}` by hand, then run again")
    return text


def _new_file_text(owner: LoadedStack, env: str, selection: Selection, command: str) -> tuple[str, tuple[str, ...]]:
    """A new shard's stack file: the owner's config without its encrypted values and secrets-provider keys."""
    config = owner.document.data["config"]
    dropped = tuple(sorted(key for key, value in config.items() if isinstance(value, dict) and SECURE_KEY in value))
    plain = {key: value for key, value in config.items() if key not in dropped}
    data = _expected({"config": plain}, selection)
    header = [(f"# Shard {selection.shard_index} of {selection.shard_count} of environment {env}, written by "
               f"`{command}`"),
              f"# from {owner.file} (the stack owning the environment's shared resources). Every shard must agree on",
              "# everything but `selection`: change them all together (`agentiam validate` checks it, CFG004)."]
    if dropped:
        header.append(f"# Set this stack's own secrets: pulumi config set --secret --stack <stack> KEY "
                      f"({', '.join(dropped)})")
    body = yaml.safe_dump(data, sort_keys=False, default_flow_style=False, width=120, allow_unicode=True)
    return "\n".join(header) + "\n" + body, dropped


def _environment_stacks(stacks_dir: Path, env: str) -> tuple[list[LoadedStack], dict[str, LoadedStack]]:
    """(the environment's stacks, every stack by name); ConfigError for any stack file that is not valid."""
    loaded, findings = read_stacks(stacks_dir)
    errors = [f for f in findings if f.severity is Severity.ERROR]
    if errors:
        raise ConfigError(findings=errors)
    mine = sorted((s for s in loaded if s.config.name == env), key=lambda s: s.config.selection.shard_index)
    if not mine:
        known = sorted({s.config.name for s in loaded})
        raise UserError(f"no stack config of environment {env!r} in {stacks_dir}; known: {', '.join(known) or 'none'}")
    return mine, {s.stack: s for s in loaded}


def plan_shards(env: str, max_agents: int, agents: Sequence[str], stacks_dir: Path, command: str) -> ShardLayout:
    """The shard files environment `env` needs for `agents` (its agents' names), without writing anything."""
    if max_agents < 1:
        raise UserError("--max-agents must be at least 1")
    load_environments(stacks_dir)  # the shards-fit-together checks (CFG004): ConfigError with every finding
    mine, by_stack = _environment_stacks(stacks_dir, env)
    if any(s.config.selection.teams is not None for s in mine):
        raise UserError(f"environment {env!r} is split by team (`selection.teams`); agentiam shard splits by hash "
                        "only: remove the team selection first")
    owner = next(s for s in mine if s.config.selection.shared_resources)
    current = owner.config.selection.shard_count
    count = shard_count_for(agents, max_agents, current)
    sizes = shard_sizes(agents, count)
    moved = sum(shard_of(a, count) != shard_of(a, current) for a in agents)
    existing = {s.config.selection.shard_index: s for s in mine}
    files = []
    for index in range(count):
        selection = Selection(teams=None, shard_count=count, shard_index=index, shared_resources=index == 0)
        stack = existing.get(index)
        if stack is not None:
            path = Path(stack.file)
            text = path.read_text(encoding="utf-8")
            expected = _expected(stack.document.data, selection)
            if _normalised(stack.document.data) == expected:
                files.append(ShardFile(stack.stack, path, index, sizes[index], "unchanged", text))
                continue
            new = _checked(stack.file, _with_selection(stack, text, selection), expected)
            files.append(ShardFile(stack.stack, path, index, sizes[index], "updated", new))
            continue
        name = f"{env}-{index}"
        path = stack_config_path(stacks_dir, name)
        if name in by_stack or path.exists() or path.is_symlink():
            raise UserError(f"{path} exists and is not shard {index} of environment {env!r}; rename or remove it, "
                            "then run again")
        text, dropped = _new_file_text(owner, env, selection, command)
        expected = _expected({"config": {k: v for k, v in owner.document.data["config"].items()
                                         if k not in dropped}}, selection)
        files.append(ShardFile(name, path, index, sizes[index], "created", _checked(str(path), text, expected),
                               dropped))
    return ShardLayout(env, len(agents), current, count, moved, files)


def write_shards(layout: ShardLayout) -> None:
    """Write the created and updated files: each replaced whole (a temporary file renamed over it), a new one
    never over a file that appeared meanwhile."""
    for shard in layout.files:
        if shard.action == "unchanged":
            continue
        temporary = shard.path.with_name(f".{shard.path.name}.agentiam-shard.tmp")
        try:
            with temporary.open("x", encoding="utf-8") as handle:
                handle.write(shard.text)
            if shard.action == "created":
                os.link(temporary, shard.path)  # fails if the file exists: never overwrites
                temporary.unlink()
            else:
                os.replace(temporary, shard.path)
        except OSError as exc:
            temporary.unlink(missing_ok=True)
            raise UserError(f"{shard.path}: cannot write it: {exc.strerror}") from exc


def environment_agents(specs_dir: Path, stacks_dir: Path, env: str) -> list[str]:
    """Names of the agents deployed to `env`, from specs that load; SpecError if any spec does not (an agent
    left out of the count could overfill a shard)."""
    specs, findings, _ = load_specs([specs_dir], project_root(stacks_dir))
    errors = [f for f in findings if f.severity is Severity.ERROR]
    if errors:
        raise SpecError(errors)
    return sorted(s.spec.name for s in specs if env in s.spec.environments)
