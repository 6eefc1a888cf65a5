"""AWS side of `agentiam migrate`: IAM reads and the one write, deactivating an access key (never deleting it).

boto3 is imported here only, and this module only when a command asks AWS (tests/cli/test_import_isolation.py).
Every call has connect and read timeouts of seconds and at most two attempts (botocore's defaults, 60 s and 5
attempts, would let a hung endpoint hold the run for minutes), and none starts after the run's deadline. Errors are
`ServerError`s naming the IAM call and what it was about; a missing user or role is an answer (None), not an error.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import boto3
import botocore.config
import botocore.exceptions

from agentiam.errors import ConfigError, ServerError
from agentiam.migrate.legacy import AccessKey, LastUse

CONNECT_TIMEOUT = 3.0
ATTEMPTS = 2  # one retry rides out a blip; a down or hung endpoint then fails within seconds


class AwsLegacy:
    """IAM calls with the operator's credentials (standard boto3 chain; `endpoint_url` for tests)."""

    def __init__(self, *, endpoint_url: str | None = None, region_name: str | None = None, timeout: float = 10.0,
                 deadline: float | None = None):
        config = botocore.config.Config(connect_timeout=min(CONNECT_TIMEOUT, timeout), read_timeout=timeout,
                                        retries={"mode": "standard", "total_max_attempts": ATTEMPTS})
        try:
            self._iam = boto3.client("iam", endpoint_url=endpoint_url, region_name=region_name, config=config)
        except ValueError as exc:  # botocore: "Invalid endpoint: ..." for a URL without a scheme
            raise ConfigError(f"--aws-endpoint-url {endpoint_url!r}: {exc}") from exc
        self.endpoint = endpoint_url or "AWS IAM"
        self._deadline = deadline

    def _call(self, operation: str, target: str, **kwargs: Any) -> dict[str, Any] | None:
        """One IAM call; None when the entity does not exist (NoSuchEntity)."""
        action = "iam:" + "".join(part.capitalize() for part in operation.split("_"))
        if self._deadline is not None and time.monotonic() >= self._deadline:
            raise ServerError(f"{action} ({target}): the run's deadline passed before the call (--timeout)")
        try:
            return getattr(self._iam, operation)(**kwargs)
        except botocore.exceptions.ClientError as exc:
            error = exc.response.get("Error", {})
            if error.get("Code") == "NoSuchEntity":
                return None
            raise ServerError(f"{action} ({target}): {error.get('Code')}: {error.get('Message')}") from exc
        except botocore.exceptions.BotoCoreError as exc:  # unreachable, timed out, no credentials
            raise ServerError(f"{action} ({target}): {exc}") from exc

    def role_created(self, role_name: str) -> dt.datetime | None:
        """iam:GetRole: when the agent's own role was created (None: this account has no such role)."""
        answer = self._call("get_role", role_name, RoleName=role_name)
        return None if answer is None else answer["Role"]["CreateDate"]

    def access_keys(self, user: str) -> list[AccessKey] | None:
        """iam:ListAccessKeys, every page (ids and status, never a secret); None: no such user."""
        keys: list[AccessKey] = []
        marker: str | None = None
        while True:
            answer = self._call("list_access_keys", user, UserName=user, **({"Marker": marker} if marker else {}))
            if answer is None:
                return None
            keys += [AccessKey(str(k["AccessKeyId"]), str(k["Status"]), k.get("CreateDate"))
                     for k in answer.get("AccessKeyMetadata") or []]
            if not answer.get("IsTruncated"):
                return keys
            marker = answer.get("Marker")

    def last_used(self, key_id: str) -> LastUse:
        """iam:GetAccessKeyLastUsed: when, on which service and region (None: never used)."""
        answer = self._call("get_access_key_last_used", key_id, AccessKeyId=key_id) or {}
        used = answer.get("AccessKeyLastUsed") or {}
        return LastUse(used.get("LastUsedDate"), str(used.get("ServiceName") or ""), str(used.get("Region") or ""))

    def deactivate(self, user: str, key_id: str) -> None:
        """iam:UpdateAccessKey Status=Inactive (reversible: the key can be made Active again; it is never deleted)."""
        if self._call("update_access_key", f"{user}/{key_id}", UserName=user, AccessKeyId=key_id,
                      Status="Inactive") is None:
            raise ServerError(f"iam:UpdateAccessKey ({user}/{key_id}): the user or the key no longer exists")
