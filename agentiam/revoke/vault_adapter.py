"""Vault side of the kill switch, over the same thin hvac adapter the agent client uses (errors carry the path).

Every call is idempotent (reads, lists, disable, destroy, revoke), so each is retried once on a connection
error; more would only delay the report in an emergency, and a second `agentiam revoke` run is harmless.
"""

from __future__ import annotations

from typing import Any

from agentiam.client.errors import NotFound, PermissionDenied, VaultRequestError, VaultSealed, VaultUnavailable
from agentiam.client.vault import Backoff, VaultApi
from agentiam.revoke import Outcome, StepResult

ADMIN_BACKOFF = Backoff(attempts=2, base=0.1, cap=0.5)


class VaultRevoker:
    """Revocation calls with an operator token (needs sudo on sys/leases/revoke-prefix and auth/token/accessors)."""

    def __init__(self, address: str, token: str, *, ca_cert: str | None = None, timeout: float = 5.0):
        self._api = VaultApi(address, ca_cert=ca_cert, timeout=timeout, backoff=ADMIN_BACKOFF)
        self._token = token

    def close(self) -> None:
        self._api.close()

    def _call(self, method: str, path: str, json: dict[str, Any] | None = None) -> dict[str, Any]:
        return self._api.call(method, path, token=self._token, json=json, idempotent=True)

    def _list(self, path: str) -> list[str]:
        """LIST `path`: its keys; Vault answers 404 for an empty list."""
        try:
            return [str(k) for k in (self._call("LIST", path).get("data") or {}).get("keys") or []]
        except NotFound:
            return []

    def _entity(self, name: str) -> dict[str, Any]:
        """GET identity/entity/name/<name>."""
        path = f"identity/entity/name/{name}"
        try:
            return dict(self._call("GET", path).get("data") or {})
        except NotFound as exc:
            raise VaultRequestError(path, "no such identity entity: was the stack applied to this Vault?") from exc

    def disable_entity(self, name: str) -> StepResult:
        """POST identity/entity/name/<name> {disabled: true}: every token of the entity stops working at once."""
        entity = self._entity(name)
        if entity.get("disabled"):
            return StepResult(Outcome.ALREADY, f"entity {entity.get('id')} is disabled")
        self._call("POST", f"identity/entity/name/{name}", {"disabled": True})
        if not self._entity(name).get("disabled"):
            raise VaultRequestError(f"identity/entity/name/{name}", "Vault accepted the update but the entity is "
                                                                    "still enabled")
        return StepResult(Outcome.REVOKED, f"entity {entity.get('id')} disabled")

    def destroy_secret_ids(self, mount: str, role: str) -> StepResult:
        """LIST auth/<mount>/role/<role>/secret-id, then POST .../secret-id-accessor/destroy for each accessor."""
        base = f"auth/{mount}/role/{role}"
        accessors = self._list(f"{base}/secret-id")
        if not accessors:
            return StepResult(Outcome.ALREADY, "no secret id outstanding")
        for accessor in accessors:
            self._call("POST", f"{base}/secret-id-accessor/destroy", {"secret_id_accessor": accessor})
        left = self._list(f"{base}/secret-id")
        if left:
            raise VaultRequestError(f"{base}/secret-id", f"{len(left)} secret id(s) still listed after destroy")
        return StepResult(Outcome.REVOKED, f"{len(accessors)} secret id(s) destroyed")

    def revoke_leases(self, prefix: str) -> StepResult:
        """LIST sys/leases/lookup/<prefix>, then PUT sys/leases/revoke-prefix/<prefix> (synchronous)."""
        leases = self._list(f"sys/leases/lookup/{prefix}")
        if not leases:
            return StepResult(Outcome.ALREADY, "no lease outstanding")
        self._call("PUT", f"sys/leases/revoke-prefix/{prefix}")
        left = self._list(f"sys/leases/lookup/{prefix}")
        if left:
            raise VaultRequestError(f"sys/leases/revoke-prefix/{prefix}", f"{len(left)} lease(s) still listed")
        return StepResult(Outcome.REVOKED, f"{len(leases)} lease(s) revoked (database users dropped)")

    def revoke_entity_tokens(self, entity_name: str) -> StepResult:
        """Revoke every token whose entity is the agent's: LIST auth/token/accessors, lookup-accessor, revoke-accessor.

        Not revoke-prefix of `auth/<approle>/login`: that would revoke the tokens of every agent of the mount.
        """
        entity_id = self._entity(entity_name).get("id")
        revoked = 0
        for accessor in self._list("auth/token/accessors"):
            try:
                info = self._call("POST", "auth/token/lookup-accessor", {"accessor": accessor}).get("data") or {}
            except VaultRequestError as exc:
                if not _token_gone(exc):
                    raise
                continue  # expired or revoked between the list and the lookup: nothing left to revoke
            if info.get("entity_id") == entity_id:
                try:
                    self._call("POST", "auth/token/revoke-accessor", {"accessor": accessor})
                except VaultRequestError as exc:
                    if not _token_gone(exc):
                        raise
                    continue  # expired between the lookup and the revocation: already cut off
                revoked += 1
        if not revoked:
            return StepResult(Outcome.ALREADY, "no live token")
        return StepResult(Outcome.REVOKED, f"{revoked} token(s) revoked")


def _token_gone(exc: VaultRequestError) -> bool:
    """Whether an accessor call failed because the token no longer exists (Vault: 400 "invalid accessor").

    An outage, a sealed Vault or a refused operator token is not "gone": swallowing those would report a live
    token as "no live token".
    """
    return not isinstance(exc, (VaultUnavailable, VaultSealed, PermissionDenied))
