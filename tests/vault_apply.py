"""Apply the `vault:*` resources a captured stack registers to a real OpenBao, exactly as captured.

The Pulumi CLI cannot run here (FACTS.md), so this stands in for the pulumi-vault provider in tests: it takes the
records `tests/pulumi_capture.capture_stack` returns and writes the same inputs through the Vault API, resource
type by resource type in dependency order. A server that refuses an input fails the test: that is the point.
An unknown resource type or an unknown input key fails loudly, so a new component or argument is noticed.

Mock outputs (mount accessors, role ids, entity ids) are replaced by the real server's values by structure:
an entity alias takes the real accessor of the mount the mock accessor stood for, the real role id of the AppRole
role beside it (same parent component) and the real id of the entity beside it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import hvac

from tests.pulumi_capture import ResourceRecord, mount_accessor

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
# OpenBao from PyPI has no AWS secrets engine (FACTS.md); callers skip this type explicitly, never silently.
AWS_SECRET_ROLE = "vault:aws/secretBackendRole:SecretBackendRole"


class ApplyError(AssertionError):
    """A captured resource cannot be applied: unknown type or input, or a structure the applier cannot resolve."""


@dataclass
class Applied:
    """What the real server assigned: ids by logical resource name, role ids, accessors."""

    ids: dict[str, str] = field(default_factory=dict)  # logical name -> real id (entity id, role id...)
    role_ids: dict[str, str] = field(default_factory=dict)  # AppRole role name -> role id
    accessors: dict[str, str] = field(default_factory=dict)  # auth mount path -> real accessor
    entity_ids: dict[str, str] = field(default_factory=dict)  # entity name -> id
    skipped: list[ResourceRecord] = field(default_factory=list)


def _snake(key: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in key)


def _plain(value: Any) -> Any:
    """Mocks receive integers as floats (FACTS.md); Vault wants integers."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _fields(record: ResourceRecord, allowed: Iterable[str], drop: Iterable[str] = ()) -> dict[str, Any]:
    """The record's inputs in Vault's snake_case; ApplyError if an input is not in `allowed`."""
    allowed = set(allowed)
    unknown = set(record.inputs) - allowed
    if unknown:
        raise ApplyError(f"{record.type_token} {record.name}: inputs {sorted(unknown)} are not handled by "
                         "tests/vault_apply.py; teach it what they mean on the real server")
    return {_snake(k): _plain(v) for k, v in record.inputs.items() if k not in set(drop)}


class VaultApplier:
    """Applies captured records with a root hvac client; `apply()` returns what the server assigned."""

    def __init__(self, client: hvac.Client):
        self.client = client
        self.applied = Applied()
        self._mock_accessors: dict[str, str] = {}  # mock accessor -> real accessor
        self._handlers: list[tuple[str, Callable[[ResourceRecord], None]]] = [
            (AUTH_BACKEND, self._auth_backend),
            (ENDPOINT, self._endpoint),
            (MOUNT, self._mount),
            (POLICY, self._policy),
            (APPROLE_ROLE, self._approle_role),
            (CERT_ROLE, self._cert_role),
            (TOKEN_ROLE, self._token_role),
            (ENTITY, self._entity),
            (ENTITY_ALIAS, self._entity_alias),
            (DB_CONNECTION, self._db_connection),
            (DB_ROLE, self._db_role),
            (RATE_LIMIT, self._rate_limit),
        ]

    def apply(self, records: Iterable[ResourceRecord], skip: Iterable[str] = ()) -> Applied:
        """Apply every `vault:*` record (others are ignored) in dependency order; `skip` names types to leave out."""
        skip = set(skip)
        order = {token: index for index, (token, _) in enumerate(self._handlers)}
        handlers = dict(self._handlers)
        vault_records = [r for r in records if r.type_token.startswith("vault:")]
        self._records = vault_records
        for record in vault_records:
            if record.type_token in skip:
                self.applied.skipped.append(record)
            elif record.type_token == AWS_SECRET_ROLE:
                raise ApplyError(f"{record.name}: this OpenBao build has no AWS secrets engine (FACTS.md); "
                                 f"pass skip={{{AWS_SECRET_ROLE!r}}} to leave it out knowingly")
            elif record.type_token not in order:
                raise ApplyError(f"unknown Vault resource type {record.type_token} ({record.name}): "
                                 "tests/vault_apply.py must learn to apply it")
        for record in sorted((r for r in vault_records if r.type_token not in skip),
                             key=lambda r: order[r.type_token]):
            handlers[record.type_token](record)
        return self.applied

    # -- mounts ---------------------------------------------------------------------------------------

    def _auth_backend(self, record: ResourceRecord) -> None:
        fields = _fields(record, {"type", "path", "tune"}, drop={"tune"})
        path = fields["path"]
        if f"{path}/" not in self.client.sys.list_auth_methods()["data"]:
            self.client.write_data(f"sys/auth/{path}", data={"type": fields["type"]})
        tune = {_snake(k): _plain(v) for k, v in (record.inputs.get("tune") or {}).items()}
        if tune:
            self.client.write_data(f"sys/auth/{path}/tune", data=tune)
        real = self.client.sys.list_auth_methods()["data"][f"{path}/"]["accessor"]
        self.applied.accessors[path] = real
        self._mock_accessors[mount_accessor(path)] = real

    def _endpoint(self, record: ResourceRecord) -> None:
        """A generic endpoint: its JSON written to its path as is (what the provider's `vault_generic_endpoint` does).

        Only the write-only, never-deleted form the components use is understood; another form would need its read
        and delete semantics taught here.
        """
        fields = _fields(record, {"path", "dataJson", "disableRead", "disableDelete"})
        if not (fields.get("disable_read") and fields.get("disable_delete")):
            raise ApplyError(f"{record.name}: only write-only generic endpoints (disableRead, disableDelete) are "
                             "applied here")
        self.client.write_data(fields["path"], data=json.loads(fields["data_json"]))

    def _mount(self, record: ResourceRecord) -> None:
        fields = _fields(record, {"type", "path", "maxLeaseTtlSeconds", "defaultLeaseTtlSeconds"})
        config = {"max_lease_ttl": fields.get("max_lease_ttl_seconds", 0),
                  "default_lease_ttl": fields.get("default_lease_ttl_seconds", 0)}
        path = fields["path"]
        if f"{path}/" in self.client.sys.list_mounted_secrets_engines()["data"]:
            self.client.write_data(f"sys/mounts/{path}/tune", data=config)
        else:
            self.client.write_data(f"sys/mounts/{path}", data={"type": fields["type"], "config": config})

    # -- policies and roles ---------------------------------------------------------------------------

    def _policy(self, record: ResourceRecord) -> None:
        fields = _fields(record, {"name", "policy"})
        self.client.sys.create_or_update_acl_policy(fields["name"], fields["policy"])

    def _approle_role(self, record: ResourceRecord) -> None:
        fields = _fields(record, {
            "backend", "roleName", "tokenPolicies", "tokenTtl", "tokenMaxTtl", "tokenExplicitMaxTtl", "tokenNumUses",
            "tokenType", "tokenNoDefaultPolicy", "bindSecretId", "secretIdTtl", "secretIdNumUses",
            "secretIdBoundCidrs", "tokenBoundCidrs"})
        backend, role = fields.pop("backend"), fields.pop("role_name")
        self.client.write_data(f"auth/{backend}/role/{role}", data=fields)
        role_id = self.client.read(f"auth/{backend}/role/{role}/role-id")["data"]["role_id"]
        self.applied.role_ids[role] = role_id
        self.applied.ids[record.name] = role_id

    def _cert_role(self, record: ResourceRecord) -> None:
        fields = _fields(record, {
            "backend", "name", "certificate", "allowedCommonNames", "tokenPolicies", "tokenTtl", "tokenMaxTtl",
            "tokenExplicitMaxTtl", "tokenType", "tokenNoDefaultPolicy", "tokenNumUses", "tokenBoundCidrs"})
        backend, name = fields.pop("backend"), fields.pop("name")
        self.client.write_data(f"auth/{backend}/certs/{name}", data=fields)

    def _token_role(self, record: ResourceRecord) -> None:
        """auth/token/roles/<name>, then read back: OpenBao answers 204 to fields a token role does not have
        (`token_ttl`, `token_max_ttl`), so only the read shows that each input really took."""
        if {"tokenTtl", "tokenMaxTtl"} & set(record.inputs):
            raise ApplyError(f"{record.name}: a token role ignores token_ttl and token_max_ttl (docs/facts.md"
                             "#vault-token-roles); its TTL is token_period")
        fields = _fields(record, {
            "roleName", "allowedPolicies", "allowedEntityAliases", "orphan", "renewable", "tokenPeriod",
            "tokenExplicitMaxTtl", "tokenType", "tokenNoDefaultPolicy", "tokenBoundCidrs"})
        name = fields.pop("role_name")
        self.client.write_data(f"auth/token/roles/{name}", data=fields)
        stored = self.client.read(f"auth/token/roles/{name}")["data"]
        # Vault reads an empty list back as null
        differs = {key: (value, stored.get(key)) for key, value in fields.items()
                   if (stored.get(key) or type(value)()) != value}
        if differs:
            raise ApplyError(f"{record.name}: the server did not store {differs} (written, read back)")

    # -- identity -------------------------------------------------------------------------------------

    def _entity(self, record: ResourceRecord) -> None:
        fields = _fields(record, {"name", "metadata", "disabled", "policies"})
        name = fields.pop("name")
        self.client.write_data(f"identity/entity/name/{name}", data=fields)
        entity_id = self.client.read(f"identity/entity/name/{name}")["data"]["id"]
        self.applied.entity_ids[name] = entity_id
        self.applied.ids[record.name] = entity_id

    def _sibling(self, record: ResourceRecord, type_token: str) -> ResourceRecord:
        found = [r for r in self._records if r.type_token == type_token and r.parent == record.parent]
        if len(found) != 1:
            raise ApplyError(f"{record.name}: expected one {type_token} beside it under {record.parent}, "
                             f"found {len(found)}")
        return found[0]

    def _entity_alias(self, record: ResourceRecord) -> None:
        fields = _fields(record, {"name", "mountAccessor", "canonicalId"})
        accessor = self._mock_accessors.get(fields["mount_accessor"]) or self._existing_mount(fields["mount_accessor"])
        if accessor is None:
            raise ApplyError(f"{record.name}: mount accessor {fields['mount_accessor']} belongs to no applied mount "
                             "nor to a mount of the server the program may have looked up")
        entity_id = self.applied.ids[self._sibling(record, ENTITY).name]
        name = fields["name"]
        approle_paths = [path for path, real in self.applied.accessors.items() if real == accessor]
        role = self._sibling(record, APPROLE_ROLE)
        if role.inputs["backend"] in approle_paths:
            # The mock's role id stood for the real one (FACTS.md: AppRole alias name = role id).
            name = self.applied.ids[role.name]
        entity = self.client.read(f"identity/entity/id/{entity_id}")["data"]
        if any(a["mount_accessor"] == accessor and a["name"] == name for a in entity.get("aliases") or []):
            return
        self.client.write_data("identity/entity-alias",
                               data={"name": name, "mount_accessor": accessor, "canonical_id": entity_id})

    def _existing_mount(self, mock: str) -> str | None:
        """The real accessor of a mount the program looked up by path (`get_auth_backend`: the mocks answer
        `mount_accessor(path)`) rather than created: Vault's own token mount, or another stack's mounts."""
        for path, mount in self.client.sys.list_auth_methods()["data"].items():
            if mount_accessor(path.rstrip("/")) == mock:
                self.applied.accessors.setdefault(path.rstrip("/"), mount["accessor"])
                self._mock_accessors[mock] = mount["accessor"]
                return str(mount["accessor"])
        return None

    # -- dynamic secrets and quotas -------------------------------------------------------------------

    def _db_connection(self, record: ResourceRecord) -> None:
        fields = _fields(record, {"backend", "name", "pluginName", "allowedRoles", "verifyConnection", "postgresql"},
                         drop={"postgresql"})
        backend, name = fields.pop("backend"), fields.pop("name")
        postgresql = record.inputs.get("postgresql") or {}
        unknown = set(postgresql) - {"connectionUrl", "username", "password"}
        if unknown:
            raise ApplyError(f"{record.name}: postgresql inputs {sorted(unknown)} are not handled")
        fields.update({_snake(k): v for k, v in postgresql.items()})
        self.client.write_data(f"{backend}/config/{name}", data=fields)

    def _db_role(self, record: ResourceRecord) -> None:
        fields = _fields(record, {"backend", "name", "dbName", "creationStatements", "revocationStatements",
                                  "defaultTtl", "maxTtl"})
        backend, name = fields.pop("backend"), fields.pop("name")
        self.client.write_data(f"{backend}/roles/{name}", data=fields)

    def _rate_limit(self, record: ResourceRecord) -> None:
        fields = _fields(record, {"name", "path", "role", "rate", "interval"})
        name = fields.pop("name")
        self.client.write_data(f"sys/quotas/rate-limit/{name}", data=fields)


def apply_records(client: hvac.Client, records: Iterable[ResourceRecord], skip: Iterable[str] = ()) -> Applied:
    """Apply the captured `vault:*` records to the server `client` talks to (root token)."""
    return VaultApplier(client).apply(records, skip)


def describe(applied: Applied) -> str:
    """Short JSON of what was applied, for assertion messages (no secrets: role ids are left out)."""
    return json.dumps({"accessors": applied.accessors, "entities": applied.entity_ids,
                       "skipped": [r.name for r in applied.skipped]}, sort_keys=True)
