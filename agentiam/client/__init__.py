"""Agent-side library: certificate + secret login to Vault, tokens kept alive, dynamic database and AWS credentials.

    from agentiam.client import AgentSession, AgentSettings

    with AgentSession(AgentSettings.from_env()) as vault:
        creds = vault.database("agent-prod-invoice-reader-billing-read")
        conn = psycopg.connect(**creds.connect_kwargs(host="billing-db", dbname="billing"))
"""

from agentiam.client.database import DatabaseCredentials
from agentiam.client.errors import (
    LeaseExpired,
    LoginRefused,
    PermissionDenied,
    VaultRequestError,
    VaultSealed,
    VaultUnavailable,
)
from agentiam.client.session import AgentSession, AgentSettings, TokenStatus

__all__ = ["AgentSession", "AgentSettings", "DatabaseCredentials", "LeaseExpired", "LoginRefused",
           "PermissionDenied", "TokenStatus", "VaultRequestError", "VaultSealed", "VaultUnavailable"]
