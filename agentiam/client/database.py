"""Dynamic database credentials as the agent receives them: connect kwargs / a connection string, password hidden."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode


@dataclass(frozen=True)
class DatabaseCredentials:
    """A PostgreSQL user Vault created for the agent, valid until its lease ends (or is revoked)."""

    role: str
    username: str
    password: str = field(repr=False)
    lease_id: str = field(repr=False)
    ttl: int  # seconds of the lease when obtained / last renewed
    renewable: bool
    obtained_at: float = field(repr=False)  # session clock
    expires_at: float = field(repr=False)
    generation: int = field(repr=False)  # the login that created the lease; the lease dies with that token

    def renewed(self, now: float, ttl: int) -> DatabaseCredentials:
        """The same credentials after a lease renewal."""
        return dataclasses.replace(self, ttl=ttl, obtained_at=now, expires_at=now + ttl)

    def connect_kwargs(self, *, host: str, port: int = 5432, dbname: str, **extra: Any) -> dict[str, Any]:
        """Keyword arguments for `psycopg.connect(**kwargs)`."""
        return {"host": host, "port": port, "dbname": dbname, "user": self.username, "password": self.password,
                **extra}

    def conninfo(self, *, host: str, port: int = 5432, dbname: str, **params: str) -> str:
        """A `postgresql://user:password@host:port/dbname?params` URL (user and password percent-encoded)."""
        query = f"?{urlencode(params)}" if params else ""
        return (f"postgresql://{quote(self.username, safe='')}:{quote(self.password, safe='')}"
                f"@{host}:{port}/{quote(dbname, safe='')}{query}")
