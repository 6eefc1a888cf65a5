"""The Vault side of `agentiam doctor`: read-only calls over the same thin hvac adapter the agent client uses.

Every call carries the run's deadline and short socket timeouts, and only idempotent reads are sent (retried once
on a connection error): a hung Vault costs the run one timeout, a down one a refused connection.
"""

from __future__ import annotations

from typing import Any

from agentiam.client.errors import NotFound
from agentiam.client.vault import Backoff, VaultApi

# (connect, read) seconds per request: Vault answers reads in milliseconds.
DOCTOR_TIMEOUT = (3.0, 10.0)
DOCTOR_BACKOFF = Backoff(attempts=2, base=0.1, cap=0.5)


class DoctorVault:
    """`agentiam.deploy.doctor.VaultReader` over HTTP, with the deployer's token."""

    def __init__(self, address: str, token: str, *, ca_cert: str | None, deadline: float,
                 timeout: tuple[float, float] = DOCTOR_TIMEOUT):
        self.address = address
        self._api = VaultApi(address, ca_cert=ca_cert, timeout=timeout, backoff=DOCTOR_BACKOFF)
        self._token = token
        self._deadline = deadline
        self._health: dict[str, Any] | None = None

    def close(self) -> None:
        self._api.close()

    def _get(self, path: str, token: str | None) -> dict[str, Any]:
        return self._api.call("GET", path, token=token, idempotent=True, deadline=self._deadline)

    def health(self) -> dict[str, Any]:
        """GET sys/health, unauthenticated; answered 200 whatever the state, which the body tells (standby,
        sealed, not initialized), so that a sealed server is told apart from a dead one."""
        if self._health is None:
            body = self._get("sys/health?standbyok=true&perfstandbyok=true&sealedcode=200&uninitcode=200", None)
            if body.get("sealed"):
                from agentiam.client.errors import VaultSealed

                raise VaultSealed("sys/health", f"Vault at {self.address} is sealed")
            self._health = body
        return self._health

    def lookup_self(self) -> dict[str, Any]:
        """GET auth/token/lookup-self."""
        return dict(self._get("auth/token/lookup-self", self._token).get("data") or {})

    def capabilities(self, paths: list[str]) -> dict[str, list[str]]:
        """POST sys/capabilities-self {paths}: the token's capabilities on each path (a read: nothing changes)."""
        body = self._api.call("POST", "sys/capabilities-self", token=self._token, json={"paths": paths},
                              idempotent=True, deadline=self._deadline)
        data = body.get("data") or body
        return {path: list(data.get(path) or []) for path in paths}

    def read(self, path: str) -> dict[str, Any] | None:
        """GET <path>: its `data`, None when Vault has nothing there (404)."""
        try:
            body = self._get(path, self._token)
        except NotFound:
            return None
        data = body.get("data")
        return dict(data) if isinstance(data, dict) else dict(body)
