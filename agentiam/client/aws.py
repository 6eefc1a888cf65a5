"""AWS credentials from Vault's AWS secrets engine as a boto3 Session that refreshes them before they expire.

STS credentials have no revocable lease (FACTS.md): the session simply asks Vault again when botocore's
refresh window opens (15 minutes before expiry, mandatory at 10), with the agent's current token.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING

import boto3
import botocore.credentials
import botocore.session

from agentiam.client.errors import VaultRequestError

if TYPE_CHECKING:
    from agentiam.client.vault import Lease

METHOD = "agentiam-vault"


def credential_metadata(lease: Lease, path: str, now: dt.datetime | None = None) -> dict[str, str]:
    """botocore's refresh metadata from an AWS engine response (`access_key`, `secret_key`, session token)."""
    data = lease.data
    token = data.get("session_token") or data.get("security_token")
    if not data.get("access_key") or not data.get("secret_key") or not token:
        raise VaultRequestError(path, "the AWS secrets engine answered without STS credentials")
    ttl = lease.ttl or int(data.get("ttl") or 0)
    if ttl <= 0:
        raise VaultRequestError(path, "the AWS secrets engine answered without a lifetime for the credentials")
    issued = now or dt.datetime.now(dt.timezone.utc)
    return {"access_key": str(data["access_key"]), "secret_key": str(data["secret_key"]), "token": str(token),
            "expiry_time": (issued + dt.timedelta(seconds=ttl)).isoformat()}


class _VaultCredentialProvider(botocore.credentials.CredentialProvider):
    METHOD = METHOD
    CANONICAL_NAME = METHOD

    def __init__(self, fetch: Callable[[], dict[str, str]]):
        super().__init__()
        self._fetch = fetch

    def load(self) -> botocore.credentials.RefreshableCredentials:
        return botocore.credentials.RefreshableCredentials.create_from_metadata(
            metadata=self._fetch(), refresh_using=self._fetch, method=METHOD)


def vault_boto3_session(read: Callable[[], Lease], *, region_name: str | None = None,
                        path: str = "aws") -> boto3.Session:
    """A boto3 Session using only Vault-issued credentials: `read()` returns the engine's answer."""

    def fetch() -> dict[str, str]:
        return credential_metadata(read(), path)

    core = botocore.session.get_session()
    # Only Vault: a resolver without the default chain, so stray env/instance credentials are never used.
    core.register_component("credential_provider",
                            botocore.credentials.CredentialResolver([_VaultCredentialProvider(fetch)]))
    return boto3.Session(botocore_session=core, region_name=region_name)
