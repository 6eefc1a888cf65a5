"""Thin adapter over hvac for the agent-side client: one method per Vault endpoint, hvac errors mapped to ours.

Tokens travel in the `X-Vault-Token` header of each call (the hvac client itself holds none), so one
adapter serves the certificate token, the wrapping token, the mint token and the working token without shared
state, from any number of threads. Only idempotent calls are retried (connection errors and OpenBao's storage
transaction conflicts, exponential backoff with full jitter): a secret id is single-use, so minting, unwrapping,
the AppRole login and the token creation are never re-sent blindly.

Every request has a socket timeout, and every call may carry a `deadline` (a `time.monotonic()` instant): no
attempt and no backoff sleep runs past it, so a hung Vault costs the caller its deadline, never more.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import hvac
import hvac.exceptions
import requests

from agentiam.client.errors import (
    LeaseExpired,
    LoginRefused,
    NotFound,
    PermissionDenied,
    RateLimited,
    VaultRequestError,
    VaultSealed,
    VaultTimeout,
    VaultUnavailable,
    one_line,
)
from agentiam.errors import ConfigError

log = logging.getLogger(__name__)

# (connect, read) seconds per request. Vault answers in milliseconds; a read that takes 10 s is a hung server.
DEFAULT_TIMEOUT = (3.0, 10.0)
# A certificate login naming this role cannot succeed; what Vault answers tells whether the mount exists.
_PROBE_ROLE = "agentiam-probe-no-such-role"


@dataclass(frozen=True)
class Backoff:
    """Retry schedule for idempotent calls: `attempts` tries, full-jitter exponential delays capped at `cap`."""

    attempts: int = 4
    base: float = 0.2
    cap: float = 5.0

    def delays(self, rng: random.Random) -> Iterator[float]:
        """Delays before the 2nd, 3rd, ... attempt (AWS' "full jitter": uniform in [0, min(cap, base*2^n)])."""
        for attempt in range(self.attempts - 1):
            yield rng.uniform(0, min(self.cap, self.base * 2 ** attempt))


@dataclass(frozen=True)
class Login:
    """What a login returned. The token itself is never shown by repr; log the accessor instead."""

    token: str = field(repr=False)
    accessor: str
    ttl: int  # seconds
    renewable: bool
    policies: tuple[str, ...]
    entity_id: str


@dataclass(frozen=True)
class Lease:
    """A secret with a lease (dynamic credentials): `data` holds the credential values, hidden from repr."""

    lease_id: str = field(repr=False)
    ttl: int
    renewable: bool
    data: dict[str, Any] = field(repr=False)


class VaultApi:
    """The Vault endpoints the agent client calls, over TLS with the agent's client certificate."""

    def __init__(self, address: str, *, ca_cert: str | None = None, client_cert: tuple[str, str] | None = None,
                 timeout: float | tuple[float, float] = DEFAULT_TIMEOUT, backoff: Backoff = Backoff(),
                 sleep: Callable[[float], None] = time.sleep, rng: random.Random | None = None):
        try:
            parts = urlsplit(address)
            valid = parts.scheme in ("http", "https") and bool(parts.hostname) and parts.port != 0
        except ValueError:  # "Invalid IPv6 URL", a port that is not a number
            valid = False
        if not valid:
            # requests would raise its own InvalidSchema/InvalidURL on the first call, far from the cause.
            raise ConfigError(f"Vault address {address!r} is not an http(s):// URL (e.g. https://vault.internal:8200)")
        self.address = address
        verify: str | bool = ca_cert if ca_cert else True
        self._connect_timeout, self._read_timeout = timeout if isinstance(timeout, tuple) else (timeout, timeout)
        # types-hvac says `timeout: int`; hvac hands it to requests, which takes seconds as a float or a
        # (connect, read) tuple.
        self._client = hvac.Client(url=address, verify=verify, cert=client_cert,
                                   timeout=timeout)  # type: ignore[arg-type]
        # hvac would fall back to VAULT_TOKEN / ~/.vault-token; this adapter passes every token explicitly.
        self._client.token = None  # type: ignore[assignment]  # types-hvac says str; None is hvac's "no token"
        self._backoff = backoff
        self._sleep = sleep
        self._rng = rng or random.Random()

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._client.adapter.close()

    # -- logins ---------------------------------------------------------------------------------------

    def cert_login(self, mount: str, role: str, *, deadline: float | None = None) -> Login:
        """POST auth/<mount>/login {name}: TLS client-certificate login (the certificate is the credential).

        Retried on connection errors: it consumes nothing single-use (a lost answer leaves at most an
        unused certificate token that expires within minutes).
        """
        path = f"auth/{mount}/login"
        return _login(self.call("POST", path, json={"name": role}, idempotent=True, login=True, deadline=deadline),
                      path)

    def auth_mount_exists(self, mount: str, *, deadline: float | None = None) -> bool:
        """POST auth/<mount>/login naming a role that cannot exist: 400 if the mount is there, 403 if not.

        Vault answers 403 both for a disabled entity and for a login path it cannot route (it never tells an
        unauthenticated caller which paths exist); this probe tells the two apart. Not retried.
        """
        try:
            self.call("POST", f"auth/{mount}/login", json={"name": _PROBE_ROLE}, idempotent=False, login=True,
                      deadline=deadline)
        except LoginRefused as exc:
            return exc.status != 403
        return True  # a login succeeded for a role that cannot exist: whatever this is, it has the mount

    def wrapped_secret_id(self, token: str, mount: str, role: str, wrap_ttl: int, *,
                          deadline: float | None = None) -> str:
        """POST auth/<mount>/role/<role>/secret-id with X-Vault-Wrap-TTL: a response-wrapping token. Not retried."""
        path = f"auth/{mount}/role/{role}/secret-id"
        body = self.call("POST", path, token=token, wrap_ttl=f"{wrap_ttl}s", idempotent=False, deadline=deadline)
        wrap = body.get("wrap_info") or {}
        if not wrap.get("token"):
            raise VaultRequestError(path, "Vault answered without a wrapped response (wrapping refused?)")
        return str(wrap["token"])

    def unwrap_secret_id(self, wrapping_token: str, *, deadline: float | None = None) -> str:
        """POST sys/wrapping/unwrap with the wrapping token: the secret id. Single use: not retried.

        Sent with the wrapping token itself, whose own `response-wrapping` policy allows exactly this path, so the
        agent's tokens (which carry no `default` policy) need no `sys/wrapping/*` rule.
        """
        path = "sys/wrapping/unwrap"
        body = self.call("POST", path, token=wrapping_token, idempotent=False, login=True, deadline=deadline)
        secret_id = (body.get("data") or {}).get("secret_id")
        if not secret_id:
            raise VaultRequestError(path, "the wrapped response holds no secret id")
        return str(secret_id)

    def approle_login(self, mount: str, role_id: str, secret_id: str, *, deadline: float | None = None) -> Login:
        """POST auth/<mount>/login {role_id, secret_id}: the mint token. Not retried (single-use secret id)."""
        path = f"auth/{mount}/login"
        body = self.call("POST", path, json={"role_id": role_id, "secret_id": secret_id}, idempotent=False,
                         login=True, deadline=deadline)
        return _login(body, path)

    def read_token_role(self, token: str, role: str, *, deadline: float | None = None) -> dict[str, Any]:
        """GET auth/token/roles/<role>: the role's token_period and token_explicit_max_ttl (seconds), among others.

        A token created through a role does not show the role's explicit max in its own lookup, and Vault applies
        the role's current one at every renewal (docs/facts.md#vault-token-roles): the role is where it is read.
        """
        return dict(self.call("GET", f"auth/token/roles/{role}", token=token, idempotent=True,
                              deadline=deadline).get("data") or {})

    def create_role_token(self, token: str, role: str, entity_alias: str, *, deadline: float | None = None) -> Login:
        """POST auth/token/create/<role> {entity_alias, display_name}: the working token, an orphan of the agent's
        entity, shown as `token-<entity_alias>` in audit lines (the plan's mint policy pins both values).

        Not retried: a lost answer would leave a token nobody holds (it dies with its TTL, and `agentiam revoke`
        finds it under the role's lease prefix), and a second one would be a second working token.
        """
        path = f"auth/token/create/{role}"
        body = self.call("POST", path, token=token, json={"entity_alias": entity_alias, "display_name": entity_alias},
                         idempotent=False, deadline=deadline)
        return _login(body, path)

    # -- tokens ---------------------------------------------------------------------------------------

    def lookup_self(self, token: str, *, deadline: float | None = None) -> dict[str, Any]:
        """GET auth/token/lookup-self: the token's own properties (ttl, explicit_max_ttl, entity_id...)."""
        return dict(self.call("GET", "auth/token/lookup-self", token=token, idempotent=True,
                              deadline=deadline).get("data") or {})

    def renew_self(self, token: str, increment: int, *, deadline: float | None = None) -> Login:
        """POST auth/token/renew-self {increment}: the new TTL (Vault caps it at the token's max TTL)."""
        path = "auth/token/renew-self"
        body = self.call("POST", path, token=token, json={"increment": f"{increment}s"}, idempotent=True,
                         deadline=deadline)
        return _login(body, path)

    def revoke_self(self, token: str, *, deadline: float | None = None) -> None:
        """POST auth/token/revoke-self: the token and every lease it created die now."""
        self.call("POST", "auth/token/revoke-self", token=token, idempotent=True, deadline=deadline)

    # -- secrets --------------------------------------------------------------------------------------

    def read_lease(self, token: str, path: str, *, deadline: float | None = None) -> Lease:
        """GET <path> of a dynamic secret (database creds, AWS STS creds): data plus lease."""
        body = self.call("GET", path, token=token, idempotent=True, deadline=deadline)
        return Lease(lease_id=str(body.get("lease_id") or ""), ttl=int(body.get("lease_duration") or 0),
                     renewable=bool(body.get("renewable")), data=dict(body.get("data") or {}))

    def renew_lease(self, token: str, lease_id: str, increment: int, *, deadline: float | None = None) -> int:
        """PUT sys/leases/renew {lease_id, increment}: the lease's new TTL (capped at the role's max_ttl)."""
        body = self.call("PUT", "sys/leases/renew", token=token, json={"lease_id": lease_id, "increment": increment},
                         idempotent=True, lease=True, deadline=deadline)
        return int(body.get("lease_duration") or 0)

    # -- plumbing -------------------------------------------------------------------------------------

    def call(self, method: str, path: str, *, token: str | None = None, json: dict[str, Any] | None = None,
             wrap_ttl: str | None = None, idempotent: bool, login: bool = False, lease: bool = False,
             deadline: float | None = None) -> dict[str, Any]:
        """One Vault request: the answer's JSON, or the project's error naming `path`.

        `deadline` (a `time.monotonic()` instant) bounds every attempt's socket timeout and every backoff sleep.
        """
        headers = {"X-Vault-Token": token} if token else {}
        kwargs: dict[str, Any] = {"headers": headers}
        if json is not None:
            kwargs["json"] = json
        if wrap_ttl is not None:
            kwargs["wrap_ttl"] = wrap_ttl
        delays = self._backoff.delays(self._rng) if idempotent else iter(())
        while True:
            kwargs["timeout"] = self._timeouts(path, deadline)
            try:
                response = self._client.adapter.request(method, f"/v1/{path}", **kwargs)
            except requests.exceptions.SSLError as exc:
                # A TLS failure is configuration (CA, certificate), not a blip: retrying cannot help.
                raise VaultUnavailable(path, f"TLS handshake with {self.address} failed: {_reason(exc)}") from exc
            except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as exc:
                delay = _next_delay(delays, deadline)
                if delay is None:
                    raise _unreachable(self.address, path, exc, kwargs["timeout"]) from exc
                log.debug("retrying %s %s in %.2fs after %s", method, path, delay, type(exc).__name__)
                self._sleep(delay)
                continue
            except hvac.exceptions.VaultError as exc:
                # A storage transaction conflict stored nothing (the transaction was refused whole): resent, like a
                # dropped connection; any other answer is final.
                delay = _next_delay(delays, deadline) if _storage_conflict(exc) else None
                if delay is None:
                    raise _mapped(exc, path, login=login, lease=lease) from exc
                log.debug("retrying %s %s in %.2fs after a storage transaction conflict", method, path, delay)
                self._sleep(delay)
                continue
            except requests.exceptions.RequestException as exc:
                # Anything else requests raises (a redirect loop, a broken chunked body...) is a proxy's or the
                # server's fault, not a blip worth resending: one error with the path, no traceback.
                raise VaultUnavailable(path, f"bad answer from Vault at {self.address} "
                                             f"({type(exc).__name__})") from exc
            return response if isinstance(response, dict) else {}

    def _timeouts(self, path: str, deadline: float | None) -> tuple[float, float]:
        """(connect, read) socket timeouts for the next attempt: the configured ones, cut to what the deadline left."""
        if deadline is None:
            return self._connect_timeout, self._read_timeout
        left = deadline - time.monotonic()
        if left <= 0:
            raise VaultTimeout(path, f"no answer from Vault at {self.address} before the call's deadline")
        return min(self._connect_timeout, left), min(self._read_timeout, left)


def _next_delay(delays: Iterator[float], deadline: float | None) -> float | None:
    """The backoff before the next attempt, cut to what the deadline leaves; None when no attempt is left."""
    delay = next(delays, None)
    if delay is not None and deadline is not None:
        delay = min(delay, deadline - time.monotonic())
    return None if delay is None or delay < 0 else delay


def _unreachable(address: str, path: str, exc: Exception, timeouts: tuple[float, float]) -> VaultUnavailable:
    """The error for a request that never got an answer: refused, reset, or timed out (a hung server)."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return VaultTimeout(path, f"cannot reach Vault at {address} (no connection within {timeouts[0]:g} s)")
    if isinstance(exc, requests.exceptions.Timeout):
        return VaultTimeout(path, f"Vault at {address} did not answer within {timeouts[1]:g} s (hung?)")
    return VaultUnavailable(path, f"cannot reach Vault at {address} ({type(exc).__name__})")


def _reason(exc: BaseException) -> str:
    """The innermost cause's message, without the URL noise requests adds."""
    while exc.__cause__ is not None or exc.__context__ is not None:
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]
    return str(exc) or type(exc).__name__


# OpenBao's storage runs each request in a transaction and refuses a commit whose reads changed meanwhile
# (sdk/physical/transactions.go, ErrTransactionCommitFailure): a 500 "transaction commit failed" when two clients
# write the same entries at once, e.g. two kill-switch runs destroying the same secret ids
# (docs/facts.md#vault-transaction-conflicts).
_CONFLICT = "transaction commit failed"


def _storage_conflict(exc: hvac.exceptions.VaultError) -> bool:
    """Whether Vault refused the request as a storage transaction conflict: nothing applied, safe to resend."""
    if not isinstance(exc, hvac.exceptions.InternalServerError):
        return False
    return any(_CONFLICT in str(error) for error in (exc.errors or [exc.args[0] if exc.args else ""]))


_STATUS = ((hvac.exceptions.InvalidRequest, 400), (hvac.exceptions.Unauthorized, 401),
           (hvac.exceptions.Forbidden, 403), (hvac.exceptions.InvalidPath, 404),
           (hvac.exceptions.RateLimitExceeded, 429), (hvac.exceptions.InternalServerError, 500),
           (hvac.exceptions.VaultNotInitialized, 501), (hvac.exceptions.BadGateway, 502),
           (hvac.exceptions.VaultDown, 503))


def _mapped(exc: hvac.exceptions.VaultError, path: str, *, login: bool, lease: bool) -> VaultRequestError:
    """The project's error for an hvac error, by HTTP status and what the call was (one line, whatever Vault sent)."""
    message = "; ".join(one_line(str(e)) for e in exc.errors) if exc.errors else (exc.args[0] if exc.args else "")
    message = one_line(str(message)) or type(exc).__name__
    status = next((code for kind, code in _STATUS if isinstance(exc, kind)), None)
    if isinstance(exc, hvac.exceptions.VaultDown):
        if "sealed" in message.lower():
            return VaultSealed(path, "Vault is sealed; an operator must unseal it", status=status)
        return VaultUnavailable(path, f"Vault is unavailable: {message}", status=status)
    if isinstance(exc, (hvac.exceptions.InternalServerError, hvac.exceptions.BadGateway,
                        hvac.exceptions.VaultNotInitialized)):
        return VaultUnavailable(path, f"Vault failed: {message}", status=status)
    if isinstance(exc, hvac.exceptions.RateLimitExceeded):
        return RateLimited(path, f"rate limit exceeded: {message}", status=status)
    if login and isinstance(exc, (hvac.exceptions.InvalidRequest, hvac.exceptions.Forbidden,
                                  hvac.exceptions.Unauthorized)):
        return LoginRefused(path, f"login refused: {message}", status=status)
    if lease and isinstance(exc, hvac.exceptions.InvalidRequest):
        return LeaseExpired(path, f"lease no longer exists: {message}", status=status)
    if isinstance(exc, (hvac.exceptions.Forbidden, hvac.exceptions.Unauthorized)):
        # Vault's own text is usually just "permission denied": say it once.
        said = message if message.lower().startswith("permission denied") else f"permission denied: {message}"
        return PermissionDenied(path, said, status=status)
    if isinstance(exc, hvac.exceptions.InvalidPath):
        return NotFound(path, f"not found{': ' + message if message != 'InvalidPath' else ''}", status=status)
    return VaultRequestError(path, message, status=status)


def _login(body: dict[str, Any], path: str) -> Login:
    auth = body.get("auth") or {}
    if not auth.get("client_token"):
        raise VaultRequestError(path, "Vault answered without a token")
    return Login(token=str(auth["client_token"]), accessor=str(auth.get("accessor", "")),
                 ttl=int(auth.get("lease_duration") or 0), renewable=bool(auth.get("renewable")),
                 policies=tuple(auth.get("token_policies") or auth.get("policies") or ()),
                 entity_id=str(auth.get("entity_id") or ""))
