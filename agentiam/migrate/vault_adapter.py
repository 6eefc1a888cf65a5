"""Vault side of `agentiam migrate`: the new identity's creation, legacy tokens and AppRole roles, with an operator
token, over the thin hvac adapter the client and the kill switch use (`agentiam.client.vault.VaultApi`: errors name
the path that failed).

Every call is idempotent (reads, lookups, revocations, a delete), so each is retried once on a connection error,
with socket timeouts of seconds, and none runs past the run's deadline. An accessor Vault no longer knows is an
answer ("gone"), told apart from an outage, a sealed Vault or a refused operator token, which are errors.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from agentiam.audit.model import parse_time
from agentiam.client.errors import (
    NotFound,
    PermissionDenied,
    VaultRequestError,
    VaultSealed,
    VaultUnavailable,
)
from agentiam.client.vault import Backoff, VaultApi

BACKOFF = Backoff(attempts=2, base=0.1, cap=0.5)
_GONE = ("invalid accessor", "failed to find accessor entry")


def _gone(exc: VaultRequestError) -> bool:
    """A lookup of an accessor Vault does not know (400, or OpenBao's 500 "failed to find accessor entry")."""
    if isinstance(exc, NotFound):
        return True
    if isinstance(exc, (VaultSealed, PermissionDenied)) or (isinstance(exc, VaultUnavailable)
                                                            and not any(m in exc.reason for m in _GONE)):
        return False
    return any(marker in exc.reason for marker in _GONE)


class VaultLegacy:
    """Calls with an operator token (the policy: docs/migrate.md)."""

    def __init__(self, address: str, token: str, *, ca_cert: str | None = None, timeout: float = 10.0,
                 deadline: float | None = None):
        self.address = address
        self._api = VaultApi(address, ca_cert=ca_cert, timeout=(min(3.0, timeout), timeout), backoff=BACKOFF)
        self._token = token
        self._deadline = deadline

    def close(self) -> None:
        self._api.close()

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        return self._api.call(method, path, token=self._token, json=body, idempotent=True, deadline=self._deadline)

    def entity_created(self, name: str) -> dt.datetime | None:
        """GET identity/entity/name/<name>: the entity's creation time (None: this Vault has no such entity)."""
        try:
            data = self._call("GET", f"identity/entity/name/{name}").get("data") or {}
        except NotFound:
            return None
        if not data:  # Vault answers 204 for an entity name it does not know
            return None
        seconds = parse_time(data.get("creation_time"))
        if seconds is None:
            raise VaultRequestError(f"identity/entity/name/{name}", "the entity has no readable creation_time")
        return dt.datetime.fromtimestamp(seconds, dt.timezone.utc)

    def token(self, accessor: str) -> dict[str, Any] | None:
        """POST auth/token/lookup-accessor: the token's properties (None: no token has this accessor)."""
        try:
            return dict(self._call("POST", "auth/token/lookup-accessor", {"accessor": accessor}).get("data") or {})
        except VaultRequestError as exc:
            if _gone(exc):
                return None
            raise

    def revoke_token(self, accessor: str) -> None:
        """POST auth/token/revoke-accessor (and the token's children and leases with it)."""
        try:
            self._call("POST", "auth/token/revoke-accessor", {"accessor": accessor})
        except VaultRequestError as exc:
            if not _gone(exc):  # revoked meanwhile: the read-back decides
                raise

    def auth_type(self, mount: str) -> str | None:
        """GET sys/auth: the type of the auth method at `mount` (None: nothing mounted there)."""
        data = self._call("GET", "sys/auth")
        mounts = data.get("data") or data
        found = mounts.get(f"{mount.strip('/')}/")
        return str(found.get("type")) if isinstance(found, dict) else None

    def role(self, mount: str, role: str) -> dict[str, Any] | None:
        """GET auth/<mount>/role/<role>: its settings (no secret: the role id is read elsewhere); None: no role."""
        try:
            return dict(self._call("GET", f"auth/{mount}/role/{role}").get("data") or {})
        except NotFound:
            return None

    def role_tokens(self, mount: str, role: str) -> list[str]:
        """LIST auth/token/accessors, then POST auth/token/lookup-accessor of each: the accessors of the live tokens
        a login to this role issued (`path` auth/<mount>/login, `meta.role_name` the role). One lookup per token
        in Vault: AppRole logins of every role of a mount share one lease path, so none narrower exists."""
        try:
            accessors = (self._call("LIST", "auth/token/accessors").get("data") or {}).get("keys") or []
        except NotFound:
            return []
        login = f"auth/{mount.strip('/')}/login"
        found = []
        for accessor in accessors:
            token = self.token(str(accessor))
            if token and token.get("path") == login and (token.get("meta") or {}).get("role_name") == role:
                found.append(str(accessor))
        return sorted(found)

    def delete_role(self, mount: str, role: str) -> None:
        """DELETE auth/<mount>/role/<role> (its secret ids go with it)."""
        self._call("DELETE", f"auth/{mount}/role/{role}")

    def audit_hash(self, device: str, value: str) -> str:
        """PUT sys/audit-hash/<device>: the HMAC the audit log shows for `value`."""
        answer = self._call("PUT", f"sys/audit-hash/{device}", {"input": value})
        hashed = (answer.get("data") or {}).get("hash") or answer.get("hash")
        if not isinstance(hashed, str) or not hashed:
            raise VaultRequestError(f"sys/audit-hash/{device}", "Vault answered without a hash")
        return hashed
