"""Vault side of the kill switch, over the same thin hvac adapter the agent client uses (errors carry the path).

Every step first makes sure this Vault knows what it is about to revoke (entity, AppRole role, database mount):
a 404 on a list means "empty" only on a path that exists, so an unknown agent is reported NOT FOUND, never
"already revoked". Every step ends by reading the end state back: what another run revoked meanwhile counts as
done, and a step is never claimed because a request merely returned.

Every call is idempotent (reads, lists, disable, destroy, revoke), so each is retried, at most twice, on a
connection error or a storage transaction conflict (two runs revoking the same agent at once:
docs/facts.md#vault-transaction-conflicts); the backoff adds at most 0.3 s, and the orchestrator's deadline bounds
the rest.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from agentiam.client.errors import NotFound, PermissionDenied, VaultRequestError, VaultSealed, VaultUnavailable
from agentiam.client.vault import Backoff, VaultApi
from agentiam.plan import names
from agentiam.revoke import Outcome, Remaining, StepResult

ADMIN_BACKOFF = Backoff(attempts=3, base=0.1, cap=0.5)  # delays of at most 0.1 s, then 0.2 s
# (connect, read) seconds per request: a hung Vault must cost seconds, not the minutes of a default socket.
ADMIN_TIMEOUT = (3.0, 10.0)
# OpenBao's database engine gives a user's password 5 s beyond its lease (path_creds_create.go, secret_creds.go).
PASSWORD_BUFFER = dt.timedelta(seconds=5)
SYSTEM_MAX_LEASE_TTL = 768 * 3600  # Vault's default ceiling when neither the role nor the mount sets one
DESTROY_ROUNDS = 3  # list-and-destroy rounds before secret ids still listed count as a failure


class VaultRevoker:
    """Revocation calls with an operator token (needs sudo on sys/leases/revoke-prefix)."""

    def __init__(self, address: str, token: str, *, ca_cert: str | None = None,
                 timeout: float | tuple[float, float] = ADMIN_TIMEOUT):
        self.address = address
        self._api = VaultApi(address, ca_cert=ca_cert, timeout=timeout, backoff=ADMIN_BACKOFF)
        self._token = token

    def close(self) -> None:
        self._api.close()

    def _call(self, method: str, path: str, json: dict[str, Any] | None = None) -> dict[str, Any]:
        return self._api.call(method, path, token=self._token, json=json, idempotent=True)

    def _list(self, path: str) -> list[str]:
        """LIST `path`: its keys. Vault answers 404 for an empty list, so call this only on a path known to exist."""
        try:
            return [str(k) for k in (self._call("LIST", path).get("data") or {}).get("keys") or []]
        except NotFound as exc:
            if "no handler for route" in str(exc):  # the mount itself is missing: not "empty"
                raise
            return []

    def _entity(self, name: str) -> dict[str, Any] | None:
        """GET identity/entity/name/<name>; None if this Vault has no such entity."""
        try:
            return dict(self._call("GET", f"identity/entity/name/{name}").get("data") or {})
        except NotFound:
            return None

    def _unknown_entity(self, name: str) -> StepResult:
        return StepResult(Outcome.NOT_FOUND, f"this Vault ({self.address}) has no identity entity {name}: wrong "
                                             "VAULT_ADDR, or the stack was never applied here")

    def disable_entity(self, name: str) -> StepResult:
        """POST identity/entity/name/<name> {disabled: true}: every token of the entity stops working at once."""
        entity = self._entity(name)
        if entity is None:
            return self._unknown_entity(name)
        if entity.get("disabled"):
            return StepResult(Outcome.ALREADY, f"entity {entity.get('id')} is disabled")
        self._call("POST", f"identity/entity/name/{name}", {"disabled": True})
        after = self._entity(name)
        if not after or not after.get("disabled"):
            raise VaultRequestError(f"identity/entity/name/{name}", "Vault accepted the update but the entity is "
                                                                    "still enabled")
        return StepResult(Outcome.REVOKED, f"entity {entity.get('id')} disabled")

    def destroy_secret_ids(self, mount: str, role: str) -> StepResult:
        """GET .../role-id (the role exists), LIST .../secret-id, POST .../secret-id-accessor/destroy for each."""
        base = f"auth/{mount}/role/{role}"
        try:
            self._call("GET", f"{base}/role-id")
        except NotFound:
            return StepResult(Outcome.NOT_FOUND, f"this Vault ({self.address}) has no AppRole role {role} on mount "
                                                 f"{mount}: wrong VAULT_ADDR, or the stack was never applied here")
        destroyed = 0
        errors: list[VaultRequestError] = []
        left = self._list(f"{base}/secret-id")
        # A few rounds: a concurrent run may be destroying the last one when this run lists again.
        for _round in range(DESTROY_ROUNDS):
            if not left:
                break
            for accessor in left:
                try:
                    self._call("POST", f"{base}/secret-id-accessor/destroy", {"secret_id_accessor": accessor})
                    destroyed += 1
                except VaultRequestError as exc:
                    # Used, expired or destroyed by a concurrent run since the list (OpenBao answers that with a
                    # 500, "failed to find accessor entry"), or a real failure: the next list decides which.
                    errors.append(exc)
            left = self._list(f"{base}/secret-id")
        if left:
            cause = f": {errors[-1].reason}" if errors else ""
            raise VaultRequestError(f"{base}/secret-id", f"{len(left)} secret id(s) still listed after destroy{cause}")
        if not destroyed:
            return StepResult(Outcome.ALREADY, "no secret id outstanding")
        return StepResult(Outcome.REVOKED, f"{destroyed} secret id(s) destroyed")

    def revoke_leases(self, mount: str, role: str) -> StepResult:
        """GET sys/mounts/<mount>, LIST sys/leases/lookup/<mount>/creds/<role>/, PUT sys/leases/revoke per lease.

        One lease at a time (synchronous: Vault runs the role's revocation statements before answering), so a
        database that is down leaves exactly the leases it could not drop, each looked up for what remains.
        """
        try:
            self._call("GET", f"sys/mounts/{mount}")
        except VaultRequestError as exc:  # 400 "No secret engine mount at <mount>/"
            if isinstance(exc, (VaultUnavailable, VaultSealed, PermissionDenied)):
                raise
            return StepResult(Outcome.NOT_FOUND, f"this Vault ({self.address}) has no secrets mount {mount}: wrong "
                                                 "VAULT_ADDR, or the stack was never applied here")
        prefix = f"{mount}/creds/{role}/"
        leases = self._list(f"sys/leases/lookup/{prefix}")
        errors: list[str] = []
        for lease in leases:
            try:
                self._call("PUT", "sys/leases/revoke", {"lease_id": prefix + lease})
            except VaultRequestError as exc:
                if isinstance(exc, (VaultUnavailable, VaultSealed, PermissionDenied)):
                    raise
                errors.append(exc.reason)
        left = self._list(f"sys/leases/lookup/{prefix}")
        if left:
            remaining = tuple(self._remaining(mount, prefix + lease, role) for lease in left)
            cause = errors[0] if errors else "still listed after revocation"
            return StepResult(Outcome.FAILED, f"{len(left)} of {len(leases)} lease(s) not revoked, their database "
                                              f"user(s) still exist: {cause}", remaining)
        revoked = len(leases)
        if not revoked:
            return StepResult(Outcome.ALREADY, "no lease outstanding")
        return StepResult(Outcome.REVOKED, f"{revoked} lease(s) revoked (database users dropped)")

    def _remaining(self, mount: str, lease_id: str, role: str) -> Remaining:
        """PUT sys/leases/lookup {lease_id}: when the user was created and until when its password works.

        OpenBao's database engine sets the user's VALID UNTIL to the lease's expiry plus a 5 s buffer, at creation
        (expiry = the role's default_ttl) and at each renewal (never past the role's max_ttl). Once the token that
        created the lease is revoked, Vault moves the lease's expiry to that moment to retry the revocation, so a
        past expiry says nothing about the password: then a never-renewed lease's password runs to issue time +
        default_ttl, a renewed one's at most to issue time + max_ttl (GET <mount>/roles/<role>, else the mount's).
        """
        try:
            info = self._call("PUT", "sys/leases/lookup", {"lease_id": lease_id}).get("data") or {}
        except VaultRequestError:
            info = {}
        issued, expires = _time(info.get("issue_time")), _time(info.get("expire_time"))
        bound = False
        until: dt.datetime | None = None
        if expires is not None and expires > dt.datetime.now(dt.timezone.utc):
            until = expires + PASSWORD_BUFFER
        elif issued is not None:
            default_ttl, max_ttl = self._ttls(mount, role)
            if info.get("last_renewal") is None and default_ttl:
                until = issued + dt.timedelta(seconds=min(default_ttl, max_ttl)) + PASSWORD_BUFFER
            else:
                until, bound = issued + dt.timedelta(seconds=max_ttl) + PASSWORD_BUFFER, True
        return Remaining(kind="database user", lease_id=lease_id, role=role, issued=_stamp(issued),
                         expires=_stamp(until), expires_is_bound=bound)

    def _ttls(self, mount: str, role: str) -> tuple[int, int]:
        """(default_ttl, max_ttl) of the role on this Vault; a deleted role's leases live on: the mount's then."""
        try:
            data = self._call("GET", f"{mount}/roles/{role}").get("data") or {}
            if int(data.get("max_ttl") or 0):
                return int(data.get("default_ttl") or 0), int(data["max_ttl"])
        except VaultRequestError:
            pass
        try:
            data = self._call("GET", f"sys/mounts/{mount}/tune").get("data") or {}
            return 0, int(data.get("max_lease_ttl") or 0) or SYSTEM_MAX_LEASE_TTL
        except VaultRequestError:
            return 0, SYSTEM_MAX_LEASE_TTL

    def revoke_role_tokens(self, role: str) -> StepResult:
        """GET auth/token/roles/<role>, LIST sys/leases/lookup/auth/token/create/<role>/, PUT
        sys/leases/revoke-prefix/auth/token/create/<role>/, LIST again.

        Every working token of the agent was created through its token role, so Vault filed it under the role's
        lease prefix: one revoke-prefix ends them all through Vault's lease index, in time proportional to the
        agent's own tokens, whatever else Vault holds (docs/revoke.md). The prefix ends with a slash, so
        `agent-dev-x` never reaches `agent-dev-x-two`. Sent even when the list is empty: it costs one request, and
        a token created between the list and the revocation would otherwise survive it.
        """
        try:
            self._call("GET", f"auth/token/roles/{role}")
        except NotFound:
            return StepResult(Outcome.NOT_FOUND, f"this Vault ({self.address}) has no token role {role}: wrong "
                                                 "VAULT_ADDR, the stack was never applied here, or it was applied "
                                                 "by an agentiam without token roles (docs/revoke.md)")
        prefix = names.token_lease_prefix(role)
        before = self._list(f"sys/leases/lookup/{prefix}")
        self._call("PUT", f"sys/leases/revoke-prefix/{prefix}")
        left = self._list(f"sys/leases/lookup/{prefix}")
        if left:
            raise VaultRequestError(f"sys/leases/revoke-prefix/{prefix}", f"{len(left)} token(s) still listed "
                                                                         "after the revocation")
        if not before:
            return StepResult(Outcome.ALREADY, "no live token")
        return StepResult(Outcome.REVOKED, f"{len(before)} token(s) revoked")


def _time(stamp: Any) -> dt.datetime | None:
    """Vault's `2026-12-03T07:43:20.062035076Z` (nanoseconds) as an aware datetime, to the second."""
    if not stamp:
        return None
    try:
        return dt.datetime.fromisoformat(str(stamp).split(".")[0].rstrip("Z") + "+00:00")
    except ValueError:
        return None


def _stamp(moment: dt.datetime | None) -> str | None:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment is not None else None
