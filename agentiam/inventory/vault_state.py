"""Vault side of the live inventory: raw reads with an operator token, over the thin hvac adapter the client and the
kill switch use (`agentiam.client.vault.VaultApi`: its errors name the path that failed).

Every call is a read (GET, LIST, or a POST lookup), so each is retried once on a connection error; each request has
the timeout given and stops at the scan's deadline. A server that cannot be reached, hangs past the timeout or is
sealed raises `Unreachable`, which ends the Vault part of the scan; a refusal (permission denied) fails only the part
that asked.
"""

from __future__ import annotations

import time
from typing import Any

from agentiam.client.errors import NotFound, PermissionDenied, VaultRequestError, VaultSealed, VaultUnavailable
from agentiam.client.vault import Backoff, VaultApi
from agentiam.inventory.live import DeadlineReached, Unreachable

READ_BACKOFF = Backoff(attempts=2, base=0.1, cap=0.5)
_GONE_MARKERS = ("invalid accessor", "failed to find accessor entry")


def _gone(exc: VaultRequestError) -> bool:
    """Whether a call failed because its object no longer exists (Vault: 400 "invalid accessor" and the like).

    An outage, a sealed Vault or a refused operator token is not "gone": swallowing those would report a live
    token as no token. OpenBao answers some lookups of a vanished object with a 500, named by its message.
    """
    if any(marker in exc.reason for marker in _GONE_MARKERS):
        return True
    return not isinstance(exc, (VaultUnavailable, VaultSealed, PermissionDenied))


class VaultReader:
    """Reads for `agentiam.inventory.live.Scan` (the token needs `inventory_policy`: docs/inventory.md)."""

    def __init__(self, address: str, token: str, *, ca_cert: str | None = None, timeout: float = 10.0,
                 deadline: float | None = None):
        # (connect, read): a connection takes milliseconds when the server is up; a read may legitimately take longer.
        self._api = VaultApi(address, ca_cert=ca_cert, timeout=(min(3.0, timeout), timeout), backoff=READ_BACKOFF)
        self._token = token
        self._deadline = deadline
        self.address = address

    def close(self) -> None:
        self._api.close()

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        try:
            return self._api.call(method, path, token=self._token, json=body, idempotent=True,
                                  deadline=self._deadline)
        except (VaultUnavailable, VaultSealed) as exc:
            if self._deadline is not None and time.monotonic() >= self._deadline:
                raise DeadlineReached(f"the scan's deadline passed during {method} {path}") from exc
            if isinstance(exc, VaultUnavailable) and _gone(exc):
                raise  # OpenBao answers some lookups of a vanished object with a 500: the caller decides
            raise Unreachable(str(exc)) from exc

    def read(self, path: str) -> dict[str, Any] | None:
        """GET <path>: the response's `data`, or None when Vault answers 404."""
        try:
            return dict(self._call("GET", path).get("data") or {})
        except NotFound:
            return None

    def keys(self, path: str) -> list[str]:
        """LIST <path>: its keys ([] when Vault answers 404, which is how it says "empty")."""
        try:
            return [str(k) for k in (self._call("LIST", path).get("data") or {}).get("keys") or []]
        except NotFound:
            return []

    def key_info(self, path: str) -> dict[str, dict[str, Any]]:
        """LIST <path>: its `key_info` (identity listings carry names and aliases there)."""
        try:
            data = self._call("LIST", path).get("data") or {}
        except NotFound:
            return {}
        info = data.get("key_info") or {}
        return {str(key): dict(info.get(key) or {}) for key in data.get("keys") or []}

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any] | None:
        """POST <path> of a lookup (token or secret-id accessor): its `data`, or None when the accessor expired or
        was used between the listing and the lookup."""
        try:
            return dict(self._call("POST", path, body).get("data") or {})
        except VaultRequestError as exc:
            if isinstance(exc, NotFound) or _gone(exc):
                return None
            raise
