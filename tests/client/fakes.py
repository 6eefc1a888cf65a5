"""A scripted stand-in for `VaultApi` and a manual clock, for the session's timing logic."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from agentiam.client.errors import LeaseExpired, LoginRefused, PermissionDenied, VaultRequestError
from agentiam.client.vault import Lease, Login


@dataclass
class Clock:
    now: float = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class FakeApi:
    """Issues working tokens `hvs.SECRET-TOKEN-1`, `-2`... through a token role of period `ttl` and explicit max
    `max_ttl`; renewals are capped like Vault's."""

    clock: Clock
    ttl: int = 30
    max_ttl: int = 100
    lease_ttl: int = 60
    lease_max: int = 150
    calls: list[str] = field(default_factory=list)
    tokens: dict[str, float] = field(default_factory=dict)  # token -> issued at
    revoked: set[str] = field(default_factory=set)
    leases: dict[str, float] = field(default_factory=dict)  # lease id -> issued at
    deny_renewal: bool = False
    issued: int = 0  # database users handed out
    down: VaultRequestError | None = None  # raised by every call while set (Vault sealed or unreachable)
    renew_delay: float = 0.0  # real seconds renew_self takes (widens race windows in thread tests)
    dead: set[str] = field(default_factory=set)  # tokens Vault no longer honours (an operator revoked them)
    disabled: bool = False  # the agent's entity is disabled: cert login refused with 403
    denied_paths: set[str] = field(default_factory=set)  # paths the agent's policy refuses

    def _token_call(self, token: str, path: str) -> None:
        if self.down:
            raise self.down
        if token in self.dead or self.disabled:
            raise PermissionDenied(path, "permission denied", status=403)

    def cert_login(self, mount: str, role: str, **_: Any) -> Login:
        if self.down:
            raise self.down
        self.calls.append("cert_login")
        if self.disabled:
            raise LoginRefused(f"auth/{mount}/login", "login refused: permission denied", status=403)
        return Login("hvs.SECRET-CERT-TOKEN", "cert-accessor", 120, False, ("login",), "entity-1")

    def auth_mount_exists(self, mount: str, **_: Any) -> bool:
        self.calls.append("probe")
        return True

    def wrapped_secret_id(self, token: str, mount: str, role: str, wrap_ttl: int, **_: Any) -> str:
        self.calls.append("wrapped_secret_id")
        return "hvs.SECRET-WRAPPING"

    def unwrap_secret_id(self, wrapping_token: str, **_: Any) -> str:
        self.calls.append("unwrap")
        return "SECRET-ID"

    def approle_login(self, mount: str, role_id: str, secret_id: str, **_: Any) -> Login:
        self.calls.append("approle_login")
        return Login("hvs.SECRET-MINT-TOKEN", "mint-accessor", 60, True, ("agent-mint",), "entity-1")

    def read_token_role(self, token: str, role: str, **_: Any) -> dict[str, Any]:
        self.calls.append("read_token_role")
        # A role token's own lookup shows no explicit max: the role has it (as Vault applies it at renewal).
        return {"token_period": self.ttl, "token_explicit_max_ttl": self.max_ttl, "explicit_max_ttl": 0}

    def create_role_token(self, token: str, role: str, entity_alias: str, **_: Any) -> Login:
        self.calls.append("create_token")
        token = f"hvs.SECRET-TOKEN-{sum(c == 'create_token' for c in self.calls)}"
        self.tokens[token] = self.clock()
        return Login(token, "acc-" + token.rsplit("-", 1)[-1], self.ttl, True, ("agent",), "entity-1")

    def lookup_self(self, token: str, **_: Any) -> dict[str, Any]:
        self._token_call(token, "auth/token/lookup-self")
        self.calls.append("lookup_self")
        return {"explicit_max_ttl": 0, "ttl": self.ttl}

    def renew_self(self, token: str, increment: int, **_: Any) -> Login:
        self._token_call(token, "auth/token/renew-self")
        time.sleep(self.renew_delay)
        self.calls.append(f"renew:{token}")
        if self.deny_renewal:
            raise PermissionDenied("auth/token/renew-self", "permission denied")
        left = self.tokens[token] + self.max_ttl - self.clock()
        return Login(token, "acc-" + token.rsplit("-", 1)[-1], int(min(increment, left)), True, ("agent", "default"),
                     "entity-1")

    def revoke_self(self, token: str, **_: Any) -> None:
        self.revoked.add(token)

    def read_lease(self, token: str, path: str, **_: Any) -> Lease:
        self._token_call(token, path)
        if path in self.denied_paths:
            raise PermissionDenied(path, "permission denied", status=403)
        self.calls.append(f"read:{path}")
        self.issued += 1
        lease_id = f"{path}/lease{self.issued}"
        self.leases[lease_id] = self.clock()
        return Lease(lease_id, self.lease_ttl, True,
                     {"username": f"v-user-{self.issued}", "password": "SECRET-PASSWORD"})

    def renew_lease(self, token: str, lease_id: str, increment: int, **_: Any) -> int:
        self._token_call(token, "sys/leases/renew")
        self.calls.append("renew_lease")
        if lease_id not in self.leases:
            raise LeaseExpired("sys/leases/renew", "lease not found")
        return int(min(increment, self.leases[lease_id] + self.lease_max - self.clock()))

    def close(self) -> None:
        self.calls.append("close")
