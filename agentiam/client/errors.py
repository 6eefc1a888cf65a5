"""Errors the agent-side client raises: each names the Vault path that failed, never a credential."""

from __future__ import annotations

from agentiam.errors import ServerError


class VaultRequestError(ServerError):
    """A Vault request failed; `path` is the API path (e.g. `auth/agentiam-dev-approle/login`)."""

    def __init__(self, path: str, message: str):
        self.path = path
        super().__init__(f"{path}: {message}")


class VaultUnavailable(VaultRequestError):
    """Vault could not be reached (connection refused, timeout, TLS failure) or answered 5xx."""


class VaultSealed(VaultRequestError):
    """Vault is sealed: nothing can be read or logged in to until an operator unseals it."""


class PermissionDenied(VaultRequestError):
    """The token is valid but its policy does not allow the path (or the token was revoked / its entity disabled)."""


class LoginRefused(VaultRequestError):
    """A login was refused: wrong or missing certificate, wrong role id, used or expired secret id, disabled agent."""


class LeaseExpired(VaultRequestError):
    """A lease (dynamic credentials) no longer exists: expired or revoked; fetch new credentials."""


class NotFound(VaultRequestError):
    """The path does not exist (404): no such role, entity or lease prefix."""
