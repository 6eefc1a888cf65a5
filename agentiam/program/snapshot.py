"""What deploys, as canonical JSON: every resource a program run registers, with its inputs, options and outputs.

`agentiam snapshot` writes one file per stack. Built from a capture (`agentiam.program.capture`), but this module
imports no Pulumi: the diff reads snapshots without it (`agentiam.diff.toolchange`). Canonical means: the same
program over the same inputs gives the same bytes whatever order its resources registered in; URNs lose their
`urn:pulumi:<stack>::<project>::` prefix; resources are keyed and sorted by their qualified type and name.

No secret is written. Values the program received as secret config (placeholders: a snapshot never reads a real
secret) are replaced wherever they appear by `[secret:<config key>]`, so a secret flowing into a plain input shows
as such; every value Pulumi marks secret (secret inputs, secret stack outputs) is replaced by
`[secret sha256:<16 hex>]`, a fingerprint of the value after that replacement: a change stays visible, the value
does not.
"""

from __future__ import annotations

import gc
import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import yaml

from agentiam.environment.load import load_environment, stack_config_path, stack_names
from agentiam.errors import ConfigError, UserError

SNAPSHOT_FORMAT = 1
KIND = "agentiam-program-snapshot"
_PATH_PART = re.compile(r"\.?([^.\[\]]+)|\[(\d+)\]")


class _Record(Protocol):
    type_token: str
    name: str
    inputs: dict[str, Any]
    urn: str
    parent_urn: str | None
    custom: bool
    secret_inputs: frozenset[str]
    dependencies: frozenset[str]
    options: dict[str, Any]


def resource_key(urn: str) -> str:
    """`urn:pulumi:dev::agentiam::a$aws:iam/role:Role::x` -> `a$aws:iam/role:Role::x` (qualified type, name)."""
    parts = urn.split("::", 2)
    return parts[2] if len(parts) == 3 and parts[0].startswith("urn:pulumi:") else urn


def _plain(value: Any) -> Any:
    """JSON data only: a value the SDK hands over as another type (a resource reference, an asset) by its type."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return f"<{type(value).__module__}.{type(value).__qualname__}>"


def _scrub(value: Any, secrets: Mapping[str, str], urn_prefix: str) -> Any:
    """Injected secret values -> `[secret:<key>]`, URNs of this stack -> resource keys, in every string."""
    if isinstance(value, str):
        for key, secret in secrets.items():
            if secret:
                value = value.replace(secret, f"[secret:{key}]")
        return value.replace(urn_prefix, "") if urn_prefix else value
    if isinstance(value, dict):
        return {k: _scrub(v, secrets, urn_prefix) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v, secrets, urn_prefix) for v in value]
    return value


def fingerprint(value: Any) -> str:
    """`[secret sha256:<16 hex>]` of a value (already scrubbed of injected secrets)."""
    digest = hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:16]
    return f"[secret sha256:{digest}]"


def _mask_leaves(value: Any) -> Any:
    """Every scalar of a secret subtree replaced by its fingerprint; keys and shape stay (they are code, not data)."""
    if isinstance(value, dict):
        return {k: _mask_leaves(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask_leaves(v) for v in value]
    return fingerprint(value)


def _split(path: str) -> list[str | int]:
    """`postgresql.connectionUrl`, `a[0].b` -> parts, as the capture writes secret paths."""
    return [int(index) if index else name for name, index in _PATH_PART.findall(path)]


def _mask_path(value: Any, parts: list[str | int]) -> Any:
    if not parts:
        return _mask_leaves(value)
    head, rest = parts[0], parts[1:]
    if isinstance(value, dict) and isinstance(head, str) and head in value:
        return {**value, head: _mask_path(value[head], rest)}
    if isinstance(value, list) and isinstance(head, int) and 0 <= head < len(value):
        return [*value[:head], _mask_path(value[head], rest), *value[head + 1:]]
    return value


def mask_secret_paths(inputs: Any, paths: Iterable[str]) -> Any:
    """`inputs` with each secret path (`postgresql`, `tags.x`, `list[2]`) masked; an empty path masks everything."""
    for path in sorted(paths):
        inputs = _mask_path(inputs, _split(path)) if path else _mask_leaves(inputs)
    return inputs


def build(stack: str, project: str, environment: str, records: Iterable[_Record], outputs: Mapping[str, Any],
          secret_outputs: Iterable[str], secret_config: Mapping[str, str], error: str | None = None) -> dict[str, Any]:
    """The snapshot of one program run (`error`: the program refused the stack; `records`: what it registered)."""
    prefix = f"urn:pulumi:{stack}::{project}::"
    secrets = dict(sorted(secret_config.items(), key=lambda kv: -len(kv[1])))  # longest first: no partial hits

    def clean(value: Any) -> Any:
        return _scrub(_plain(value), secrets, prefix)

    resources = []
    for record in records:
        inputs = mask_secret_paths(clean(record.inputs), record.secret_inputs)
        resources.append({
            "key": resource_key(record.urn), "type": record.type_token, "name": clean(record.name),
            "parent": resource_key(record.parent_urn) if record.parent_urn else None, "custom": record.custom,
            "inputs": inputs, "secret_inputs": sorted(record.secret_inputs),
            "dependencies": sorted(resource_key(u) for u in record.dependencies),
            "options": clean(record.options)})
    hidden = set(secret_outputs)
    shown = {name: _mask_leaves(clean(value)) if name in hidden else clean(value) for name, value in outputs.items()}
    return {"format": SNAPSHOT_FORMAT, "kind": KIND, "stack": stack, "project": project, "environment": environment,
            "error": None if error is None else clean(error),
            "resources": sorted(resources, key=lambda r: r["key"]),
            "outputs": shown, "secret_outputs": sorted(hidden)}


def dumps(snapshot: Mapping[str, Any]) -> str:
    """The canonical bytes of a snapshot: sorted keys, one resource per block, a final newline."""
    return json.dumps(snapshot, sort_keys=True, indent=1, ensure_ascii=False) + "\n"


# --------------------------------------------------------------------------------------------------------
# Taking a snapshot: the program Pulumi would run, over the stack configs Pulumi would read


@dataclass(frozen=True)
class PulumiProject:
    """What `Pulumi.yaml` tells the Pulumi CLI: the project's name, the program to run, where stack configs are."""

    file: Path
    name: str
    program: Path  # the `__main__.py` Pulumi runs (`main:` is a folder holding it, or the file itself)
    stack_config_dir: str  # relative to the folder the stacks are read from


def pulumi_project(code_dir: Path) -> PulumiProject:
    """Read `<code_dir>/Pulumi.yaml`; UserError naming the file and field when it cannot be followed."""
    file = code_dir / "Pulumi.yaml"
    try:
        raw = yaml.safe_load(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UserError(f"{file}: cannot read the Pulumi project file: {exc.strerror}; run from the project root "
                        "or pass --code") from exc
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise UserError(f"{file}: not a readable Pulumi project file: {exc}") from exc
    if not isinstance(raw, dict) or not isinstance(raw.get("name"), str) or not raw["name"]:
        raise UserError(f"{file}: `name` must be the project's name")
    main, config_dir = raw.get("main", "."), raw.get("stackConfigDir", ".")
    for field_name, value in (("main", main), ("stackConfigDir", config_dir)):
        if not isinstance(value, str) or not value:
            raise UserError(f"{file}: `{field_name}` must be a path")
    program = (code_dir / main).resolve()
    if program.is_dir():
        program = program / "__main__.py"
    if not program.is_file():
        raise UserError(f"{file}: `main: {main}` names no program ({program} is not a file)")
    return PulumiProject(file, raw["name"], program, config_dir)


def _sources(package: Path) -> dict[str, bytes]:
    return {p.relative_to(package).as_posix(): p.read_bytes() for p in sorted(package.rglob("*.py"))}


def check_running_code(code_dir: Path) -> None:
    """Refuse to snapshot `code_dir`'s program with another agentiam than the one in `code_dir` (if it has one).

    The program imports `agentiam` from wherever this process found it (an installed copy, PYTHONPATH, the working
    directory under `python -c`), not necessarily from `code_dir`: the snapshot would then show some other code's
    effect. An identical copy (the review job installs the checkout it runs) is fine.
    """
    import agentiam  # noqa: PLC0415 (the running package, whatever its location)

    theirs = code_dir.resolve() / "agentiam"
    mine = Path(agentiam.__file__).resolve().parent
    if not theirs.is_dir() or theirs == mine:
        return
    try:
        a, b = _sources(mine), _sources(theirs)
    except OSError as exc:
        raise UserError(f"cannot compare {mine} with {theirs}: {exc}") from exc
    differ = sorted(name for name in set(a) | set(b) if a.get(name) != b.get(name))
    if differ:
        raise UserError(f"the running agentiam ({mine}) is not the code in {code_dir} ({len(differ)} file(s) differ, "
                        f"e.g. {', '.join(differ[:3])}): run `agentiam snapshot` with that code (install it, or "
                        "PYTHONPATH) or pass --code for the code that runs")


def take(stack: str, pulumi: PulumiProject, data_dir: Path) -> dict[str, Any]:
    """Run the program for `stack` over the specs and stack configs under `data_dir`; its snapshot.

    Pulumi imports happen here, never at module import. The program runs as under `pulumi up` in `data_dir`
    (its relative defaults, the agent CA file): no AGENTIAM_SPECS_DIR / AGENTIAM_STACKS_DIR. A program that
    refuses the stack gives a snapshot with `error` set and the resources registered before it stopped.
    """
    from agentiam.program.capture import ProgramError, capture_stack  # noqa: PLC0415 (lazy: Pulumi SDK)

    config_dir = (data_dir / pulumi.stack_config_dir).resolve()
    if not stack_config_path(config_dir, stack).is_file():
        known = ", ".join(stack_names(config_dir)) if config_dir.is_dir() else "none"
        raise UserError(f"{stack_config_path(config_dir, stack)}: no such stack config ({pulumi.file} says "
                        f"`stackConfigDir: {pulumi.stack_config_dir}`); known stacks: {known or 'none'}")
    try:
        environment = load_environment(config_dir, stack)
    except ConfigError as exc:  # the program would stop on it too ("invalid stack config"): nothing registered
        return build(stack, pulumi.name, "", (), {}, (), {}, f"invalid stack config, nothing was provisioned:\n{exc}")
    # The mock runtime keeps every Output of the run alive; CPython's cyclic GC rescanning that heap over and over
    # is most of the run's time on a large fleet (docs/benchmarks.md#pulumi-program-under-the-mock-runtime).
    gc.disable()
    try:
        capture = capture_stack(stack, project_dir=data_dir, config_dir=config_dir, program=pulumi.program,
                                project=pulumi.name)
    except ProgramError as exc:
        return build(stack, pulumi.name, environment.name, exc.resources, {}, (), exc.secret_config, exc.message)
    finally:
        gc.enable()
    return build(stack, pulumi.name, environment.name, capture.resources, capture.outputs, capture.secret_outputs,
                 capture.secret_config)
