"""Errors the agent-side client raises: each names the Vault path that failed, never a credential.

Three families, documented with what the session does in `docs/client.md`:
- transient (`VaultUnavailable`, `VaultTimeout`, `VaultSealed`, `RateLimited`): retried with backoff and jitter;
- per call (`PermissionDenied`, `LeaseExpired`, `NotFound`): that call failed, the session carries on;
- permanent (`AccessRefused` and its subclasses): Vault refuses the agent itself; the keep-alive stops and every
  later call raises the same error until the application calls `login()` again.
"""

from __future__ import annotations

import re

from agentiam.errors import ServerError

_MULTI = re.compile(r"^\d+ errors? occurred:$")


def one_line(message: str) -> str:
    """Vault's multi-error text (`1 error occurred:\\n\\t* permission denied\\n\\n`) on one line (`permission
    denied`): a table row or a log line must not break on a server's formatting."""
    parts = [line.strip().removeprefix("* ").strip() for line in str(message).splitlines()]
    return "; ".join(p for p in parts if p and not _MULTI.match(p))


class VaultRequestError(ServerError):
    """A Vault request failed; `path` is the API path (e.g. `auth/agentiam-dev-approle/login`)."""

    def __init__(self, path: str, message: str, *, status: int | None = None):
        self.path = path
        self.reason = one_line(message)
        self.status = status  # Vault's HTTP status when it answered (403 and 400 refusals mean different things)
        super().__init__(f"{path}: {self.reason}")


class VaultUnavailable(VaultRequestError):
    """Vault could not be reached (connection refused, reset, TLS failure) or answered 5xx. Transient."""


class VaultTimeout(VaultUnavailable):
    """Vault did not answer within the call's deadline (a hung or overloaded server). Transient."""


class VaultSealed(VaultRequestError):
    """Vault is sealed: nothing can be read or logged in to until an operator unseals it. Transient."""


class RateLimited(VaultRequestError):
    """Vault's rate-limit quota refused the request (HTTP 429). Transient: back off."""


class PermissionDenied(VaultRequestError):
    """The agent's policy does not allow the path: the token itself was checked and is valid."""


class LeaseExpired(VaultRequestError):
    """A lease (dynamic credentials) no longer exists: expired or revoked; fetch new credentials."""


class NotFound(VaultRequestError):
    """The path does not exist (404): no such role, entity or lease prefix."""


class LoginRefused(VaultRequestError):
    """A login was refused: wrong or missing certificate, wrong role id, used or expired secret id, disabled agent."""


class AccessRefused(LoginRefused):
    """Vault refuses this agent for good: retrying cannot help until an operator acts. The keep-alive stops."""


class AgentDisabled(AccessRefused):
    """The agent's identity entity is disabled: `agentiam revoke` ran, or its spec says suspended or revoked."""


class LockedOut(AccessRefused):
    """The AppRole mount locked the role id out after failed logins (a mount without agentiam's lockout setting)."""


class UnknownRole(AccessRefused):
    """This Vault does not know the agent's role: cert role or AppRole role missing, or the role id is not its own."""


class ServerStateLost(AccessRefused):
    """Vault no longer has the agent's auth mounts: a dev server restarted, a restore from before the agent, or
    another Vault behind the same address."""
