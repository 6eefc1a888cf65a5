"""The agent's Vault session: certificate + secret login, a token kept alive within its max TTL, dynamic secrets.

Login is a composition of two auth methods (FACTS.md, "certificate + secret"):
1. TLS client-certificate login to the cert mount (role = the identity name). The token it returns can do one
   thing: mint a response-wrapped secret id for the agent's own AppRole role (the plan's login policy).
2. Unwrap the secret id and log in to AppRole with it and the role id, a second secret delivered separately.
The certificate alone yields no working token; the role id alone cannot mint a secret id.

The working token is renewed at `renew_fraction` of its TTL. Renewals cannot pass the token's max TTL (the
AppRole role sets it as explicit max, <= 24h), so shortly before that ceiling the session logs in again.
Tokens, secret ids, role ids and passwords are never logged; log lines carry token accessors.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentiam.client.database import DatabaseCredentials
from agentiam.client.errors import LeaseExpired, PermissionDenied, VaultRequestError, VaultSealed, VaultUnavailable
from agentiam.client.vault import Login, VaultApi
from agentiam.errors import ConfigError

if TYPE_CHECKING:
    import boto3

    from agentiam.plan.model import AgentPlan

log = logging.getLogger(__name__)

DEFAULT_WRAP_TTL = 60  # seconds; the login policy allows 1s..300s (plan: SECRET_ID_MAX_WRAP_TTL)
RENEW_FRACTION = 2 / 3


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
                   aws_mount=aws_mount or (vault.aws_secret_role.mount if vault.aws_secret_role else None))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> AgentSettings:
        """Settings from `AGENTIAM_*` variables (and VAULT_ADDR / VAULT_CACERT); the role id from
        `AGENTIAM_ROLE_ID_FILE` (preferred: a file mounted apart from the certificate) or `AGENTIAM_ROLE_ID`."""
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
                   wrap_ttl=int(wrap_ttl))


@dataclass
class _Token:
    login: Login = field(repr=False)
    generation: int
    obtained_at: float
    expires_at: float
    deadline: float | None  # the explicit max TTL: no renewal reaches past it
    ttl: int


@dataclass(frozen=True)
class TokenStatus:
    """What an operator may see about the current token: no token value."""

    accessor: str
    generation: int  # increases with every fresh login
    expires_in: float
    max_expires_in: float | None
    policies: tuple[str, ...]
    entity_id: str


class AgentSession:
    """An authenticated agent: `token()` always returns a live token; `database()` / `aws_session()` credentials.

    Thread-safe. Use as a context manager (or call `close()`) to revoke the token and its leases on exit.
    """

    def __init__(self, settings: AgentSettings, *, api: VaultApi | None = None,
                 clock: Callable[[], float] = time.monotonic, renew_fraction: float = RENEW_FRACTION):
        self.settings = settings
        self._api = api or VaultApi(settings.vault_addr, ca_cert=settings.ca_cert,
                                    client_cert=(settings.client_cert, settings.client_key))
        self._clock = clock
        self._renew_fraction = renew_fraction
        self._lock = threading.RLock()
        self._token: _Token | None = None
        self._generation = 0
        self._databases: dict[str, DatabaseCredentials] = {}
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

    # -- login ----------------------------------------------------------------------------------------

    def login(self) -> TokenStatus:
        """Certificate + secret login; replaces the current token. Raises LoginRefused if either factor fails."""
        with self._lock:
            s = self.settings
            cert = self._api.cert_login(s.cert_mount, s.cert_role)
            log.debug("certificate login ok (accessor %s)", cert.accessor)
            wrapping = self._api.wrapped_secret_id(cert.token, s.approle_mount, s.approle_role, s.wrap_ttl)
            secret_id = self._api.unwrap_secret_id(wrapping)
            working = self._api.approle_login(s.approle_mount, s.role_id, secret_id)
            self._retire_certificate_token(cert)
            now = self._clock()
            info = self._api.lookup_self(working.token)
            explicit_max = int(info.get("explicit_max_ttl") or 0)
            self._generation += 1
            self._token = _Token(login=working, generation=self._generation, obtained_at=now,
                                 expires_at=now + working.ttl, deadline=now + explicit_max if explicit_max else None,
                                 ttl=working.ttl)
            log.info("logged in as %s (accessor %s, ttl %ss, max %ss)", s.approle_role, working.accessor,
                     working.ttl, explicit_max or "unbounded")
            return self.status()

    def _retire_certificate_token(self, cert: Login) -> None:
        """Spend the certificate token's last use on revoking itself: it has done its one job."""
        try:
            self._api.revoke_self(cert.token)
        except VaultRequestError as exc:
            # Harmless if it fails: the token has one use left and expires within minutes (CERT_TOKEN_TTL).
            log.warning("could not revoke the certificate token (accessor %s): %s", cert.accessor, exc)

    # -- token lifecycle ------------------------------------------------------------------------------

    def token(self) -> str:
        """A live token: renewed at `renew_fraction` of its TTL, a fresh login when renewal would pass the max."""
        with self._lock:
            current = self._token
            now = self._clock()
            if current is None or now >= current.expires_at:
                self.login()
            elif now >= current.obtained_at + current.ttl * self._renew_fraction:
                self._refresh(current, now)
            assert self._token is not None
            return self._token.login.token

    def _refresh(self, current: _Token, now: float) -> None:
        margin = current.ttl * (1 - self._renew_fraction)
        try:
            if current.deadline is not None and current.deadline - now <= current.ttl:
                # A renewal would be capped short of a full TTL: log in again while the old token still works.
                log.info("token %s nears its max TTL; logging in again", current.login.accessor)
                self.login()
                return
            try:
                renewed = self._api.renew_self(current.login.token, current.ttl)
            except PermissionDenied:
                # Revoked or its entity disabled: only a fresh login can tell whether the agent may continue.
                log.warning("token %s was refused on renewal; logging in again", current.login.accessor)
                self.login()
                return
        except (VaultUnavailable, VaultSealed) as exc:
            # Vault down or sealed: the current token is still valid (a third of its TTL left), so hand it out
            # and try again on the next call (the keep-alive thread keeps trying too); expired, token() raises.
            log.warning("could not refresh token %s, still valid for %.0fs: %s", current.login.accessor,
                        current.expires_at - now, exc)
            return
        current.obtained_at = now
        current.expires_at = now + renewed.ttl
        if renewed.ttl + margin < current.ttl:
            # Vault capped the renewal (max TTL): that is the real deadline.
            current.deadline = current.expires_at
        log.debug("renewed token %s for %ss", current.login.accessor, renewed.ttl)

    def status(self) -> TokenStatus:
        """Accessor, remaining TTL and remaining max TTL of the current token (logs in if needed)."""
        with self._lock:
            if self._token is None:
                self.login()
            current = self._token
            assert current is not None
            now = self._clock()
            return TokenStatus(accessor=current.login.accessor, generation=current.generation,
                               expires_in=current.expires_at - now,
                               max_expires_in=None if current.deadline is None else current.deadline - now,
                               policies=current.login.policies, entity_id=current.login.entity_id)

    def start_keepalive(self, interval: float | None = None) -> None:
        """Keep the token alive from a daemon thread (for agents that idle longer than a TTL between calls)."""
        with self._lock:
            if self._keepalive is not None:
                return
            period = interval or max(0.5, (self._token.ttl if self._token else 60) * (1 - self._renew_fraction) / 2)
            self._stop.clear()
            self._keepalive = threading.Thread(target=self._keep_alive, args=(period,), name="agentiam-keepalive",
                                               daemon=True)
            self._keepalive.start()

    def _keep_alive(self, period: float) -> None:
        while not self._stop.wait(period):
            try:
                self.token()
            except VaultRequestError as exc:
                # The next token() call by the agent raises the same error; the thread keeps trying.
                log.warning("keep-alive failed: %s", exc)

    def close(self) -> None:
        """Stop the keep-alive thread and revoke the token (Vault revokes the leases it created with it)."""
        self._stop.set()
        if self._keepalive is not None:
            self._keepalive.join()
            self._keepalive = None
        with self._lock:
            if self._token is not None:
                accessor = self._token.login.accessor
                try:
                    self._api.revoke_self(self._token.login.token)
                except VaultRequestError as exc:
                    log.warning("could not revoke token %s on close: %s", accessor, exc)
                self._token = None
                self._databases.clear()
            self._api.close()

    # -- secrets --------------------------------------------------------------------------------------

    def read(self, path: str) -> dict[str, Any]:
        """GET `path` with the agent's token: the secret's `data`. PermissionDenied if the policy forbids it."""
        return self._api.read_lease(self.token(), path).data

    def database(self, role: str) -> DatabaseCredentials:
        """Live credentials of dynamic database role `role` (a plan `database_roles[].name`).

        The lease is renewed at `renew_fraction` of its TTL; near its max TTL, after it expired, or after a fresh
        login (leases die with the token that created them) new credentials are fetched: compare `username` to
        know when to reconnect.
        """
        mount = self.settings.database_mount
        if not mount:
            raise ConfigError("no database mount configured (AgentSettings.database_mount)")
        with self._lock:
            token = self.token()
            assert self._token is not None
            generation = self._token.generation
            now = self._clock()
            current = self._databases.get(role)
            if current is not None and current.generation == generation and now < current.expires_at:
                if now < current.obtained_at + current.ttl * self._renew_fraction:
                    return current
                renewed = self._renew_database(token, current, now)
                if renewed is not None:
                    return renewed
            lease = self._api.read_lease(token, f"{mount}/creds/{role}")
            fresh = DatabaseCredentials(role=role, username=str(lease.data.get("username", "")),
                                        password=str(lease.data.get("password", "")), lease_id=lease.lease_id,
                                        ttl=lease.ttl, renewable=lease.renewable, obtained_at=now,
                                        expires_at=now + lease.ttl, generation=generation)
            self._databases[role] = fresh
            log.info("new database credentials for role %s (user %s, lease ttl %ss)", role, fresh.username, lease.ttl)
            return fresh

    def _renew_database(self, token: str, current: DatabaseCredentials, now: float) -> DatabaseCredentials | None:
        if not current.renewable:
            return None
        try:
            ttl = self._api.renew_lease(token, current.lease_id, current.ttl)
        except LeaseExpired:
            log.info("database lease of role %s is gone; fetching new credentials", current.role)
            return None
        if ttl < current.ttl * (1 - self._renew_fraction):
            # Capped by the role's max_ttl: switch to new credentials rather than run into the wall.
            return None
        renewed = current.renewed(now, ttl)
        self._databases[current.role] = renewed
        log.debug("renewed database lease of role %s for %ss", current.role, ttl)
        return renewed

    def aws_session(self, role: str | None = None, *, region_name: str | None = None,
                    endpoint: str = "sts") -> boto3.Session:
        """A boto3 Session whose credentials come from `<aws_mount>/<endpoint>/<role>` and refresh themselves."""
        from agentiam.client.aws import vault_boto3_session  # boto3 only for agents that use AWS

        mount = self.settings.aws_mount
        if not mount:
            raise ConfigError("no AWS secrets mount configured (AgentSettings.aws_mount)")
        path = f"{mount}/{endpoint}/{role or self.settings.approle_role}"
        return vault_boto3_session(lambda: self._api.read_lease(self.token(), path), region_name=region_name,
                                   path=path)
