"""The agent's Vault session: certificate + secret login, a token kept alive within its max TTL, dynamic secrets.

Login is a composition of two auth methods (docs/vault.md: "How an agent logs in"):
1. TLS client-certificate login to the cert mount (role = the identity name). The token it returns can do one
   thing: mint a response-wrapped secret id for the agent's own AppRole role (the plan's login policy).
2. Unwrap the secret id and log in to AppRole with it and the role id, a second secret delivered separately. That
   token (the mint token, 60 s) can do one thing: create the working token through the agent's token role.
3. Read the token role (period, explicit max) and create the working token with the agent's entity alias; the
   mint and certificate tokens then revoke themselves. Every working token of the agent is thus filed under the
   role's lease prefix, which `agentiam revoke` revokes at once.
The certificate alone yields no working token; the role id alone cannot mint a secret id.

The working token is renewed at `renew_fraction` of its TTL. Renewals cannot pass the role's explicit max TTL
(<= 24h), so shortly before that ceiling the session logs in again, which creates a new working token.
Tokens, secret ids, role ids and passwords are never logged; log lines carry token accessors.

Under faults (docs/client.md has the whole table):
- Vault is asked whether the token still lives at least every `check_interval` seconds and on every 403, so a
  revoked token is noticed, dropped with the database and AWS credentials obtained under it, and replaced by one
  fresh login; a 403 with a valid token is the policy's answer (`PermissionDenied`).
- A refusal that retrying cannot cure (`AccessRefused`: disabled agent, lockout, unknown role, server without its
  state) is remembered: the keep-alive stops and every later call raises it without touching Vault.
- A transient failure (down, hung, sealed, rate-limited) is retried after an exponentially growing, jittered
  delay; calls in between fail fast with the last error instead of hammering Vault.
- No lock is held while talking to Vault: a thread with a usable token never waits for another thread's renewal
  or login, and every call has a deadline (`call_timeout`, or its own `timeout=`).
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from agentiam.client.database import DatabaseCredentials
from agentiam.client.errors import (
    AccessRefused,
    AgentDisabled,
    LeaseExpired,
    LockedOut,
    LoginRefused,
    NotFound,
    PermissionDenied,
    RateLimited,
    ServerStateLost,
    UnknownRole,
    VaultRequestError,
    VaultSealed,
    VaultTimeout,
    VaultUnavailable,
)
from agentiam.client.vault import Lease, Login, VaultApi
from agentiam.errors import ConfigError

if TYPE_CHECKING:
    import boto3

    from agentiam.plan.model import AgentPlan

log = logging.getLogger(__name__)

DEFAULT_WRAP_TTL = 60  # seconds; the login policy allows 1s..300s (plan: SECRET_ID_MAX_WRAP_TTL)
RENEW_FRACTION = 2 / 3
CALL_TIMEOUT = 30.0  # seconds: the deadline of every public call that does not pass its own
CHECK_INTERVAL = 10.0  # seconds: at most this long between two confirmations that the token still lives
RETRY_BASE, RETRY_CAP = 0.5, 30.0  # seconds: login retries after transient failures, doubling, equal jitter
TRANSIENT = (VaultUnavailable, VaultSealed, RateLimited)

T = TypeVar("T")


@dataclass(frozen=True)
class AgentSettings:
    """Where the agent's Vault is and who the agent is there; names come from the identity plan."""

    vault_addr: str
    client_cert: str  # PEM file of the agent's certificate (CN pinned by the cert role)
    client_key: str
    cert_mount: str
    cert_role: str
    approle_mount: str
    approle_role: str
    role_id: str = field(repr=False)  # the second secret, delivered apart from the certificate
    ca_cert: str | None = None  # CA bundle verifying Vault's TLS certificate
    database_mount: str | None = None
    aws_mount: str | None = None
    wrap_ttl: int = DEFAULT_WRAP_TTL
    # The token role creating the working token; also the entity alias it is created with (the plan names both
    # after the identity, as the AppRole role): empty means the AppRole role's name.
    token_role: str = ""

    def __post_init__(self) -> None:
        if not self.token_role:
            object.__setattr__(self, "token_role", self.approle_role)

    @classmethod
    def for_agent(cls, agent: AgentPlan, *, vault_addr: str, client_cert: str, client_key: str, role_id: str,
                  ca_cert: str | None = None, aws_mount: str | None = None) -> AgentSettings:
        """Settings of one agent from its plan entry (mounts and role names exactly as provisioned)."""
        vault = agent.vault
        database_mount = vault.database_roles[0].mount if vault.database_roles else None
        return cls(vault_addr=vault_addr, client_cert=client_cert, client_key=client_key,
                   cert_mount=vault.cert.mount, cert_role=vault.cert.role_name, approle_mount=vault.approle.mount,
                   approle_role=vault.approle.role_name, role_id=role_id, ca_cert=ca_cert,
                   database_mount=database_mount,
                   aws_mount=aws_mount or (vault.aws_secret_role.mount if vault.aws_secret_role else None),
                   token_role=vault.token_role.name)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> AgentSettings:
        """Settings from `AGENTIAM_*` variables (and VAULT_ADDR / VAULT_CACERT); the role id from
        `AGENTIAM_ROLE_ID_FILE` (preferred: a file mounted apart from the certificate) or `AGENTIAM_ROLE_ID`;
        `AGENTIAM_TOKEN_ROLE` defaults to `AGENTIAM_APPROLE_ROLE` (the plan gives both the identity's name)."""
        env = os.environ if environ is None else environ

        def need(name: str, fallback: str | None = None) -> str:
            value = env.get(name) or (env.get(fallback) if fallback else None)
            if not value:
                alt = f" (or {fallback})" if fallback else ""
                raise ConfigError(f"environment variable {name}{alt} is not set")
            return value

        role_id_file = env.get("AGENTIAM_ROLE_ID_FILE")
        if role_id_file:
            try:
                role_id = Path(role_id_file).read_text().strip()
            except OSError as exc:
                raise ConfigError(f"AGENTIAM_ROLE_ID_FILE {role_id_file}: cannot read: {exc.strerror}") from exc
        else:
            role_id = need("AGENTIAM_ROLE_ID")
        wrap_ttl = env.get("AGENTIAM_WRAP_TTL", str(DEFAULT_WRAP_TTL))
        if not wrap_ttl.isdigit():
            raise ConfigError(f"AGENTIAM_WRAP_TTL {wrap_ttl!r} is not a number of seconds")
        return cls(vault_addr=need("AGENTIAM_VAULT_ADDR", "VAULT_ADDR"), client_cert=need("AGENTIAM_CLIENT_CERT"),
                   client_key=need("AGENTIAM_CLIENT_KEY"), cert_mount=need("AGENTIAM_CERT_MOUNT"),
                   cert_role=need("AGENTIAM_CERT_ROLE"), approle_mount=need("AGENTIAM_APPROLE_MOUNT"),
                   approle_role=need("AGENTIAM_APPROLE_ROLE"), role_id=role_id,
                   ca_cert=env.get("AGENTIAM_VAULT_CACERT") or env.get("VAULT_CACERT") or None,
                   database_mount=env.get("AGENTIAM_DATABASE_MOUNT") or None,
                   aws_mount=env.get("AGENTIAM_AWS_MOUNT") or None,
                   wrap_ttl=int(wrap_ttl), token_role=env.get("AGENTIAM_TOKEN_ROLE") or "")


@dataclass
class _Token:
    login: Login = field(repr=False)
    generation: int
    obtained_at: float
    expires_at: float
    deadline: float | None  # the explicit max TTL: no renewal reaches past it
    ttl: int
    checked_at: float  # when Vault last confirmed the token (login, renewal, lookup)
    next_check_at: float  # renewal point or liveness check, whichever comes first; pushed back after failures
    failures: int = 0  # consecutive transient failures of renewal / check


@dataclass(frozen=True)
class TokenStatus:
    """What an operator may see about the current token: no token value."""

    accessor: str
    generation: int  # increases with every fresh login
    expires_in: float
    max_expires_in: float | None
    policies: tuple[str, ...]
    entity_id: str


def retry_delay(failures: int, rng: random.Random, base: float = RETRY_BASE, cap: float = RETRY_CAP) -> float:
    """Delay after the `failures`-th consecutive transient failure: doubling from `base`, capped, "equal jitter".

    Half the delay is fixed and half random: many agents knocked out by one outage spread their retries, and none
    retries at once (full jitter can draw ~0 and hammer a server that is coming back).
    """
    delay = min(cap, base * 2 ** max(0, failures - 1))
    return delay / 2 + rng.uniform(0, delay / 2)


class AgentSession:
    """An authenticated agent: `token()` always returns a live token; `database()` / `aws_session()` credentials.

    Thread-safe. Use as a context manager (or call `close()`) to revoke the token and its leases on exit.
    """

    def __init__(self, settings: AgentSettings, *, api: VaultApi | None = None,
                 clock: Callable[[], float] = time.monotonic, renew_fraction: float = RENEW_FRACTION,
                 call_timeout: float = CALL_TIMEOUT, check_interval: float = CHECK_INTERVAL,
                 rng: random.Random | None = None):
        self.settings = settings
        self._api = api or VaultApi(settings.vault_addr, ca_cert=settings.ca_cert,
                                    client_cert=(settings.client_cert, settings.client_key))
        self._clock = clock
        self._renew_fraction = renew_fraction
        self.call_timeout = call_timeout
        self.check_interval = check_interval
        self._rng = rng or random.Random()
        # `_lock` guards the fields below and is never held while talking to Vault. `_maintenance` is held by the
        # one thread logging in, renewing or checking the token; others with a usable token do not wait for it.
        self._lock = threading.Lock()
        self._maintenance = threading.Lock()
        self._token: _Token | None = None
        self._generation = 0
        self._dead: set[int] = set()  # generations whose token Vault refused: what they obtained is gone too
        self._refused: AccessRefused | None = None
        self._login_failures = 0
        self._login_retry_at = 0.0
        self._login_error: VaultRequestError | None = None
        self._databases: dict[str, DatabaseCredentials] = {}
        self._role_locks: dict[str, threading.Lock] = {}
        self._keepalive: threading.Thread | None = None
        self._stop = threading.Event()

    def __repr__(self) -> str:
        with self._lock:  # never status(): a repr must not log in
            state = self._token.login.accessor if self._token else "not logged in"
        return f"AgentSession(role={self.settings.approle_role!r}, token accessor={state!r})"

    def __enter__(self) -> AgentSession:
        self.token()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _deadline(self, timeout: float | None) -> float:
        return time.monotonic() + (self.call_timeout if timeout is None else timeout)

    # -- login ----------------------------------------------------------------------------------------

    def login(self, *, timeout: float | None = None) -> TokenStatus:
        """Certificate + secret login now, replacing the current token; clears a remembered refusal and backoff.

        Raises `AccessRefused` (a subclass saying why) when Vault refuses the agent, a transient error otherwise.
        """
        deadline = self._deadline(timeout)
        with self._lock:
            self._refused = None
            self._login_retry_at = 0.0
        self._acquire_maintenance(deadline, f"auth/{self.settings.cert_mount}/login")
        try:
            self._login(deadline)
        finally:
            self._maintenance.release()
        return self.status(timeout=timeout)

    def _acquire_maintenance(self, deadline: float, path: str) -> None:
        if not self._maintenance.acquire(timeout=max(0.0, deadline - time.monotonic())):
            raise VaultTimeout(path, "another thread's login did not finish before this call's deadline")

    def _login(self, deadline: float) -> _Token:
        """The three-step login (caller holds `_maintenance`), with the backoff gate and the refusal classified."""
        s = self.settings
        with self._lock:
            if self._refused is not None:
                raise self._refused
            wait = self._login_retry_at - self._clock()
            if wait > 0 and self._login_error is not None:
                raise type(self._login_error)(self._login_error.path, f"{self._login_error.reason} (next login "
                                                                      f"attempt in {wait:.1f} s)")
        try:
            working, explicit_max, spent = self._login_steps(deadline)
        except AccessRefused as refused:
            with self._lock:
                self._refused = refused
                if self._token is not None:
                    self._dead.add(self._token.generation)
                self._token = None
                self._databases.clear()
            self._stop.set()  # the keep-alive has nothing left to keep alive
            log.error("Vault refuses agent %s for good, keep-alive stopped: %s", s.approle_role, refused)
            raise
        except VaultRequestError as exc:  # transient, or a refusal that may pass (an intercepted wrapping token)
            with self._lock:
                self._login_failures += 1
                delay = retry_delay(self._login_failures, self._rng)
                self._login_retry_at = self._clock() + delay
                self._login_error = exc
            log.warning("login of %s failed (attempt %d), next attempt in %.1fs: %s", s.approle_role,
                        self._login_failures, delay, exc)
            raise
        for token in spent:
            self._retire(token, deadline)
        with self._lock:
            now = self._clock()
            self._login_failures = 0
            self._login_retry_at = 0.0
            self._login_error = None
            self._generation += 1
            self._token = _Token(login=working, generation=self._generation, obtained_at=now,
                                 expires_at=now + working.ttl, deadline=now + explicit_max if explicit_max else None,
                                 ttl=working.ttl, checked_at=now, next_check_at=0.0)
            self._token.next_check_at = self._next_check(self._token)
            self._databases.clear()  # leases die with the token that created them: new login, new credentials
            token = self._token
        log.info("logged in as %s (accessor %s, ttl %ss, max %ss)", s.approle_role, working.accessor,
                 working.ttl, explicit_max or "unbounded")
        return token

    def _login_steps(self, deadline: float) -> tuple[Login, int, tuple[Login, ...]]:
        """Certificate login, wrapped secret id, AppRole login, working token through the token role; each refusal
        mapped to what it means. Returns the working token, its explicit max TTL (seconds, 0 if none) and the
        tokens spent on the way (certificate, mint), to retire."""
        cert, mint = self._approle_steps(deadline)
        working, explicit_max = self._working_token(mint, deadline)
        return working, explicit_max, (mint, cert)

    def _approle_steps(self, deadline: float) -> tuple[Login, Login]:
        """Certificate login, wrapped secret id, AppRole login: the certificate token and the mint token."""
        s = self.settings
        try:
            cert = self._api.cert_login(s.cert_mount, s.cert_role, deadline=deadline)
        except LoginRefused as exc:
            raise self._cert_refusal(exc, deadline) from exc
        log.debug("certificate login ok (accessor %s)", cert.accessor)
        try:
            wrapping = self._api.wrapped_secret_id(cert.token, s.approle_mount, s.approle_role, s.wrap_ttl,
                                                   deadline=deadline)
        except PermissionDenied as exc:
            # The certificate token is fresh, so its policy says no: the plan's login policy of a suspended or
            # revoked agent keeps nothing but revoke-self.
            raise AgentDisabled(exc.path, "the certificate login may no longer mint a secret id: the agent is "
                                          "suspended or revoked in its spec") from exc
        except NotFound as exc:
            if "no handler for route" in exc.reason:
                raise ServerStateLost(exc.path, f"Vault at {s.vault_addr} has no AppRole mount {s.approle_mount} "
                                                f"({exc.reason})") from exc
            raise UnknownRole(exc.path, f"this Vault has no AppRole role {s.approle_role} ({exc.reason})") from exc
        secret_id = self._api.unwrap_secret_id(wrapping, deadline=deadline)
        try:
            mint = self._api.approle_login(s.approle_mount, s.role_id, secret_id, deadline=deadline)
        except LoginRefused as exc:
            if exc.status == 403:
                # The certificate login just worked, so the entity is enabled: AppRole answers 403 before it
                # looks at the secret id when the role id is locked out.
                raise LockedOut(exc.path, "the role id is locked out after failed logins; an operator can unlock it "
                                          f"at sys/locked-users (this AppRole mount lacks agentiam's lockout "
                                          f"setting): {exc.reason}") from exc
            # A secret id minted for the role a moment ago was refused: the role id is not the role's.
            raise UnknownRole(exc.path, "the AppRole role does not accept this role id (re-created role, or the "
                                        f"wrong AGENTIAM_ROLE_ID_FILE): {exc.reason}") from exc
        return cert, mint

    def _working_token(self, mint: Login, deadline: float) -> tuple[Login, int]:
        """Read the token role with the mint token, then create the working token through it."""
        role = self.settings.token_role
        try:
            config = self._api.read_token_role(mint.token, role, deadline=deadline)
        except (NotFound, PermissionDenied) as exc:
            self._check_mint_token(mint, exc, deadline)
            # A live mint token's policy always allows reading its own role: this is not the agent's role
            # (AGENTIAM_TOKEN_ROLE), or the AppRole token is not a mint token (a stack applied by an agentiam
            # without token roles).
            raise UnknownRole(exc.path, f"the AppRole token cannot read token role {role}: it does not exist on "
                                        "this Vault, AGENTIAM_TOKEN_ROLE names another agent's, or the stack was "
                                        f"applied by an agentiam without token roles ({exc.reason})") from exc
        try:
            working = self._api.create_role_token(mint.token, role, role, deadline=deadline)
        except PermissionDenied as exc:
            self._check_mint_token(mint, exc, deadline)
            # A live mint token that may read its role but not create through it: the plan's mint policy of a
            # suspended or revoked agent keeps no creation, and a disabled entity refuses it too.
            raise AgentDisabled(exc.path, "the AppRole token may no longer create the working token: the agent is "
                                          f"suspended or revoked ({exc.reason})") from exc
        except VaultRequestError as exc:
            if exc.status != 400 or isinstance(exc, TRANSIENT):
                raise
            raise UnknownRole(exc.path, f"token role {role} refuses to create the agent's token (unknown role, or "
                                        f"another entity alias): {exc.reason}") from exc
        return working, int(config.get("token_explicit_max_ttl") or 0)

    def _check_mint_token(self, mint: Login, refusal: VaultRequestError, deadline: float) -> None:
        """GET auth/token/lookup-self with the mint token: a 403 from a mint token that has expired (the process
        stalled past its 60 s) or was revoked is not the policy's, so the login is retried, not given up for good."""
        if not isinstance(refusal, PermissionDenied):
            return
        try:
            self._api.lookup_self(mint.token, deadline=deadline)
        except PermissionDenied:
            raise LoginRefused(refusal.path, "the AppRole token expired or was revoked before it created the working "
                                             f"token; the login is tried again ({refusal.reason})") from refusal

    def _cert_refusal(self, exc: LoginRefused, deadline: float) -> LoginRefused:
        s = self.settings
        if exc.status == 403:
            try:
                mount_there = self._api.auth_mount_exists(s.cert_mount, deadline=deadline)
            except TRANSIENT:
                return exc  # cannot tell now: counted as a failed attempt and retried later
            if not mount_there:
                return ServerStateLost(exc.path, f"Vault at {s.vault_addr} has no auth mount {s.cert_mount}: it lost "
                                                 "its state (dev server restarted, restored from before the agent) or "
                                                 "another Vault answers at this address")
            return AgentDisabled(exc.path, "the agent's identity is disabled: `agentiam revoke` ran or its spec "
                                           f"says suspended/revoked ({exc.reason})")
        if "no client certificate found" in exc.reason:
            return AccessRefused(exc.path, "no client certificate was presented: check AGENTIAM_CLIENT_CERT and "
                                           f"AGENTIAM_CLIENT_KEY ({exc.reason})")
        return UnknownRole(exc.path, f"cert role {s.cert_role} does not accept this certificate: the role does not "
                                     f"exist on this Vault, or pins another name or CA ({exc.reason})")

    def _retire(self, spent: Login, deadline: float) -> None:
        """A login token that has done its one job revokes itself (the certificate token spends its last use on it).

        The working token is an orphan: it outlives the mint token that created it."""
        try:
            self._api.revoke_self(spent.token, deadline=deadline)
        except VaultRequestError as exc:
            # Harmless if it fails: the certificate token has one use left and expires within minutes, the mint
            # token within a minute (CERT_TOKEN_TTL, MINT_TOKEN_TTL in the plan).
            log.warning("could not revoke a spent login token (accessor %s): %s", spent.accessor, exc)

    # -- token lifecycle ------------------------------------------------------------------------------

    def token(self, *, timeout: float | None = None) -> str:
        """A live token: renewed at `renew_fraction` of its TTL, checked every `check_interval`, a fresh login
        when renewal would pass the max or Vault no longer knows the token."""
        return self._live(self._deadline(timeout)).login.token

    def _next_check(self, current: _Token) -> float:
        renew_at = current.obtained_at + current.ttl * self._renew_fraction
        return min(renew_at, current.checked_at + self.check_interval)

    def _live(self, deadline: float) -> _Token:
        """The current token if usable (maintaining it when due, without waiting for another thread), else a login."""
        while True:
            with self._lock:
                if self._refused is not None:
                    raise self._refused
                current = self._token
                now = self._clock()
                usable = current is not None and now < current.expires_at
                due = usable and now >= current.next_check_at  # type: ignore[union-attr]
            if usable and not due:
                return current  # type: ignore[return-value]
            if usable:
                if not self._maintenance.acquire(blocking=False):
                    return current  # type: ignore[return-value]  # another thread is at it; this token still works
                try:
                    self._maintain(current, deadline)  # type: ignore[arg-type]
                finally:
                    self._maintenance.release()
                continue  # the token may have been renewed, replaced or found dead
            self._acquire_maintenance(deadline, f"auth/{self.settings.cert_mount}/login")
            try:
                with self._lock:
                    fresh = self._token
                    if fresh is not None and self._clock() < fresh.expires_at and fresh is not current:
                        continue  # another thread logged in while this one waited
                return self._login(deadline)
            finally:
                self._maintenance.release()

    def _maintain(self, current: _Token, deadline: float) -> None:
        """Renew or check `current` (caller holds `_maintenance`); a transient failure keeps it until it expires."""
        now = self._clock()
        renew_due = now >= current.obtained_at + current.ttl * self._renew_fraction
        try:
            if renew_due and current.deadline is not None and current.deadline - now <= current.ttl:
                # A renewal would be capped short of a full TTL: log in again while the old token still works.
                log.info("token %s nears its max TTL; logging in again", current.login.accessor)
                self._login(deadline)
                return
            if renew_due:
                renewed = self._api.renew_self(current.login.token, current.ttl, deadline=deadline)
            else:
                self._api.lookup_self(current.login.token, deadline=deadline)
        except AccessRefused:
            raise
        except PermissionDenied:
            # Vault no longer honours the token (revoked, entity disabled, server restarted): drop it and what was
            # obtained with it; the caller's next turn logs in, which tells whether the agent may continue.
            log.warning("token %s is no longer valid; dropping it and the credentials obtained with it",
                        current.login.accessor)
            self._drop(current)
            return
        except VaultRequestError as exc:  # transient (or a login that may pass later): keep the valid token
            with self._lock:
                current.failures += 1
                current.next_check_at = self._clock() + retry_delay(current.failures, self._rng)
            log.warning("could not refresh token %s, still valid for %.0fs: %s", current.login.accessor,
                        current.expires_at - now, exc)
            return
        with self._lock:
            now = self._clock()
            current.failures = 0
            current.checked_at = now
            if renew_due:
                margin = current.ttl * (1 - self._renew_fraction)
                current.obtained_at = now
                current.expires_at = now + renewed.ttl
                if renewed.ttl + margin < current.ttl:
                    # Vault capped the renewal (max TTL): that is the real deadline.
                    current.deadline = current.expires_at
            current.next_check_at = self._next_check(current)
        if renew_due:
            log.debug("renewed token %s for %ss", current.login.accessor, renewed.ttl)

    def _drop(self, current: _Token) -> None:
        """Forget a token Vault refused, and every credential obtained under it (database users died with it)."""
        with self._lock:
            self._dead.add(current.generation)
            if self._token is current:
                self._token = None
                self._databases.clear()

    def _alive(self, current: _Token, deadline: float) -> bool:
        """GET lookup-self: whether Vault still honours `current` (a 403 on a path may be the policy or the token)."""
        try:
            self._api.lookup_self(current.login.token, deadline=deadline)
        except PermissionDenied:
            return False
        with self._lock:
            current.checked_at = self._clock()
        return True

    def _with_token(self, path: str, deadline: float, call: Callable[[_Token], T]) -> T:
        """`call(token)`; on a 403 the token is checked: valid, the policy said no; dead, one fresh login and retry."""
        current = self._live(deadline)
        try:
            return call(current)
        except PermissionDenied as denied:
            if self._alive(current, deadline):
                raise PermissionDenied(path, f"denied by the agent's policy (its token is valid): "
                                             f"{denied.reason}") from denied
            log.warning("token %s was refused on %s; logging in again", current.login.accessor, path)
            self._drop(current)
        fresh = self._live(deadline)
        try:
            return call(fresh)
        except PermissionDenied as denied:
            raise PermissionDenied(path, f"denied by the agent's policy (with a fresh token): "
                                         f"{denied.reason}") from denied

    def status(self, *, timeout: float | None = None) -> TokenStatus:
        """Accessor, remaining TTL and remaining max TTL of the current token (logs in if needed)."""
        current = self._live(self._deadline(timeout))
        with self._lock:
            now = self._clock()
            return TokenStatus(accessor=current.login.accessor, generation=current.generation,
                               expires_in=current.expires_at - now,
                               max_expires_in=None if current.deadline is None else current.deadline - now,
                               policies=current.login.policies, entity_id=current.login.entity_id)

    @property
    def refused(self) -> AccessRefused | None:
        """The permanent refusal that stopped this session, if any (every call raises it until `login()`)."""
        with self._lock:
            return self._refused

    def start_keepalive(self, interval: float | None = None) -> None:
        """Keep the token alive from a daemon thread (for agents that idle longer than a TTL between calls).

        The thread renews and checks the token as `token()` would, backs off after transient failures, and stops
        for good on a permanent refusal (`refused` then says why).
        """
        with self._lock:
            if self._keepalive is not None and self._keepalive.is_alive():
                return
            ttl = self._token.ttl if self._token else 60
            period = interval or max(0.5, min(self.check_interval, ttl * (1 - self._renew_fraction) / 2))
            self._stop.clear()
            self._keepalive = threading.Thread(target=self._keep_alive, args=(period,), name="agentiam-keepalive",
                                               daemon=True)
            self._keepalive.start()

    def _keep_alive(self, period: float) -> None:
        delay = period
        while not self._stop.wait(delay):
            try:
                self._live(self._deadline(None))
                delay = period
            except AccessRefused:
                return  # logged by _login; `refused` tells the application
            except VaultRequestError as exc:
                # Retry when the login backoff allows, not before: a down Vault sees a handful of attempts.
                with self._lock:
                    wait = self._login_retry_at - self._clock()
                delay = max(period, wait)
                log.debug("keep-alive: %s; next attempt in %.1fs", exc, delay)

    def close(self, *, timeout: float | None = None) -> None:
        """Stop the keep-alive thread and revoke the token (Vault revokes the leases it created with it)."""
        deadline = self._deadline(timeout)
        self._stop.set()
        thread = self._keepalive
        if thread is not None:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
            self._keepalive = None
        with self._lock:
            current, self._token = self._token, None
            self._databases.clear()
        if current is not None:
            try:
                self._api.revoke_self(current.login.token, deadline=deadline)
            except VaultRequestError as exc:
                log.warning("could not revoke token %s on close: %s", current.login.accessor, exc)
        self._api.close()

    # -- secrets --------------------------------------------------------------------------------------

    def read(self, path: str, *, timeout: float | None = None) -> dict[str, Any]:
        """GET `path` with the agent's token: the secret's `data`. PermissionDenied if the policy forbids it."""
        deadline = self._deadline(timeout)
        return self._with_token(path, deadline,
                                lambda t: self._api.read_lease(t.login.token, path, deadline=deadline).data)

    def database(self, role: str, *, timeout: float | None = None) -> DatabaseCredentials:
        """Live credentials of dynamic database role `role` (a plan `database_roles[].name`).

        The lease is renewed at `renew_fraction` of its TTL; near its max TTL, after it expired, after a fresh
        login (leases die with the token that created them) or once the token was found revoked, new credentials
        are fetched: compare `username` to know when to reconnect.
        """
        mount = self.settings.database_mount
        if not mount:
            raise ConfigError("no database mount configured (AgentSettings.database_mount)")
        deadline = self._deadline(timeout)
        path = f"{mount}/creds/{role}"
        current = self._live(deadline)
        with self._lock:
            cached = self._usable_credentials(role, current)
            lock = self._role_locks.setdefault(role, threading.Lock())
        if cached is not None and self._clock() < cached.obtained_at + cached.ttl * self._renew_fraction:
            return cached
        if cached is not None and not lock.acquire(blocking=False):
            return cached  # another thread renews them; they are still valid
        if cached is None:
            self._acquire_role(lock, deadline, path)
        try:
            with self._lock:
                again = self._usable_credentials(role, current)
            if again is not None and again is not cached:
                return again  # another thread fetched them while this one waited
            if cached is not None:
                renewed = self._renew_database(cached, deadline)
                if renewed is not None:
                    return renewed
            token, lease = self._with_token(
                path, deadline, lambda t: (t, self._api.read_lease(t.login.token, path, deadline=deadline)))
            return self._store_credentials(role, token, lease)
        finally:
            lock.release()

    def _usable_credentials(self, role: str, current: _Token) -> DatabaseCredentials | None:
        cached = self._databases.get(role)
        if cached is None or cached.generation != current.generation or self._clock() >= cached.expires_at:
            return None
        return cached

    def _acquire_role(self, lock: threading.Lock, deadline: float, path: str) -> None:
        if not lock.acquire(timeout=max(0.0, deadline - time.monotonic())):
            raise VaultTimeout(path, "another thread's credential request did not finish before this call's deadline")

    def _store_credentials(self, role: str, token: _Token, lease: Lease) -> DatabaseCredentials:
        now = self._clock()
        fresh = DatabaseCredentials(role=role, username=str(lease.data.get("username", "")),
                                    password=str(lease.data.get("password", "")), lease_id=lease.lease_id,
                                    ttl=lease.ttl, renewable=lease.renewable, obtained_at=now,
                                    expires_at=now + lease.ttl, generation=token.generation)
        with self._lock:
            self._databases[role] = fresh
        log.info("new database credentials for role %s (user %s, lease ttl %ss)", role, fresh.username, lease.ttl)
        return fresh

    def _renew_database(self, current: DatabaseCredentials, deadline: float) -> DatabaseCredentials | None:
        if not current.renewable:
            return None
        try:
            ttl = self._with_token("sys/leases/renew", deadline,
                                   lambda t: self._api.renew_lease(t.login.token, current.lease_id, current.ttl,
                                                                   deadline=deadline))
        except LeaseExpired:
            log.info("database lease of role %s is gone; fetching new credentials", current.role)
            with self._lock:
                if self._databases.get(current.role) is current:
                    del self._databases[current.role]
            return None
        except TRANSIENT as exc:
            log.warning("could not renew the database lease of role %s, still valid for %.0fs: %s", current.role,
                        current.expires_at - self._clock(), exc)
            return current
        if ttl < current.ttl * (1 - self._renew_fraction):
            # Capped by the role's max_ttl: switch to new credentials rather than run into the wall.
            return None
        renewed = current.renewed(self._clock(), ttl)
        with self._lock:
            self._databases[current.role] = renewed
        log.debug("renewed database lease of role %s for %ss", current.role, ttl)
        return renewed

    def credentials_alive(self, generation: int) -> bool:
        """Whether what was obtained under login `generation` may still be handed out (its token not found dead)."""
        with self._lock:
            return self._refused is None and generation not in self._dead

    def aws_session(self, role: str | None = None, *, region_name: str | None = None,
                    endpoint: str = "sts") -> boto3.Session:
        """A boto3 Session whose credentials come from `<aws_mount>/<endpoint>/<role>` and refresh themselves.

        Credentials obtained under a token that Vault later refused are fetched again before the next AWS call
        (which then fails with the session's refusal if the agent is cut off); STS credentials themselves cannot
        be revoked, the IAM kill switch denies them.
        """
        from agentiam.client.aws import vault_boto3_session  # boto3 only for agents that use AWS

        mount = self.settings.aws_mount
        if not mount:
            raise ConfigError("no AWS secrets mount configured (AgentSettings.aws_mount)")
        path = f"{mount}/{endpoint}/{role or self.settings.approle_role}"

        def read() -> tuple[Lease, int]:
            deadline = self._deadline(None)
            token, lease = self._with_token(
                path, deadline, lambda t: (t, self._api.read_lease(t.login.token, path, deadline=deadline)))
            return lease, token.generation

        return vault_boto3_session(read, self.credentials_alive, region_name=region_name, path=path)

