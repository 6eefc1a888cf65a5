"""AWS credentials from Vault's AWS secrets engine as a boto3 Session that refreshes them before they expire.

STS credentials have no revocable lease (docs/revoke.md): the session asks Vault again when botocore's refresh
window opens (15 minutes before expiry, mandatory at 10), with the agent's current token, and at once when the
token they were obtained with was found revoked: the next AWS call then fails with the session's refusal instead
of going out with credentials the agent should no longer hold (the IAM kill switch denies them anyway).
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


class VaultCredentials(botocore.credentials.RefreshableCredentials):
    """Refreshable credentials that also count as expired once the Vault token they came with is known dead."""

    alive: Callable[[], bool] = staticmethod(lambda: True)  # set by the provider

    def refresh_needed(self, refresh_in: int | None = None) -> bool:
        if not self.alive():
            return True  # botocore then refreshes in its mandatory mode: a failure reaches the AWS call
        return bool(super().refresh_needed(refresh_in))


class _VaultCredentialProvider(botocore.credentials.CredentialProvider):
    METHOD = METHOD
    CANONICAL_NAME = METHOD

    def __init__(self, read: Callable[[], tuple[Lease, int]], alive: Callable[[int], bool], path: str):
        super().__init__()
        self._read = read
        self._alive = alive
        self._path = path
        self._generation = 0

    def _fetch(self) -> dict[str, str]:
        lease, self._generation = self._read()
        return credential_metadata(lease, self._path)

    def load(self) -> VaultCredentials:
        credentials = VaultCredentials.create_from_metadata(metadata=self._fetch(), refresh_using=self._fetch,
                                                            method=METHOD)
        credentials.alive = lambda: self._alive(self._generation)
        return credentials


def vault_boto3_session(read: Callable[[], tuple[Lease, int]], alive: Callable[[int], bool] = lambda _g: True, *,
                        region_name: str | None = None, path: str = "aws") -> boto3.Session:
    """A boto3 Session using only Vault-issued credentials.

    `read()` returns the engine's answer and the login generation of the token that read it; `alive(generation)`
    says whether that token is still honoured.
    """
    core = botocore.session.get_session()
    # Only Vault: a resolver without the default chain, so stray env/instance credentials are never used.
    core.register_component("credential_provider",
                            botocore.credentials.CredentialResolver([_VaultCredentialProvider(read, alive, path)]))
    return boto3.Session(botocore_session=core, region_name=region_name)
