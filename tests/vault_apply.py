"""Replay the `vault:*` resources of captured stacks into a real OpenBao, as strictly as the real provider would.

The Pulumi CLI cannot run here (docs/facts.md#machines), so this stands in for the engine and pulumi-vault (which
bridges terraform-provider-vault): `Replay.apply(capture)` takes what the program registered and, against what a
previous `apply` left, creates, updates, replaces and deletes, the way `pulumi up` would:

- **Order**: a resource is applied once every resource it depends on (the registration's recorded dependencies; a
  component stands for its children) is; among those ready, the *last registered* goes first, so a dependency the
  program forgot to record shows up as a refusal (a quota before its mount) instead of being hidden by a kind order.
  Deletions run after, dependents first.
- **Creates are creates** (docs/facts.md#pulumi-vault-provider): an existing mount, audit device, entity or entity
  alias is an error, as the provider makes it one; what the provider overwrites (policies, roles) is overwritten.
- **The provider's requests**: the endpoints it calls for create, read, update and delete (a deployer policy missing
  one is refused here as on a real server), the fields it sends (only non-zero ones where it uses `GetOk`, its
  defaults, such as a cert role's OCSP settings and a connection's pool size), the changed fields only on update.
  A field the server answers with a warning (it stored the request without it) fails the replay.
- **Nothing rewritten**: an input that is a mock's placeholder output (a mount accessor, a role id, an entity id)
  becomes the real value of the resource that produced it; a placeholder of a resource not applied yet is a missing
  dependency; an input no kind below knows fails.
- **Replacements**: a change of a field that forces one (the provider's `ForceNew`) creates the new resource first
  and deletes the old one after, unless the program set `delete_before_replace`; both act on the same Vault path
  when the path does not change, which is how a replacement can delete what it just wrote. A protected resource is
  never deleted nor replaced.
- **The deployer, not root**: every request goes through the child token the provider would create from the token
  it is given (`auth/token/create`, the stack's `vault_token_ttl`).

Adding a resource type is one `Kind` in `KINDS`. The AWS secrets engine, which OpenBao's PyPI build lacks, is
replayed into `SimulatedAwsEngine`, which accepts a role field only if the target server's engine has it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import hvac
import hvac.exceptions

from agentiam.program.capture import ProgramMocks
from tests.pulumi_capture import Capture, ResourceRecord, mount_accessor

AUTH_BACKEND = "vault:index/authBackend:AuthBackend"
MOUNT = "vault:index/mount:Mount"
POLICY = "vault:index/policy:Policy"
APPROLE_ROLE = "vault:appRole/authBackendRole:AuthBackendRole"
CERT_ROLE = "vault:index/certAuthBackendRole:CertAuthBackendRole"
TOKEN_ROLE = "vault:tokenauth/authBackendRole:AuthBackendRole"
ENTITY = "vault:identity/entity:Entity"
ENTITY_ALIAS = "vault:identity/entityAlias:EntityAlias"
DB_CONNECTION = "vault:database/secretBackendConnection:SecretBackendConnection"
DB_ROLE = "vault:database/secretBackendRole:SecretBackendRole"
RATE_LIMIT = "vault:index/quotaRateLimit:QuotaRateLimit"
ENDPOINT = "vault:generic/endpoint:Endpoint"
AUDIT = "vault:index/audit:Audit"
AWS_SECRET_ROLE = "vault:aws/secretBackendRole:SecretBackendRole"
PROVIDER = "pulumi:providers:vault"


class ApplyError(AssertionError):
    """What the real provider or server would refuse, or what this replay does not know how to apply."""


def _snake(key: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in key)


def _plain(value: Any) -> Any:
    """Mocks receive integers as floats; Vault wants integers."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _set(value: Any) -> bool:
    """terraform's `GetOk`: a zero value (0, "", [], {}, false) counts as not set, and the provider sends nothing."""
    return value not in (None, 0, "", [], {}, False)


# ---- the resource kinds ---------------------------------------------------------------------------------------


@dataclass
class Live:
    """One applied resource: its record, where it lives and the real values of its outputs."""

    record: ResourceRecord
    fields: dict[str, Any]  # snake_case inputs with placeholders made real
    path: str
    outputs: dict[str, str] = field(default_factory=dict)  # output name -> real value


Create = Callable[["Replay", ResourceRecord, dict[str, Any]], Live]
Update = Callable[["Replay", Live, dict[str, Any], dict[str, Any]], None]
Delete = Callable[["Replay", Live], None]


@dataclass(frozen=True)
class Kind:
    """How the provider handles one resource type: inputs it knows, fields forcing a replacement, requests."""

    token: str
    inputs: frozenset[str]  # camelCase, as the engine receives them
    force_new: frozenset[str]
    create: Create
    update: Update
    delete: Delete
    # `pulumi up --refresh`: read what the server holds now into the state (drift made out of band then shows as a
    # change to undo). Only kinds whose drift the tests exercise: an entity disabled by `agentiam revoke`.
    refresh: Callable[[Replay, Live], None] | None = None


def _write(replay: Replay, path: str, data: dict[str, Any], method: str = "POST") -> dict[str, Any] | None:
    return replay.request(method, path, data)


def _path_kind(token: str, inputs: Iterable[str], force_new: Iterable[str], path: Callable[[dict[str, Any]], str],
               *, exists: Iterable[str] = (), defaults: Mapping[str, Any] | None = None,
               full_update: bool = False, pop: Iterable[str] = (), transform: Callable[[dict[str, Any]], None] | None
               = None, after_create: Callable[[Replay, Live], None] | None = None, write_only: Iterable[str] = (),
               ignored: Mapping[str, Iterable[str]] | None = None) -> Kind:
    """A resource the provider writes to one path (roles, connections, quotas): create writes the set fields
    (`exists`: also zero ones the program passed, `defaults`: what the provider adds), update writes the changed
    fields (`full_update`: every field), delete is DELETE on the path, and a read follows every write.

    OpenBao answers 204 to a write naming a field it does not have and stores the rest: the read back must show
    every field sent with a value, but `write_only` ones (a password) and those `ignored` by a server flavor on
    purpose."""
    exists, pop, write_only = frozenset(exists), frozenset(pop), frozenset(write_only)

    def check(replay: Replay, live: Live, sent: Mapping[str, Any]) -> None:
        stored = replay.request("GET", live.path) or {}
        stored = {**stored, **(stored.get("connection_details") or {})}
        skipped = write_only | frozenset((ignored or {}).get(replay.flavor, ()))
        # A zero value may be left out of the answer (token roles omit empty CIDR lists and zero use counts).
        missing = sorted(k for k, v in sent.items() if k not in stored and k not in skipped and _set(v))
        if missing:
            raise ApplyError(f"{live.record.name}: {live.path} kept no {missing}: the server does not know them "
                             "(OpenBao stores a role without unknown fields and says nothing)")

    def body(fields: dict[str, Any], keys: Iterable[str]) -> dict[str, Any]:
        data = {k: fields[k] for k in keys if k not in pop}
        if transform:
            transform(data)
        return data

    def create(replay: Replay, record: ResourceRecord, fields: dict[str, Any]) -> Live:
        keys = [k for k, v in fields.items() if _set(v) or k in exists]
        data = {**(defaults or {}), **body(fields, keys)}
        live = Live(record, fields, path(fields))
        _write(replay, live.path, data)
        check(replay, live, data)
        if after_create:
            after_create(replay, live)
        return live

    def update(replay: Replay, live: Live, fields: dict[str, Any], changed: dict[str, Any]) -> None:
        data = body(fields, fields if full_update else [k for k in changed if k in fields])
        _write(replay, live.path, data)
        check(replay, live, data)
        live.fields = fields

    def delete(replay: Replay, live: Live) -> None:
        replay.request("DELETE", live.path)

    return Kind(token, frozenset(inputs), frozenset(force_new), create, update, delete)


# Auth and secrets mounts: enabling a path in use is refused by Vault (so is every create of an existing mount).
def _auth_create(replay: Replay, record: ResourceRecord, fields: dict[str, Any]) -> Live:
    path = fields["path"]
    replay.request("POST", f"sys/auth/{path}", {"type": fields["type"], "description": "", "local": False})
    live = Live(record, fields, f"sys/auth/{path}")
    if fields.get("tune"):  # the provider tunes there, in Vault's field names
        replay.request("POST", f"sys/mounts/auth/{path}/tune", {_snake(k): v for k, v in fields["tune"].items()})
    live.outputs["accessor"] = replay.request("GET", f"sys/auth/{path}")["accessor"]
    replay.request("GET", f"sys/mounts/auth/{path}/tune")
    return live


def _auth_update(replay: Replay, live: Live, fields: dict[str, Any], changed: dict[str, Any]) -> None:
    if set(changed) - {"tune"}:
        raise ApplyError(f"{live.record.name}: a remount ({sorted(changed)}) is not modelled")
    replay.request("POST", f"sys/mounts/auth/{fields['path']}/tune", {_snake(k): v for k, v in fields["tune"].items()})
    live.fields = fields


def _mount_create(replay: Replay, record: ResourceRecord, fields: dict[str, Any]) -> Live:
    path = fields["path"]
    config = {"default_lease_ttl": f"{fields.get('default_lease_ttl_seconds', 0)}s",
              "max_lease_ttl": f"{fields.get('max_lease_ttl_seconds', 0)}s", "force_no_cache": False}
    replay.request("POST", f"sys/mounts/{path}", {"type": fields["type"], "description": "", "config": config,
                                                  "local": False, "seal_wrap": False,
                                                  "external_entropy_access": False})
    live = Live(record, fields, f"sys/mounts/{path}")
    replay.request("GET", f"sys/mounts/{path}")
    return live


def _mount_update(replay: Replay, live: Live, fields: dict[str, Any], changed: dict[str, Any]) -> None:
    if set(changed) - {"max_lease_ttl_seconds", "default_lease_ttl_seconds"}:
        raise ApplyError(f"{live.record.name}: a remount ({sorted(changed)}) is not modelled")
    replay.request("POST", f"sys/mounts/{fields['path']}/tune",
                   {"default_lease_ttl": f"{fields['default_lease_ttl_seconds']}s",
                    "max_lease_ttl": f"{fields['max_lease_ttl_seconds']}s"})
    live.fields = fields


def _policy_create(replay: Replay, record: ResourceRecord, fields: dict[str, Any]) -> Live:
    path = f"sys/policies/acl/{fields['name']}"
    replay.request("GET", path, missing_ok=True)  # the provider looks first; `allow_overwrite` defaults to true
    replay.request("PUT", path, {"policy": fields["policy"]})
    return Live(record, fields, path)


def _role_id(replay: Replay, live: Live) -> None:
    live.outputs["role_id"] = replay.request("GET", f"{live.path}/role-id")["role_id"]


def _entity_create(replay: Replay, record: ResourceRecord, fields: dict[str, Any]) -> Live:
    data = {"name": fields["name"], **{k: fields[k] for k in ("metadata", "policies", "disabled") if _set(fields.get(k))}}
    answer = replay.request("POST", "identity/entity", data)
    if not answer:  # Vault updates an existing entity and answers 204: the provider refuses
        raise ApplyError(f"{record.name}: Identity Entity {fields['name']!r} already exists (the provider refuses)")
    live = Live(record, fields, f"identity/entity/id/{answer['id']}", {"id": answer["id"]})
    replay.request("GET", live.path)
    return live


def _entity_update(replay: Replay, live: Live, fields: dict[str, Any], changed: dict[str, Any]) -> None:
    replay.request("POST", live.path, {"name": fields["name"], "metadata": fields.get("metadata", {}),
                                       "disabled": fields.get("disabled", False), "policies": [],
                                       "external_policies": False})  # resource_identity_entity.go, update
    replay.request("GET", live.path)
    live.fields = fields


def _entity_refresh(replay: Replay, live: Live) -> None:
    stored = replay.request("GET", live.path, missing_ok=True)
    if stored is None:
        return
    live.fields = {**live.fields, "disabled": bool(stored.get("disabled")), "metadata": stored.get("metadata") or {}}


def _alias_create(replay: Replay, record: ResourceRecord, fields: dict[str, Any]) -> Live:
    found = replay.request("POST", "identity/lookup/entity",
                           {"alias_name": fields["name"], "alias_mount_accessor": fields["mount_accessor"]})
    if found:
        raise ApplyError(f"{record.name}: entity alias {fields['name']!r} already exists for mount accessor "
                         f"{fields['mount_accessor']!r} (the provider refuses)")
    answer = replay.request("POST", "identity/entity-alias", {
        "name": fields["name"], "mount_accessor": fields["mount_accessor"], "canonical_id": fields["canonical_id"]})
    live = Live(record, fields, f"identity/entity-alias/id/{answer['id']}", {"id": answer["id"]})
    replay.request("GET", live.path)
    return live


def _alias_update(replay: Replay, live: Live, fields: dict[str, Any], changed: dict[str, Any]) -> None:
    replay.request("POST", live.path, {k: fields[k] for k in ("name", "mount_accessor", "canonical_id")})
    live.fields = fields


def _endpoint_create(replay: Replay, record: ResourceRecord, fields: dict[str, Any]) -> Live:
    if not (fields.get("disable_read") and fields.get("disable_delete")):
        raise ApplyError(f"{record.name}: only write-only generic endpoints (disableRead, disableDelete) are modelled")
    replay.request("POST", fields["path"], json.loads(fields["data_json"]))
    return Live(record, fields, fields["path"])


def _endpoint_update(replay: Replay, live: Live, fields: dict[str, Any], changed: dict[str, Any]) -> None:
    replay.request("POST", fields["path"], json.loads(fields["data_json"]))
    live.fields = fields


def _audit_create(replay: Replay, record: ResourceRecord, fields: dict[str, Any]) -> Live:
    path = f"sys/audit/{fields['path']}"
    replay.request("PUT", path, {"type": fields["type"], "description": "", "local": False,
                                 "options": fields["options"]})
    replay.request("GET", "sys/audit")
    return Live(record, fields, path)


def _never(replay: Replay, live: Live, fields: dict[str, Any], changed: dict[str, Any]) -> None:
    raise ApplyError(f"{live.record.name}: every field forces a replacement; an update cannot happen")


def _nothing(replay: Replay, live: Live) -> None:
    """The endpoint's `disable_delete`: the provider sends nothing."""


def _connection_body(data: dict[str, Any]) -> None:
    postgresql = data.pop("postgresql", None) or {}
    data.update({_snake(k): v for k, v in postgresql.items()})
    if "allowed_roles" in data:  # the provider joins them (resource_database_secret_backend_connection.go)
        data["allowed_roles"] = ",".join(data["allowed_roles"])


def _token_role_body(data: dict[str, Any]) -> None:
    if "token_ttl" in data:  # docs/facts.md#vault-token-roles: a token role's TTL is its period
        raise ApplyError("a token role ignores token_ttl (its TTL is token_period; the provider drops it then)")


# What the provider sends for a token role on create and on every update, set or not
# (resource_token_auth_backend_role.go, `tokenAuthBackendRoleUpdateFields` and auth_token.go `setTokenFields`;
# `token_ttl` only without `token_period`). OpenBao's token roles have no `token_max_ttl`, `token_policies` nor
# `alias_metadata`; the provider sends them empty, so nothing is lost.
TOKEN_ROLE_DEFAULTS = {
    "allowed_policies": [], "allowed_policies_glob": [], "disallowed_policies": [], "disallowed_policies_glob": [],
    "allowed_entity_aliases": [], "orphan": False, "renewable": True, "path_suffix": "", "token_type":
    "default-service", "token_no_default_policy": False, "token_explicit_max_ttl": 0, "token_max_ttl": 0,
    "token_period": 0, "token_policies": [], "token_num_uses": 0, "token_bound_cidrs": [], "alias_metadata": {}}


def _delete(replay: Replay, live: Live) -> None:
    replay.request("DELETE", live.path)


def _aws_role(replay: Replay, record: ResourceRecord, fields: dict[str, Any]) -> Live:
    live = Live(record, fields, f"{fields['backend']}/roles/{fields['name']}")
    replay.aws_engine.write(live.path, {k: v for k, v in fields.items() if k not in ("backend", "name")})
    return live


def _aws_update(replay: Replay, live: Live, fields: dict[str, Any], changed: dict[str, Any]) -> None:
    replay.aws_engine.write(live.path, {k: v for k, v in fields.items() if k not in ("backend", "name")})
    live.fields = fields


KINDS: dict[str, Kind] = {k.token: k for k in (
    Kind(AUTH_BACKEND, frozenset({"type", "path", "tune"}), frozenset({"type"}), _auth_create, _auth_update, _delete),
    Kind(MOUNT, frozenset({"type", "path", "maxLeaseTtlSeconds", "defaultLeaseTtlSeconds"}), frozenset({"type"}),
         _mount_create, _mount_update, _delete),
    Kind(ENDPOINT, frozenset({"path", "dataJson", "disableRead", "disableDelete"}), frozenset({"path"}),
         _endpoint_create, _endpoint_update, _nothing),
    Kind(POLICY, frozenset({"name", "policy"}), frozenset({"name"}), _policy_create,
         lambda r, live, f, c: (r.request("PUT", live.path, {"policy": f["policy"]}), setattr(live, "fields", f)),
         _delete),
    _path_kind(APPROLE_ROLE, {"backend", "roleName", "tokenPolicies", "tokenTtl", "tokenMaxTtl", "tokenExplicitMaxTtl",
                              "tokenNumUses", "tokenType", "tokenNoDefaultPolicy", "bindSecretId", "secretIdTtl",
                              "secretIdNumUses", "secretIdBoundCidrs", "tokenBoundCidrs"},
               {"backend", "roleName"}, lambda f: f"auth/{f['backend']}/role/{f['role_name']}",
               exists={"token_no_default_policy", "bind_secret_id"}, pop={"backend", "role_name"},
               after_create=_role_id),
    # The provider always sends the OCSP switches and its default retry count (resource_cert_auth_backend_role.go).
    _path_kind(CERT_ROLE, {"backend", "name", "certificate", "allowedCommonNames", "tokenPolicies", "tokenTtl",
                           "tokenMaxTtl", "tokenExplicitMaxTtl", "tokenType", "tokenNoDefaultPolicy", "tokenNumUses",
                           "tokenBoundCidrs"},
               {"backend", "name", "certificate"}, lambda f: f"auth/{f['backend']}/certs/{f['name']}",
               exists={"token_no_default_policy"}, pop={"backend", "name"},
               defaults={"ocsp_enabled": False, "ocsp_fail_open": False, "ocsp_query_all_servers": False,
                         "ocsp_max_retries": 4},
               # Sent because the provider reads OpenBao's 2.x version as newer than Vault 1.16, where the field
               # came; OpenBao's cert backend has no retry count and keeps its default (OCSP is off anyway).
               ignored={"openbao": {"ocsp_max_retries"}}),
    _path_kind(TOKEN_ROLE, {"roleName", "allowedPolicies", "allowedEntityAliases", "orphan", "renewable",
                            "tokenPeriod", "tokenExplicitMaxTtl", "tokenType", "tokenNoDefaultPolicy",
                            "tokenBoundCidrs"},
               {"roleName"}, lambda f: f"auth/token/roles/{f['role_name']}", pop={"role_name"},
               exists=set(TOKEN_ROLE_DEFAULTS), defaults=TOKEN_ROLE_DEFAULTS, full_update=True,
               transform=_token_role_body),
    Kind(ENTITY, frozenset({"name", "metadata", "disabled", "policies"}), frozenset(), _entity_create, _entity_update,
         _delete, refresh=_entity_refresh),
    Kind(ENTITY_ALIAS, frozenset({"name", "mountAccessor", "canonicalId"}), frozenset(), _alias_create, _alias_update,
         _delete),
    # A connection's pool size and escaping are sent whatever the program says; the password only on create.
    _path_kind(DB_CONNECTION, {"backend", "name", "pluginName", "allowedRoles", "verifyConnection", "postgresql"},
               {"backend", "name"}, lambda f: f"{f['backend']}/config/{f['name']}",
               exists={"verify_connection", "allowed_roles"}, pop={"backend", "name"}, transform=_connection_body,
               defaults={"disable_escaping": False, "max_open_connections": 2}, full_update=True,
               write_only={"password", "verify_connection"}),
    _path_kind(DB_ROLE, {"backend", "name", "dbName", "creationStatements", "revocationStatements", "defaultTtl",
                         "maxTtl"},
               {"backend", "name", "dbName"}, lambda f: f"{f['backend']}/roles/{f['name']}", pop={"backend", "name"},
               full_update=True),
    _path_kind(RATE_LIMIT, {"name", "path", "role", "rate", "interval"}, {"name", "path"},
               lambda f: f"sys/quotas/rate-limit/{f['name']}", pop={"name"}, full_update=True),
    Kind(AUDIT, frozenset({"path", "type", "options"}), frozenset({"path", "type", "options"}), _audit_create, _never,
         _delete),
    Kind(AWS_SECRET_ROLE, frozenset({"backend", "name", "credentialType", "roleArns", "defaultStsTtl", "maxStsTtl",
                                     "sessionTags"}),
         frozenset({"backend", "name", "roleArns"}), _aws_role, _aws_update,
         lambda replay, live: replay.aws_engine.delete(live.path)),
)}


# ---- the AWS secrets engine OpenBao's PyPI build lacks --------------------------------------------------------

# Role fields of each engine (openbao-plugins secrets/aws/path_roles.go; hashicorp/vault builtin/logical/aws/
# path_roles.go): a field the target's engine lacks would be stored without it, with a warning only.
AWS_ROLE_FIELDS = {
    "openbao": frozenset({"credential_type", "role_arns", "policy_arns", "policy_document", "iam_groups", "iam_tags",
                          "default_sts_ttl", "max_sts_ttl", "permissions_boundary_arn", "user_path"}),
    "hashicorp": frozenset({"credential_type", "role_arns", "policy_arns", "policy_document", "iam_groups",
                            "iam_tags", "session_tags", "external_id", "default_sts_ttl", "max_sts_ttl",
                            "permissions_boundary_arn", "user_path", "mfa_serial_number"}),
}


class SimulatedAwsEngine:
    """The AWS secrets engine's role storage, accepting exactly the fields of the target flavor's engine."""

    def __init__(self, flavor: str):
        self.flavor = flavor
        self.roles: dict[str, dict[str, Any]] = {}

    def write(self, path: str, data: dict[str, Any]) -> None:
        unknown = set(data) - AWS_ROLE_FIELDS[self.flavor]
        if unknown:
            raise ApplyError(f"{path}: the {self.flavor} AWS engine has no {sorted(unknown)}: it would store the "
                             "role without them, answering with a warning only")
        self.roles[path] = dict(data)

    def delete(self, path: str) -> None:
        self.roles.pop(path, None)


# ---- the replay -----------------------------------------------------------------------------------------------


@dataclass
class Changes:
    """What one `apply` did, by logical name."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)


class Replay:
    """Applies captures to one Vault with a deployer's token, remembering what it applied (as Pulumi's state)."""

    def __init__(self, address: str, token: str, *, flavor: str = "openbao", ca_cert: str | None = None,
                 account_id: str = "000000000000", region: str = ""):
        self.address, self._deployer, self._ca, self.flavor = address, token, ca_cert, flavor
        self.state: dict[str, Live] = {}  # urn -> applied resource
        self.aws_engine = SimulatedAwsEngine(flavor)
        self._client = hvac.Client(url=address, verify=ca_cert if ca_cert else True, timeout=30)
        self._client.token = None
        self._token: str | None = None
        self._mocks = ProgramMocks(account_id, region)
        self.requests: list[tuple[str, str]] = []  # (method, path) of every request sent
        self.looked_up: dict[str, str] = {}  # auth mount path -> accessor, of mounts the program read by path

    def close(self) -> None:
        self._client.adapter.close()

    # -- requests ---------------------------------------------------------------------------------------

    def request(self, method: str, path: str, data: dict[str, Any] | None = None, *,
                missing_ok: bool = False) -> dict[str, Any] | None:
        """One request with the child token; the answer's `data` (None for 204). Refusals and warnings fail."""
        self.requests.append((method, path))
        try:
            answer = self._client.adapter.request(method, f"/v1/{path}", json=data,
                                                  headers={"X-Vault-Token": self._token or self._deployer})
        except hvac.exceptions.InvalidPath:
            if missing_ok:
                return None
            raise ApplyError(f"{method} {path}: not found") from None
        except hvac.exceptions.VaultError as exc:
            raise ApplyError(f"{method} {path}: refused: {exc}") from exc
        if not isinstance(answer, dict):
            return None
        if answer.get("warnings"):
            raise ApplyError(f"{method} {path}: the server warned {answer['warnings']} (it ignored part of the "
                             "request: the real provider would not notice)")
        data_out = answer.get("data")
        return data_out if isinstance(data_out, dict) else answer

    def _child_token(self, capture: Capture) -> None:
        """What the provider does first (terraform-provider-vault, internal/provider/meta.go): look its token up,
        then act through a non-renewable child token of `max_lease_ttl_seconds`."""
        (provider,) = [r for r in capture.resources if r.type_token == PROVIDER]
        ttl = int(json.loads(provider.inputs["maxLeaseTtlSeconds"]))
        self._token = None
        self.request("GET", "auth/token/lookup-self")
        answer = self._client.adapter.request("POST", "/v1/auth/token/create", json={
            "display_name": "terraform", "ttl": f"{ttl}s", "explicit_max_ttl": f"{ttl}s", "renewable": False},
            headers={"X-Vault-Token": self._deployer})
        self.requests.append(("POST", "auth/token/create"))
        self._token = answer["auth"]["client_token"]

    # -- placeholders ---------------------------------------------------------------------------------------

    def _placeholders(self, capture: Capture) -> dict[str, tuple[str, str]]:
        """Every value the mocks handed out as an output: placeholder -> (urn, output name)."""
        out: dict[str, tuple[str, str]] = {}
        for record in capture.resources:
            if not record.type_token.startswith("vault:"):
                continue
            resource_id, computed = self._mocks._computed(record.type_token, record.name, record.inputs)  # noqa: SLF001
            if resource_id not in json.dumps(record.inputs):  # an id that is the resource's own path is real already
                out[resource_id] = (record.urn, "id")
            for name, value in computed.items():
                out[str(value)] = (record.urn, _snake(name))
        return out

    def _real(self, value: Any, placeholders: Mapping[str, tuple[str, str]], record: ResourceRecord) -> Any:
        if isinstance(value, dict):
            return {k: self._real(v, placeholders, record) for k, v in value.items()}
        if isinstance(value, list):
            return [self._real(v, placeholders, record) for v in value]
        if not isinstance(value, str):
            return value
        if value in placeholders:
            urn, output = placeholders[value]
            live = self.state.get(urn)
            if live is None:
                raise ApplyError(f"{record.name} uses the {output} of {urn.rsplit('::', 1)[-1]} before it exists: "
                                 "a dependency the program did not record")
            return live.outputs[output]
        if value.startswith("auth_mock_"):  # an accessor the program looked up by path (get_auth_backend)
            for path, mount in (self.request("GET", "sys/auth") or {}).items():
                if isinstance(mount, dict) and mount_accessor(path.rstrip("/")) == value:
                    self.request("GET", f"sys/auth/{path.rstrip('/')}")  # what the data source reads
                    self.looked_up[path.rstrip("/")] = mount["accessor"]
                    return mount["accessor"]
            raise ApplyError(f"{record.name}: mount accessor {value} belongs to no mount of the server")
        return value

    def _fields(self, record: ResourceRecord, placeholders: Mapping[str, tuple[str, str]]) -> dict[str, Any]:
        kind = KINDS.get(record.type_token)
        if kind is None:
            raise ApplyError(f"unknown Vault resource type {record.type_token} ({record.name}): tests/vault_apply.py "
                             "must learn to apply it (one Kind in KINDS)")
        unknown = set(record.inputs) - kind.inputs
        if unknown:
            raise ApplyError(f"{record.type_token} {record.name}: inputs {sorted(unknown)} are not handled by "
                             "tests/vault_apply.py; teach it what they mean on the real server")
        return {_snake(k): _plain(self._real(v, placeholders, record)) for k, v in record.inputs.items()}

    # -- ordering -------------------------------------------------------------------------------------------

    @staticmethod
    def _vault_records(capture: Capture) -> list[ResourceRecord]:
        return [r for r in capture.resources if r.custom and r.type_token.startswith("vault:")]

    @staticmethod
    def _dependencies(capture: Capture) -> dict[str, set[str]]:
        """urn -> the custom resources it waits for (a component dependency stands for its descendants)."""
        by_urn = {r.urn: r for r in capture.resources}
        out: dict[str, set[str]] = {}
        for record in capture.resources:
            if not record.custom:
                continue
            deps: set[str] = set()
            for urn in record.dependencies:
                target = by_urn.get(urn)
                if target is None:
                    continue
                deps |= {urn} if target.custom else {d.urn for d in capture.descendants(urn) if d.custom}
            out[record.urn] = deps
        return out

    def _order(self, capture: Capture, urns: set[str]) -> list[str]:
        """`urns` in an order respecting dependencies; among the ready ones, the last registered first."""
        deps = self._dependencies(capture)
        position = {r.urn: i for i, r in enumerate(capture.resources)}
        done: set[str] = set()
        order: list[str] = []
        pending = set(urns)
        while pending:
            ready = [u for u in pending if not (deps.get(u, set()) & pending)]
            if not ready:
                raise ApplyError(f"dependency cycle among {sorted(pending)}")
            chosen = max(ready, key=position.__getitem__)
            order.append(chosen)
            done.add(chosen)
            pending.remove(chosen)
        return order

    # -- applying -------------------------------------------------------------------------------------------

    def apply(self, capture: Capture, *, refresh: bool = False) -> Changes:
        """Bring the server from what the previous `apply` left to what `capture` registers (`refresh`: first read
        drift back into the state, as `pulumi up --refresh` does)."""
        self._child_token(capture)
        if refresh:
            for live in self.state.values():
                kind = KINDS[live.record.type_token]
                if kind.refresh is not None:
                    kind.refresh(self, live)
        changes = Changes()
        placeholders = self._placeholders(capture)
        wanted = {r.urn: r for r in self._vault_records(capture)}
        for urn in self._order(capture, set(wanted)):
            record = wanted[urn]
            kind = KINDS.get(record.type_token)
            fields = self._fields(record, placeholders)
            live = self.state.get(urn)
            if live is None:
                self.state[urn] = kind.create(self, record, fields)
                changes.created.append(record.name)
                continue
            changed = {k: v for k, v in fields.items() if live.fields.get(k) != v}
            changed |= {k: None for k in live.fields if k not in fields}
            if not changed:
                live.record = record
                continue
            if set(changed) & {_snake(k) for k in kind.force_new}:
                self._replace(kind, live, record, fields)
                changes.replaced.append(record.name)
            else:
                kind.update(self, live, fields, changed)
                live.record = record
                changes.updated.append(record.name)
        gone = {urn for urn in self.state if urn not in wanted}
        previous = _Previous(self.state)
        for urn in reversed(self._order(previous, gone)):
            live = self.state[urn]
            self._refuse_if_protected(live, "delete")
            KINDS[live.record.type_token].delete(self, live)
            del self.state[urn]
            changes.deleted.append(live.record.name)
        return changes

    def _replace(self, kind: Kind, old: Live, record: ResourceRecord, fields: dict[str, Any]) -> None:
        self._refuse_if_protected(old, "replace")
        if record.options.get("deleteBeforeReplace"):
            kind.delete(self, old)
            self.state[record.urn] = kind.create(self, record, fields)
        else:  # Pulumi's default: the replacement first, then the old one's deletion (same path: gone)
            new = kind.create(self, record, fields)
            kind.delete(self, old)
            self.state[record.urn] = new

    @staticmethod
    def _refuse_if_protected(live: Live, what: str) -> None:
        if live.record.options.get("protect"):
            raise ApplyError(f"{live.record.name} is protected: Pulumi refuses to {what} it (docs/deploy.md, "
                             "moving the platform)")

    # -- what the tests read --------------------------------------------------------------------------------

    def output(self, type_token: str, name: str, output: str) -> str:
        for live in self.state.values():
            if live.record.type_token == type_token and live.record.name == name:
                return live.outputs[output]
        raise KeyError(f"{type_token} {name}")

    @property
    def role_ids(self) -> dict[str, str]:
        return {live.fields["role_name"]: live.outputs["role_id"] for live in self.state.values()
                if live.record.type_token == APPROLE_ROLE}

    @property
    def entity_ids(self) -> dict[str, str]:
        return {live.fields["name"]: live.outputs["id"] for live in self.state.values()
                if live.record.type_token == ENTITY}

    @property
    def accessors(self) -> dict[str, str]:
        """Auth mount path -> accessor: the mounts applied, and those the program looked up (Vault's token mount)."""
        return {**self.looked_up, **{live.fields["path"]: live.outputs["accessor"] for live in self.state.values()
                                     if live.record.type_token == AUTH_BACKEND}}


class _Previous:
    """The state's records as a capture, to order deletions by the dependencies they were created with."""

    def __init__(self, state: Mapping[str, Live]):
        self.resources = [live.record for live in state.values()]

    def descendants(self, urn: str) -> list[ResourceRecord]:
        return []
