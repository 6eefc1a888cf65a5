"""Run the real `__main__.py` under Pulumi's mock runtime for one stack and capture what it registers.

Used by the program tests, the Vault integration tests (which apply the `vault:*` records to a real OpenBao) and
`bench/bench_program.py`. Config reaches the program the way the Pulumi CLI passes it: project `agentiam`, the stack
name, every key of `stacks/Pulumi.<stack>.yaml` (objects JSON-encoded) and the database password keys the config
names as *secret* config keys. Callable any number of times in one process: each call resets the runtime settings,
the root stack resource and the config.

    capture = capture_stack("dev")
    role = capture.get("aws:iam/role:Role", "agent-dev-invoice-reader-aws-role")
    role.inputs["maxSessionDuration"]      # 3600.0 (inputs arrive camelCase, integers as floats)
"""

from __future__ import annotations

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
import yaml
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import rpc
from pulumi.runtime import settings as pulumi_settings
from pulumi.runtime.config import set_all_config
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from agentiam.environment.load import stack_config_path

PROJECT_DIR = Path(__file__).resolve().parent.parent
PROGRAM = PROJECT_DIR / "__main__.py"
PROJECT = "agentiam"
STACK_TYPE = "pulumi:pulumi:Stack"


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


@dataclass
class Capture:
    """Everything one program run registered and exported."""

    stack: str
    resources: list[ResourceRecord]
    outputs: dict[str, Any]  # resolved values of the stack outputs
    secret_outputs: frozenset[str]  # names of outputs marked secret

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


class ProgramError(Exception):
    """The program stopped with an error; `resources` holds what was registered before it stopped."""

    def __init__(self, message: str, resources: list[ResourceRecord]):
        super().__init__(message)
        self.message = message
        self.resources = resources


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
                urn=urn, parent_urn=parent_urn, custom=args.custom, secret_inputs=frozenset(secrets),
                dependencies=frozenset(getattr(self.current_parent, "dependencies", ())),
                additional_secret_outputs=frozenset(getattr(self.current_parent, "secret_outputs", ()))))
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

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict:
        if args.token == "vault:index/getAuthBackend:getAuthBackend":
            path = args.args["path"]
            return {"id": path, "path": path, "accessor": mount_accessor(path), "type": "", "description": "",
                    "defaultLeaseTtlSeconds": 0, "maxLeaseTtlSeconds": 0, "listingVisibility": "",
                    "local": False}
        raise NotImplementedError(f"the program called {args.token}; add it to tests/pulumi_capture.py mocks")


class _RecordingMonitor(pulumi_mocks.MockMonitor):
    """Mock monitor that tells the mocks each registration's parent and dependencies (MockResourceArgs lacks them)."""

    def RegisterResource(self, request):  # noqa: N802 (gRPC method name)
        local = self.mocks.current_parent  # type: ignore[attr-defined]
        local.urn = request.parent
        local.own_urn = self.make_urn(request.parent, request.type, request.name)
        local.dependencies = tuple(request.dependencies)
        local.secret_outputs = tuple(request.additionalSecretOutputs)
        try:
            return super().RegisterResource(request)
        finally:
            local.urn = local.own_urn = None
            local.dependencies = local.secret_outputs = ()


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


def _environment_value(raw: Any) -> dict[str, Any]:
    """The `agentiam:environment` mapping of a stack file's YAML, {} if it has none."""
    value = ((raw or {}).get("config") or {}).get("agentiam:environment") if isinstance(raw, dict) else None
    return value if isinstance(value, dict) else {}


def stack_config(stack: str, stacks_dir: Path, secrets: Mapping[str, str] | None) -> tuple[dict[str, str], list[str]]:
    """Config as the CLI hands it to a program: `ns:key` -> string (objects JSON-encoded), plus secret keys.

    Secret keys default to a test value for every `password_secret` the environment names. The file is read as
    the Pulumi CLI reads it, as plain YAML: judging it is the program's job (a broken config must reach it).
    """
    raw = yaml.safe_load(stack_config_path(stacks_dir, stack).read_text(encoding="utf-8")) or {}
    config = {key: value if isinstance(value, str) else json.dumps(value)
              for key, value in (raw.get("config") or {}).items()}
    databases = _environment_value(raw).get("databases") or {}
    names = [db["password_secret"] for db in databases.values() if isinstance(db, dict) and "password_secret" in db]
    values = {name: f"test-{name}" for name in names}
    values.update(secrets or {})
    secret_keys = []
    for key, value in values.items():
        full = key if ":" in key else f"{PROJECT}:{key}"
        config[full] = value
        secret_keys.append(full)
    return config, secret_keys


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


def capture_stack(stack: str, *, specs_dir: Path | str | None = None, stacks_dir: Path | str | None = None,
                  secrets: Mapping[str, str] | None = None, preview: bool = False,
                  program: Path = PROGRAM) -> Capture:
    """Run the real `__main__.py` for `stack` under mocks; raise ProgramError if the program fails.

    `specs_dir`/`stacks_dir` default to the project's `agent_specs/` and `stacks/`; others (relative to the
    caller's working directory) reach the program as absolute AGENTIAM_SPECS_DIR / AGENTIAM_STACKS_DIR. The
    program runs in the project directory; a relative `agent_ca_pem_file` is relative to the folder holding the stacks
    folder, as for `agentiam plan`.
    `secrets` overrides secret config values (`billingDbPassword` or a full `ns:key`); by default each
    `password_secret` gets `test-<key>`. `program` replaces `__main__.py` (benchmark baselines only).
    """
    stacks = Path(stacks_dir).resolve() if stacks_dir is not None else PROJECT_DIR / "stacks"
    variables = {"AGENTIAM_STACKS_DIR": str(stacks) if stacks_dir is not None else "",
                 "AGENTIAM_SPECS_DIR": str(Path(specs_dir).resolve()) if specs_dir is not None else ""}
    config, secret_keys = stack_config(stack, stacks, secrets)
    environment = _environment_value(yaml.safe_load(stack_config_path(stacks, stack).read_text(encoding="utf-8")))
    mocks = ProgramMocks(str(environment.get("account_id", "000000000000")), str(environment.get("region", "")))

    # A fresh runtime per run: settings (RPC manager, pending outputs), root stack resource, config; set_mocks
    # only creates a root stack when none is left over from a previous run.
    pulumi_settings.reset_options(project=PROJECT, stack=stack, preview=preview)
    set_all_config(config, secret_keys)
    pulumi.runtime.set_mocks(mocks, project=PROJECT, stack=stack, preview=preview,
                             monitor=_RecordingMonitor(mocks))
    if str(PROJECT_DIR) not in sys.path:
        sys.path.insert(0, str(PROJECT_DIR))  # the language host puts the program's folder on sys.path too
    # Like the Pulumi CLI: the program runs in the project directory; unset variables mean the default folders.
    with _environment(variables), _working_directory(PROJECT_DIR):
        try:
            _sync_await(run_pulumi_func(lambda: runpy.run_path(str(program), run_name="__main__")))
        except pulumi.RunError as exc:
            raise ProgramError(str(exc), list(mocks.records)) from exc
        root = pulumi_settings.get_root_resource()
        outputs, secret = _sync_await(_resolve(dict(root.outputs)))
    return Capture(stack=stack, resources=list(mocks.records), outputs=outputs, secret_outputs=frozenset(secret))
