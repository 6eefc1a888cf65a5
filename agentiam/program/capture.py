"""Run the real Pulumi program (`__main__.py`) under Pulumi's mock runtime for one stack and capture what it registers.

The one engine behind `agentiam snapshot` (what deploys, as canonical JSON: `agentiam.program.snapshot`), the
program tests, the Vault integration tests (which apply the `vault:*` records to a real OpenBao) and
`bench/bench_program.py`. It imports the Pulumi SDK, so only those import it: the core never does (the CLI loads
this module when `agentiam snapshot` runs). Config reaches the program the way the Pulumi CLI passes it: the
project's name, the stack name, every key of `<stack config dir>/Pulumi.<stack>.yaml` (objects JSON-encoded) and
the database password keys the config names as *secret* config keys (placeholder values: no real secret is ever
read). Callable any number of times in one process: each call resets the runtime settings, the root stack
resource and the config.

    capture = capture_stack("dev", project_dir=Path("."))
    role = capture.get("aws:iam/role:Role", "agent-dev-invoice-reader-aws-role")
    role.inputs["maxSessionDuration"]      # 3600.0 (inputs arrive camelCase, integers as floats)
"""

from __future__ import annotations

import gc
import hashlib
import json
import os
import runpy
import sys
import threading
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from google.protobuf import json_format
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import rpc
from pulumi.runtime import settings as pulumi_settings
from pulumi.runtime.config import set_all_config
from pulumi.runtime.stack import Stack, run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from agentiam.environment.load import CONFIG_KEY, project_root, stack_config_path
from agentiam.errors import ConfigError, UserError
from agentiam.inputs.files import STACK_CONFIG, Refused, file_finding, locate
from agentiam.spec.source import parse_spec_bytes

PROJECT = "agentiam"  # the project name in the bundled Pulumi.yaml
STACK_TYPE = "pulumi:pulumi:Stack"
# RegisterResource request fields that are not resource options: the registration itself (type, name, parent,
# inputs, dependencies: recorded apart), protocol capabilities, and where in the program's source the call was
# made (changes with every edit of the code, never with what deploys). Every other field is an option and is
# recorded, so an option the SDK adds later is captured without a change here.
_NOT_OPTIONS = frozenset({
    "type", "name", "parent", "custom", "object", "dependencies", "propertyDependencies", "acceptSecrets",
    "acceptResources", "supportsPartialValues", "supportsResultReporting", "accepts_byte_string", "sourcePosition",
    "stackTrace", "parentStackTraceHandle", "packageRef", "snippetId"})


@dataclass(frozen=True)
class ResourceRecord:
    """One registered resource (custom or component) as the engine received it."""

    type_token: str  # e.g. "vault:appRole/authBackendRole:AuthBackendRole"
    name: str  # logical (Pulumi) name
    inputs: dict[str, Any]  # camelCase keys as received; secret values unwrapped (see secret_inputs)
    parent: str | None  # logical name of the parent resource; None when parented to the stack
    urn: str
    parent_urn: str | None
    custom: bool  # False for component resources
    secret_inputs: frozenset[str] = field(default_factory=frozenset)  # dotted paths of inputs sent as secrets
    dependencies: frozenset[str] = field(default_factory=frozenset)  # URNs the resource waits for
    additional_secret_outputs: frozenset[str] = field(default_factory=frozenset)  # camelCase output names
    # Resource options as the engine received them (protect, deleteBeforeReplace, ignoreChanges, retainOnDelete,
    # provider, aliases, importId, transforms as a count...), only those set: field name -> plain value.
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class Capture:
    """Everything one program run registered and exported."""

    stack: str
    resources: list[ResourceRecord]
    outputs: dict[str, Any]  # resolved values of the stack outputs
    secret_outputs: frozenset[str]  # names of outputs marked secret
    project: str = PROJECT
    secret_config: dict[str, str] = field(default_factory=dict)  # `ns:key` -> value given as a secret config value

    def of_type(self, type_token: str) -> list[ResourceRecord]:
        """Records of one resource type, in registration order."""
        return [r for r in self.resources if r.type_token == type_token]

    def get(self, type_token: str, name: str) -> ResourceRecord:
        """The one record with this type and logical name (KeyError otherwise)."""
        found = [r for r in self.resources if r.type_token == type_token and r.name == name]
        if len(found) != 1:
            raise KeyError(f"{len(found)} resources of type {type_token} named {name!r}")
        return found[0]

    def descendants(self, urn: str) -> list[ResourceRecord]:
        """Every resource below the resource `urn` (children, grandchildren...)."""
        children: dict[str | None, list[ResourceRecord]] = {}
        for record in self.resources:
            children.setdefault(record.parent_urn, []).append(record)
        found: list[ResourceRecord] = []
        pending = [urn]
        while pending:
            for child in children.get(pending.pop(), []):
                found.append(child)
                pending.append(child.urn)
        return found


class ProgramError(UserError):
    """The program stopped with an error; `resources` holds what was registered before it stopped."""

    def __init__(self, message: str, resources: list[ResourceRecord], secret_config: Mapping[str, str] | None = None):
        super().__init__(message)
        self.message = message
        self.resources = resources
        self.secret_config = dict(secret_config or {})  # what the run was given as secrets (to scrub from messages)


def _fake_uuid(*parts: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "/".join(parts)))


def mount_accessor(path: str) -> str:
    """The accessor the mocks give the auth mount at `path` (same for the owner and for shard look-ups)."""
    return "auth_mock_" + hashlib.sha256(path.encode()).hexdigest()[:8]


class ProgramMocks(pulumi.runtime.Mocks):
    """Realistic ids and computed outputs: ARNs, AppRole role ids, mount accessors, entity ids."""

    def __init__(self, account_id: str, region: str):
        self.account_id = account_id
        self.region = region
        self.records: list[ResourceRecord] = []
        self.lock = threading.Lock()
        self.current_parent = threading.local()  # set by the monitor around each registration

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict]:
        inputs, secrets = _unwrap_secrets(args.inputs)
        parent_urn = getattr(self.current_parent, "urn", None) or None
        urn = getattr(self.current_parent, "own_urn", "")
        with self.lock:
            self.records.append(ResourceRecord(
                type_token=args.typ, name=args.name, inputs=inputs,
                parent=None if parent_urn is None or parent_urn.split("::")[2].endswith(STACK_TYPE)
                else parent_urn.split("::")[-1],
                urn=urn, parent_urn=parent_urn, custom=bool(args.custom), secret_inputs=frozenset(secrets),
                dependencies=frozenset(getattr(self.current_parent, "dependencies", ())),
                additional_secret_outputs=frozenset(getattr(self.current_parent, "secret_outputs", ())),
                options=dict(getattr(self.current_parent, "options", {}))))
        resource_id, computed = self._computed(args.typ, args.name, inputs)
        return resource_id, {**args.inputs, **computed}

    def _computed(self, typ: str, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        acct = self.account_id
        if typ == "aws:iam/role:Role":
            arn = f"arn:aws:iam::{acct}:role{inputs.get('path', '/')}{inputs['name']}"
            return inputs["name"], {"arn": arn, "uniqueId": "AROA" + hashlib.sha1(arn.encode()).hexdigest()[:17]}
        if typ == "aws:iam/policy:Policy":
            arn = f"arn:aws:iam::{acct}:policy{inputs.get('path', '/')}{inputs['name']}"
            return arn, {"arn": arn, "policyId": "ANPA" + hashlib.sha1(arn.encode()).hexdigest()[:17]}
        if typ == "aws:iam/rolePolicy:RolePolicy":
            return f"{inputs['role']}:{inputs['name']}", {}
        if typ == "aws:cloudwatch/logGroup:LogGroup":
            return inputs["name"], {"arn": f"arn:aws:logs:{self.region}:{acct}:log-group:{inputs['name']}"}
        if typ == "aws:networkfirewall/ruleGroup:RuleGroup":
            arn = f"arn:aws:network-firewall:{self.region}:{acct}:stateful-rulegroup/{inputs['name']}"
            return arn, {"arn": arn, "updateToken": _fake_uuid("update-token", arn)}
        if typ == "aws:cloudwatch/metricAlarm:MetricAlarm":
            return inputs["name"], {"arn": f"arn:aws:cloudwatch:{self.region}:{acct}:alarm:{inputs['name']}"}
        if typ == "vault:appRole/authBackendRole:AuthBackendRole":
            path = f"auth/{inputs['backend']}/role/{inputs['roleName']}"
            return path, {"roleId": _fake_uuid("role-id", path)}
        if typ == "vault:index/authBackend:AuthBackend":
            return inputs["path"], {"accessor": mount_accessor(inputs["path"])}
        if typ == "vault:identity/entity:Entity":
            return _fake_uuid("entity", inputs["name"]), {}
        if typ == "vault:identity/entityAlias:EntityAlias":
            return _fake_uuid("alias", str(inputs["mountAccessor"]), str(inputs["name"])), {}
        return f"{name}-id", {}

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict, list[tuple[str, str]] | None]:
        if args.token == "vault:index/getAuthBackend:getAuthBackend":
            path = args.args["path"]
            return {"id": path, "path": path, "accessor": mount_accessor(path), "type": "", "description": "",
                    "defaultLeaseTtlSeconds": 0, "maxLeaseTtlSeconds": 0, "listingVisibility": "",
                    "local": False}, []  # no check failures
        raise NotImplementedError(f"the program called {args.token}; add it to agentiam/program/capture.py mocks")


class _RecordingMonitor(pulumi_mocks.MockMonitor):
    """Mock monitor that tells the mocks each registration's parent and dependencies (MockResourceArgs lacks them)."""

    mocks: ProgramMocks

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 (gRPC method name)
        local = self.mocks.current_parent
        local.urn = request.parent
        local.own_urn = self.make_urn(request.parent, request.type, request.name)
        local.dependencies = tuple(request.dependencies)
        local.secret_outputs = tuple(request.additionalSecretOutputs)
        local.options = _options(request)
        try:
            return super().RegisterResource(request)
        finally:
            local.urn = local.own_urn = None
            local.dependencies = local.secret_outputs = ()
            local.options = {}


def _options(request: Any) -> dict[str, Any]:
    """The resource options a RegisterResource request sets (protobuf defaults left out), as plain values.

    Callbacks (`transforms`) cannot be compared by value: they are recorded as how many there are, so a program
    that starts rewriting its resources at deployment time shows up.
    """
    out: dict[str, Any] = {}
    for descriptor, value in request.ListFields():
        if descriptor.name in _NOT_OPTIONS:
            continue
        out[descriptor.name] = len(value) if descriptor.name == "transforms" else _plain(descriptor, value)
    return out


def _repeated(descriptor: Any) -> bool:
    """Whether a field is repeated: protobuf 6 says `is_repeated`; 5.29, which pulumi-policy 1.21 pins
    (protobuf~=5.29.5) and CI therefore installs, only has the field's label."""
    repeated = getattr(descriptor, "is_repeated", None)
    return bool(repeated) if repeated is not None else descriptor.label == descriptor.LABEL_REPEATED


def _plain(descriptor: Any, value: Any) -> Any:
    """One protobuf field as JSON-able data (maps, repeated fields, messages, bytes as hex)."""
    message = descriptor.message_type
    if message is not None and message.GetOptions().map_entry:
        return {key: _message(item) for key, item in value.items()}
    if _repeated(descriptor):
        return [_message(item) for item in value]
    return _message(value)


def _message(value: Any) -> Any:
    if hasattr(value, "DESCRIPTOR"):
        return json_format.MessageToDict(value, preserving_proto_field_name=True)
    return value.hex() if isinstance(value, bytes) else value


def _unwrap_secrets(value: Any, path: str = "") -> tuple[Any, list[str]]:
    if rpc.is_rpc_secret(value):
        inner, _ = _unwrap_secrets(rpc.unwrap_rpc_secret(value), path)
        return inner, [path]
    if isinstance(value, dict):
        out, secrets = {}, []
        for key, item in value.items():
            out[key], found = _unwrap_secrets(item, f"{path}.{key}" if path else key)
            secrets.extend(found)
        return out, secrets
    if isinstance(value, list):
        items, secrets = [], []
        for index, item in enumerate(value):
            unwrapped, found = _unwrap_secrets(item, f"{path}[{index}]")
            items.append(unwrapped)
            secrets.extend(found)
        return items, secrets
    return value, []


def stack_document(stacks_dir: Path, stack: str) -> dict[str, Any]:
    """The stack file as plain data, as the Pulumi CLI hands it over: judging it is the program's job (a config the
    program refuses must reach it). Read like every input (no link, no FIFO, bounded, strict YAML), so that a
    capture never hangs or crashes on the file itself; ConfigError with the finding if it is not readable."""
    path = stack_config_path(stacks_dir, stack)
    tree, rel = locate(path, project_root(stacks_dir))
    try:
        document, findings = parse_spec_bytes(str(path), tree.read(rel, STACK_CONFIG), STACK_CONFIG)
    except Refused as refused:
        raise ConfigError(findings=[file_finding(str(path), refused)]) from refused
    if document is None:
        raise ConfigError(findings=findings)
    return document.data


def _environment_value(raw: dict[str, Any]) -> dict[str, Any]:
    """The `agentiam:environment` mapping of a stack file's data, {} if it has none."""
    config = raw.get("config")
    value = config.get(CONFIG_KEY) if isinstance(config, dict) else None
    return value if isinstance(value, dict) else {}


def stack_config(stack: str, stacks_dir: Path, secrets: Mapping[str, str] | None,
                 project: str = PROJECT) -> tuple[dict[str, str], dict[str, str]]:
    """Config as the CLI hands it to a program: `ns:key` -> string (objects JSON-encoded), plus the secret values.

    Secret keys default to a placeholder value (`test-<key>`) for every `password_secret` the environment names.
    """
    raw = stack_document(stacks_dir, stack)
    config = {key: value if isinstance(value, str) else json.dumps(value)
              for key, value in (raw.get("config") or {}).items()}
    databases = _environment_value(raw).get("databases")
    names = [db["password_secret"] for db in (databases.values() if isinstance(databases, dict) else ())
             if isinstance(db, dict) and isinstance(db.get("password_secret"), str)]
    values = {name: f"test-{name}" for name in names}
    values.update(secrets or {})
    secret_values = {}
    for key, value in values.items():
        full = key if ":" in key else f"{project}:{key}"
        config[full] = value
        secret_values[full] = value
    return config, secret_values


@contextmanager
def _environment(variables: dict[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@contextmanager
def _working_directory(path: Path) -> Iterator[None]:
    saved = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(saved)


async def _resolve(outputs: dict[str, Any]) -> tuple[dict[str, Any], set[str]]:
    values: dict[str, Any] = {}
    secret: set[str] = set()
    for key, value in outputs.items():
        output = pulumi.Output.from_input(value)
        values[key] = await output.future()
        if await output.is_secret():
            secret.add(key)
    return values, secret


def _program_first_on_path(folder: Path) -> None:
    """Put the program's folder first on sys.path, as the language host does, and refuse mixed code.

    The program imports `components` from its folder; if another folder's `components` is already imported in
    this process, the run would silently use it: what was captured would not be the code that deploys.
    """
    loaded = sys.modules.get("components")
    origin = Path(getattr(loaded, "__file__", "") or "").resolve().parent.parent if loaded else None
    if origin is not None and (folder / "components").is_dir() and origin != folder.resolve():
        raise ProgramError(f"the program in {folder} would run with the `components` package already imported "
                           f"from {origin}; run it in a fresh process", [])
    if sys.path[:1] != [str(folder)]:
        sys.path.insert(0, str(folder))  # the language host puts the program's folder on sys.path too


def _run_program(program: Path) -> None:
    """Run the program file as the Pulumi CLI runs `__main__.py`."""
    runpy.run_path(str(program), run_name="__main__")


@contextmanager
def _collector_restored() -> Iterator[None]:
    """After the run, put CPython's cyclic garbage collector back as it was before: its hooks (`gc.callbacks`), its
    thresholds, whether it runs, and what it had frozen. The program freezes what survives each collection for the
    rest of its run (`components.stack.freeze_survivors`), as a `pulumi up` process can, since it exits with the
    run; many runs in one process (tests, snapshots of every stack) must keep no hook and no garbage of the earlier
    ones. A host that had frozen objects of its own before keeps them frozen."""
    callbacks, thresholds, enabled = list(gc.callbacks), gc.get_threshold(), gc.isenabled()
    frozen_before = gc.get_freeze_count()
    try:
        yield
    finally:
        gc.callbacks[:] = callbacks
        gc.set_threshold(*thresholds)
        if enabled:
            gc.enable()
        else:
            gc.disable()
        if frozen_before == 0:
            gc.unfreeze()


def capture_stack(stack: str, *, project_dir: Path | str, specs_dir: Path | str | None = None,
                  stacks_dir: Path | str | None = None, config_dir: Path | str | None = None,
                  secrets: Mapping[str, str] | None = None, preview: bool = False, program: Path | None = None,
                  project: str = PROJECT) -> Capture:
    """Run the program for `stack` under mocks in `project_dir`; raise ProgramError if the program fails.

    The program (default `<project_dir>/__main__.py`) runs with `project_dir` as its working directory, as the
    Pulumi CLI runs it, so its relative defaults (`agent_specs/`, `stacks/`, the agent CA PEM named in the stack
    config) resolve there; its own folder comes first on sys.path (its `components`). `specs_dir`/`stacks_dir`
    (relative to the caller's working directory) reach the program as absolute AGENTIAM_SPECS_DIR /
    AGENTIAM_STACKS_DIR; unset, the program reads its defaults exactly as under `pulumi up`. Stack config
    (`Pulumi.<stack>.yaml`) is read from `stacks_dir`, else `config_dir`, else `<project_dir>/stacks`.
    `secrets` overrides secret config values (`billingDbPassword` or a full `ns:key`); by default each
    `password_secret` gets `test-<key>`. `program` replaces `__main__.py` (another checkout's code, benchmark
    baselines).
    """
    project_dir = Path(project_dir).resolve()
    program = Path(program).resolve() if program is not None else project_dir / "__main__.py"
    if stacks_dir is not None:
        stacks = Path(stacks_dir).resolve()
    else:
        stacks = Path(config_dir).resolve() if config_dir is not None else project_dir / "stacks"
    variables = {"AGENTIAM_STACKS_DIR": str(stacks) if stacks_dir is not None else "",
                 "AGENTIAM_SPECS_DIR": str(Path(specs_dir).resolve()) if specs_dir is not None else ""}
    config, secret_values = stack_config(stack, stacks, secrets, project)
    environment = _environment_value(stack_document(stacks, stack))
    mocks = ProgramMocks(str(environment.get("account_id", "000000000000")), str(environment.get("region", "")))

    # A fresh runtime per run: settings (RPC manager, pending outputs), root stack resource, config; set_mocks
    # only creates a root stack when none is left over from a previous run.
    pulumi_settings.reset_options(project=project, stack=stack, preview=preview)
    set_all_config(config, list(secret_values))
    pulumi.runtime.set_mocks(mocks, project=project, stack=stack, preview=preview,
                             monitor=_RecordingMonitor(mocks))
    _program_first_on_path(program.parent)
    # Like the Pulumi CLI: the program runs in the project directory; unset variables mean the default folders.
    with _environment(variables), _working_directory(project_dir), _collector_restored():
        try:
            _sync_await(run_pulumi_func(lambda: _run_program(program)))
        except pulumi.RunError as exc:
            raise ProgramError(str(exc), list(mocks.records), secret_values) from exc
        except Exception as exc:  # noqa: BLE001 - any exception of the program fails its deployment just the same
            raise ProgramError(f"the program failed: {type(exc).__name__}: {exc}", list(mocks.records),
                               secret_values) from exc
        root = pulumi_settings.get_root_resource()
        assert isinstance(root, Stack)  # set_mocks registered the root Stack the program's exports went to
        outputs, secret = _sync_await(_resolve(dict(root.outputs)))
    return Capture(stack=stack, resources=list(mocks.records), outputs=outputs, secret_outputs=frozenset(secret),
                   project=project, secret_config=secret_values)
