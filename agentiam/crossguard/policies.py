"""The policies of the agentiam policy pack, over resources as the Pulumi engine passes them to a policy analyzer
(docs/facts.md#pulumi-policy-analyzer, docs/policy-pack.md).

The engine hands a policy each resource's inputs with the provider's camelCase names (`tokenMaxTtl`), numbers as
floats, secrets unwrapped, and values not known yet during a preview as unknowns (a policy reading one is skipped
with an advisory note; `pulumi up` runs it with the value). The limits come from the code the guardrails use (the
24-hour cap of AGT010/AGT013, the boundary and role names of the plan, the stack configs' secrets-engine
principals), so the two cannot drift. Any spelling Vault or IAM accepts is read as they read it: durations as
numbers, numeric strings or `25h`/`1d`, tag keys in any case, deprecated field names, the typed resources or a
generic endpoint writing the same path; a value that cannot be read is a violation, never a pass.
"""

from __future__ import annotations

import fnmatch
import json
import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from agentiam.environment import vault_server
from agentiam.environment.model import EnvironmentConfig
from agentiam.plan import names
from agentiam.rules.credential_lifetimes import DAY
from agentiam.spec.model import FunctionClass
from agentiam.spec.types import format_duration

PACK_NAME = "agentiam"
# Vault's system-wide max lease TTL, what a role without its own max falls back to (docs/facts.md#vault-approle).
SYSTEM_MAX_TTL = 768 * 3600

AWS_ROLE = "aws:iam/role:Role"
AWS_NATIVE_ROLE = "aws-native:iam:Role"
APPROLE_ROLE = "vault:appRole/authBackendRole:AuthBackendRole"
CERT_ROLE = "vault:index/certAuthBackendRole:CertAuthBackendRole"
TOKEN_ROLE = "vault:tokenauth/authBackendRole:AuthBackendRole"
DATABASE_ROLE = "vault:database/secretBackendRole:SecretBackendRole"
AUDIT = "vault:index/audit:Audit"
GENERIC_WRITES = ("vault:generic/endpoint:Endpoint", "vault:generic/secret:Secret")
PLATFORM = "agentiam:index:Platform"
TOKEN_ROLE_TYPES = (APPROLE_ROLE, CERT_ROLE, TOKEN_ROLE)

# Vault paths whose writes create login roles (AppRole/JWT/... `role/`, cert `certs/`, token `roles/`) and the
# database engine's roles, however they are written.
_AUTH_ROLE_PATH = re.compile(r"auth/.+/(role|roles|certs)/[^/]+")
_DATABASE_ROLE_KEYS = ("db_name", "creation_statements")
# Vault's duration strings: Go units plus `d`; a bare number is seconds (docs/facts.md#vault-durations).
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h|d)")
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600, "d": 86400}
_LIFETIME_FIELDS = ("ttl", "max_ttl", "explicit_max_ttl", "period")
_POLICY_LIST_FIELDS = ("token_policies", "policies", "allowed_policies")


def vault_seconds(value: Any) -> int | None:
    """Seconds of a Vault duration as Vault reads it (number, numeric string, `25h`, `1d2h`), None if unreadable.

    Absent (None) and empty are 0 ("unset"); a fraction of a second counts as a whole one (never in the
    lifetime's favour)."""
    if value is None:
        return 0
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return math.ceil(value) if math.isfinite(value) and value >= 0 else None
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text:
        return 0
    try:
        return vault_seconds(float(text)) if re.fullmatch(r"\d+(\.\d*)?|\.\d+", text) else _duration(text)
    except ValueError:
        return None


def _duration(text: str) -> int | None:
    total, position = 0.0, 0
    for match in _DURATION_PART.finditer(text):
        if match.start() != position:
            return None
        total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        position = match.end()
    return math.ceil(total) if position == len(text) and position else None


def snake(name: str) -> str:
    """`tokenMaxTtl` -> `token_max_ttl`: typed resources and raw Vault writes compared under one spelling."""
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


def _snake_props(props: Mapping[str, Any]) -> dict[str, Any]:
    return {snake(str(key)): value for key, value in props.items()}


# --- Vault login roles -------------------------------------------------------------------------------------------

def token_lifetime_problems(fields: Mapping[str, Any]) -> list[str]:
    """Why a Vault role's tokens could live longer than 24 hours (fields in snake_case)."""
    problems = []
    values: dict[str, int] = {}
    for base in _LIFETIME_FIELDS:
        for name in (f"token_{base}", base):  # the deprecated names still set the same value
            if name not in fields:
                continue
            seconds = vault_seconds(fields[name])
            if seconds is None:
                problems.append(f"{name} {fields[name]!r} is not a duration Vault reads the way this policy can check")
                continue
            if seconds > DAY:
                problems.append(f"{name} {format_duration(seconds)} exceeds the 24h cap")
            values[base] = max(values.get(base, 0), seconds)
    if problems:
        return problems
    if values.get("explicit_max_ttl", 0) == 0:
        if values.get("period", 0) > 0:
            problems.append("a periodic token (token_period) without token_explicit_max_ttl renews forever")
        elif values.get("max_ttl", 0) == 0:
            problems.append(f"no token_max_ttl or token_explicit_max_ttl: tokens live up to the mount's max lease "
                            f"(Vault's default {format_duration(SYSTEM_MAX_TTL)})")
    return problems


def _listed(value: Any) -> list[Any]:
    """A list value as the analyzer passes it (a read-only Sequence proxy), a single value as a one-item list."""
    if isinstance(value, Sequence) and not isinstance(value, str):
        return list(value)
    return [] if value is None else [value]


def _policy_names(value: Any) -> list[str]:
    items = value.split(",") if isinstance(value, str) else _listed(value)
    return [str(item).strip().lower() for item in items]


def default_policy_problems(fields: Mapping[str, Any]) -> list[str]:
    """Why tokens of a Vault role would carry the `default` policy (fields in snake_case)."""
    problems = []
    flag = fields.get("token_no_default_policy")
    if not (flag is True or (isinstance(flag, str) and flag.strip().lower() in ("true", "1"))):
        problems.append(f"token_no_default_policy is {flag!r}: every token also gets Vault's `default` policy")
    for name in _POLICY_LIST_FIELDS:
        if "default" in _policy_names(fields.get(name)):
            problems.append(f"{name} grants the `default` policy")
    for name in ("allowed_policies_glob", "allowed_policies_globs"):
        if any(fnmatch.fnmatchcase("default", glob) for glob in _policy_names(fields.get(name))):
            problems.append(f"{name} lets tokens take the `default` policy")
    return problems


def database_lease_problems(fields: Mapping[str, Any]) -> list[str]:
    """Why a database role's credentials could outlive 24 hours (fields in snake_case)."""
    problems = []
    for name in ("default_ttl", "max_ttl"):
        seconds = vault_seconds(fields.get(name))
        if seconds is None:
            problems.append(f"{name} {fields[name]!r} is not a duration Vault reads the way this policy can check")
        elif seconds > DAY:
            problems.append(f"{name} {format_duration(seconds)} exceeds the 24h cap")
    if not problems and vault_seconds(fields.get("max_ttl")) == 0:
        problems.append(f"no max_ttl: leases last up to the mount's max lease (Vault's default "
                        f"{format_duration(SYSTEM_MAX_TTL)})")
    return problems


def _generic_write(props: Mapping[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """(kind, data) of a raw Vault write creating a login or database role: kind "auth" or "database"."""
    path = re.sub(r"/+", "/", str(props.get("path", ""))).strip("/")
    path = path.removeprefix("v1/")
    raw = props.get("dataJson", props.get("data_json"))
    try:
        data = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        data = None
    data = dict(data) if isinstance(data, Mapping) else None
    if _AUTH_ROLE_PATH.fullmatch(path):
        return "auth", data if data is not None else {"data_json": raw}
    if data is not None and any(key in data for key in _DATABASE_ROLE_KEYS):
        return "database", data
    return None


def _vault_fields(resource_type: str, props: Mapping[str, Any], kind: str) -> dict[str, Any] | None:
    if kind == "auth" and resource_type in TOKEN_ROLE_TYPES:
        return _snake_props(props)
    if kind == "database" and resource_type == DATABASE_ROLE:
        return _snake_props(props)
    if resource_type in GENERIC_WRITES:
        found = _generic_write(props)
        if found is not None and found[0] == kind:
            return found[1]
    return None


def _vault_validator(kind: str, check: Callable[[Mapping[str, Any]], list[str]],
                     what: str) -> Callable[[ResourceValidationArgs, ReportViolation], None]:
    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        fields = _vault_fields(args.resource_type, args.props, kind)
        if fields is None:
            return
        if "data_json" in fields and len(fields) == 1:
            report_violation(f"{what} {args.name}: its data is not a JSON object this policy can read", args.urn)
            return
        for problem in check(fields):
            report_violation(f"{what} {args.name}: {problem}", args.urn)
    return validate


# --- IAM agent roles ---------------------------------------------------------------------------------------------

def _role_view(resource_type: str, props: Mapping[str, Any]) -> dict[str, Any] | None:
    """(name, path, tags, boundary, trust) of an IAM role from either AWS provider, None for other types."""
    if resource_type == AWS_ROLE:
        tags = props.get("tags") or {}
        return {"name": props.get("name") or props.get("namePrefix") or "", "path": props.get("path") or "/",
                "tags": dict(tags) if isinstance(tags, Mapping) else {}, "boundary": props.get("permissionsBoundary"),
                "trust": props.get("assumeRolePolicy")}
    if resource_type == AWS_NATIVE_ROLE:
        tags = props.get("tags") or []
        pairs = {str(t.get("key")): t.get("value") for t in _listed(tags) if isinstance(t, Mapping)}
        return {"name": props.get("roleName") or "", "path": props.get("path") or "/", "tags": pairs,
                "boundary": props.get("permissionsBoundary"), "trust": props.get("assumeRolePolicyDocument")}
    return None


def _agent_tags(tags: Mapping[Any, Any]) -> dict[str, str]:
    """Tag keys as IAM compares them (case-insensitively, docs/facts.md#aws-iam-tags), values as text."""
    return {str(key).strip().lower(): str(value).strip() for key, value in tags.items()}


class AgentRoles:
    """What marks an IAM role as an agent's and what it must look like, from the stack configs."""

    def __init__(self, environments: Mapping[str, EnvironmentConfig], extra_principals: Iterable[str] = ()):
        self.environments = dict(environments)
        self.principals = {name: env.aws_secrets_engine_principal_arn for name, env in environments.items()}
        self.any_principal = set(self.principals.values()) | set(extra_principals)

    def environment_of(self, view: Mapping[str, Any]) -> str | None:
        tags = _agent_tags(view["tags"])
        if tags.get("agentiam:environment"):
            return tags["agentiam:environment"].lower()
        path = str(view["path"]).lower()
        if path.startswith("/agentiam/") and path.count("/") >= 3:
            return path.split("/")[2]
        name = str(view["name"]).lower()
        return next((env for env in self.environments if name.startswith(names.identity_name("", env))), None)

    def is_agent(self, view: Mapping[str, Any]) -> bool:
        tags = _agent_tags(view["tags"])
        return (any(key.startswith("agentiam:") for key in tags) or tags.get("managed-by", "").lower() == "agentiam"
                or str(view["path"]).lower().startswith("/agentiam/")
                or str(view["name"]).lower().startswith("agent-"))

    def boundary_problems(self, view: Mapping[str, Any]) -> list[str]:
        function = _agent_tags(view["tags"]).get("agentiam:function", "").lower()
        env = self.environment_of(view)
        if function not in {f.value for f in FunctionClass}:
            return [(f"tagged as an agent without a known `agentiam:function` tag ({function or 'none'}): no class "
                     "boundary can be checked")]
        if env is None:
            return ["tagged as an agent without an `agentiam:environment` tag: no class boundary can be checked"]
        boundary = view["boundary"]
        config = self.environments.get(env)
        if config is not None:
            expected = names.boundary_policy_arn(config.account_id, env, function)
            ok = boundary == expected
        else:
            expected = names.boundary_policy_arn("<account>", env, function)
            pattern = re.escape(expected).replace(re.escape("arn:aws:"), r"arn:aws(-[a-z-]+)?:").replace(
                re.escape("<account>"), r"\d{12}")
            ok = isinstance(boundary, str) and re.fullmatch(pattern, boundary) is not None
        return [] if ok else [f"permissions boundary {boundary!r} is not its class boundary {expected}"]

    def trust_problems(self, view: Mapping[str, Any]) -> list[str]:
        env = self.environment_of(view)
        allowed = {self.principals[env]} if env in self.principals else self.any_principal
        if not allowed:
            return [("no secrets-engine principal is known (no stack config, no AGENTIAM_SECRETS_ENGINE_PRINCIPALS): "
                     "the trust policy cannot be checked")]
        trust = view["trust"]
        try:
            document = json.loads(trust) if isinstance(trust, str) else trust
        except ValueError:
            return ["its trust policy is not JSON"]
        statements = _listed(document.get("Statement")) if isinstance(document, Mapping) else []
        if not statements:
            return ["its trust policy has no statement this policy can read"]
        problems = []
        for index, statement in enumerate(statements):
            if not isinstance(statement, Mapping):
                problems.append(f"statement {index} is not an object")
            elif str(statement.get("Effect", "")).lower() != "deny":
                problems.extend(f"statement {index}: {p}" for p in _allow_problems(statement, allowed))
        return problems


def _allow_problems(statement: Mapping[str, Any], allowed: set[str]) -> Iterator[str]:
    if "NotPrincipal" in statement or "NotAction" in statement:
        yield "NotPrincipal/NotAction allow everyone but the named"
    principal = statement.get("Principal")
    if not isinstance(principal, Mapping) or set(principal) != {"AWS"}:
        yield f"principal {principal!r} is not only the secrets engine's ({', '.join(sorted(allowed))})"
    else:
        arns = _listed(principal["AWS"])
        others = [arn for arn in arns if arn not in allowed]
        if others or not arns:
            yield f"trusts {others or arns} besides the secrets engine's principal ({', '.join(sorted(allowed))})"
    actions = _listed(statement.get("Action"))
    extra = [a for a in actions if str(a).lower() not in ("sts:assumerole", "sts:tagsession")]
    if extra:
        yield f"allows {extra}: only sts:AssumeRole and sts:TagSession"


# --- audit devices -----------------------------------------------------------------------------------------------

def _audit_protected(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != AUDIT:
        return
    if not args.opts.protect:
        report_violation(f"audit device {args.name} is not protected: one edit of the program could delete it and "
                         "stop the audit trail (set `protect=True`)", args.urn)
    options = args.props.get("options") or {}
    if isinstance(options, Mapping) and str(options.get("log_raw", "false")).strip().lower() not in ("false", "0", ""):
        report_violation(f"audit device {args.name} logs secrets in clear (log_raw)", args.urn)


def audit_expected(config: EnvironmentConfig) -> bool:
    """Whether the environment's audit device is a resource of its stack (else the server's config file)."""
    vault = config.vault
    return vault_server.audit_api_managed(vault.flavor, vault.server_version, vault.audit.api_managed)


class AuditPresence:
    """A stack holding an agentiam platform must hold its audit device, where the server takes it by API."""

    def __init__(self, environments: Mapping[str, EnvironmentConfig]):
        self.environments = dict(environments)

    def validate(self, args: StackValidationArgs, report_violation: ReportViolation) -> None:
        devices = {str(r.props.get("path", "")).strip("/") for r in args.resources if r.resource_type == AUDIT}
        for resource in args.resources:
            if resource.resource_type != PLATFORM:
                continue
            env = resource.name.removeprefix("agentiam-")
            config = self.environments.get(env)
            if config is not None and not audit_expected(config):
                continue  # declared in the server's config file, which no program sees: `agentiam doctor` checks it
            path = config.vault.audit.path if config is not None else None
            if (path not in devices) if path is not None else not devices:
                report_violation(f"the agentiam platform {resource.name} has no audit device"
                                 + (f" `{path}`" if path else "") + " in this stack: removing it stops the audit "
                                 "trail of every agent", resource.urn)


# --- the pack ----------------------------------------------------------------------------------------------------

def build_policies(environments: Mapping[str, EnvironmentConfig], extra_principals: Iterable[str] = ()
                   ) -> list[ResourceValidationPolicy | StackValidationPolicy]:
    """Every policy of the pack, judging against the given environments (the stack configs)."""
    roles = AgentRoles(environments, extra_principals)

    def boundary(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        view = _role_view(args.resource_type, args.props)
        if view is not None and roles.is_agent(view):
            for problem in roles.boundary_problems(view):
                report_violation(f"IAM role {args.name}: {problem}", args.urn)

    def trust(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        view = _role_view(args.resource_type, args.props)
        if view is not None and roles.is_agent(view):
            for problem in roles.trust_problems(view):
                report_violation(f"IAM role {args.name}: {problem}", args.urn)

    mandatory = EnforcementLevel.MANDATORY
    return [
        ResourceValidationPolicy(
            name="agent-role-class-boundary", enforcement_level=mandatory, validate=boundary,
            description="An IAM role tagged or named as an agent's is capped by its function class's boundary."),
        ResourceValidationPolicy(
            name="agent-role-trusts-only-the-secrets-engine", enforcement_level=mandatory, validate=trust,
            description="An agent's IAM role may be assumed only by Vault's AWS secrets engine principal."),
        ResourceValidationPolicy(
            name="vault-token-lifetime-24h", enforcement_level=mandatory,
            validate=_vault_validator("auth", token_lifetime_problems, "Vault role"),
            description="AppRole, cert and token roles issue tokens living at most 24 hours."),
        ResourceValidationPolicy(
            name="vault-no-default-policy", enforcement_level=mandatory,
            validate=_vault_validator("auth", default_policy_problems, "Vault role"),
            description="AppRole, cert and token roles never hand out Vault's `default` policy."),
        ResourceValidationPolicy(
            name="database-lease-24h", enforcement_level=mandatory,
            validate=_vault_validator("database", database_lease_problems, "database role"),
            description="Dynamic database credentials are leased for at most 24 hours."),
        ResourceValidationPolicy(
            name="audit-device-protected", enforcement_level=mandatory, validate=_audit_protected,
            description="Vault audit devices are protected from deletion and never log secrets in clear."),
        StackValidationPolicy(
            name="audit-device-present", enforcement_level=mandatory, validate=AuditPresence(environments).validate,
            description="A stack holding an agentiam platform keeps its audit device."),
    ]
