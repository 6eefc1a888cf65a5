"""Agent-side library: certificate + secret login to Vault, tokens kept alive, dynamic database and AWS credentials.

    from agentiam.client import AgentSession, AgentSettings

    with AgentSession(AgentSettings.from_env()) as vault:
        creds = vault.database("agent-prod-invoice-reader-billing-read")
        conn = psycopg.connect(**creds.connect_kwargs(host="billing-db", dbname="billing"))

What each error means and what the session does about it: docs/client.md.
"""

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
from agentiam.client.session import AgentSession, AgentSettings, TokenStatus

__all__ = ["AccessRefused", "AgentDisabled", "AgentSession", "AgentSettings", "DatabaseCredentials", "LeaseExpired",
           "LockedOut", "LoginRefused", "NotFound", "PermissionDenied", "RateLimited", "ServerStateLost",
           "TokenStatus", "UnknownRole", "VaultRequestError", "VaultSealed", "VaultTimeout", "VaultUnavailable"]
