"""AWS side of the kill switch: an inline deny-all on the agent's IAM role for sessions issued before now.

STS credentials cannot be revoked individually (docs/revoke.md); this is what the console's "revoke active
sessions" does. Errors are mapped to ServerError naming the IAM call; a role this account does not have is told
apart (NOT FOUND) from one whose deny is already there.
"""

from __future__ import annotations

import json
import threading
from typing import Any
from urllib.parse import urlsplit

import botocore.exceptions  # light (~10 ms); boto3 and the client load in the step's thread

from agentiam.errors import ConfigError, ServerError
from agentiam.revoke import Outcome, StepResult

# An emergency command must answer: botocore's defaults (60 s connect and read timeouts, 5 attempts) let a hung
# IAM endpoint hold the report for minutes. IAM answers in well under a second; two attempts ride out a blip, and
# the run's deadline bounds the rest.
IAM_TIMEOUTS = {"connect_timeout": 3, "read_timeout": 5, "retries": {"mode": "standard", "total_max_attempts": 2}}


class _NoSuchRole(Exception):
    pass


class AwsRevoker:
    """IAM calls with the operator's credentials (standard boto3 chain; `endpoint_url` for tests).

    boto3 is imported and the client built on first use, in the step's own thread: the half second that costs
    runs while the Vault steps are already under way, not before them.
    """

    def __init__(self, *, endpoint_url: str | None = None, region_name: str | None = None):
        if endpoint_url is not None:
            parts = urlsplit(endpoint_url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ConfigError(f"--aws-endpoint-url {endpoint_url!r}: Invalid endpoint: {endpoint_url}")
        self._endpoint_url, self._region_name = endpoint_url, region_name
        self._client: Any = None
        self._lock = threading.Lock()

    @property
    def _iam(self) -> Any:
        with self._lock:
            if self._client is None:
                import boto3
                import botocore.config

                self._client = boto3.client("iam", endpoint_url=self._endpoint_url, region_name=self._region_name,
                                            config=botocore.config.Config(**IAM_TIMEOUTS))
            return self._client

    def attach_kill_switch(self, role_name: str, policy_name: str, policy: dict[str, Any],
                           unconditional: dict[str, Any]) -> StepResult:
        """iam:GetRolePolicy, then iam:PutRolePolicy `policy` unless an unconditional deny-all is already there.

        Read first, never blind: putting the conditional deny over the spec's unconditional one would weaken it.
        """
        try:
            existing = self._existing(role_name, policy_name)
        except _NoSuchRole:
            return StepResult(Outcome.NOT_FOUND, f"this AWS account has no IAM role {role_name}: credentials of "
                                                 "another account, or the stack was never applied")
        if existing == unconditional:
            # The spec's status already denies everything (components put it there): never weaken it.
            return StepResult(Outcome.ALREADY, "unconditional deny-all already attached (spec status)")
        self._put(role_name, policy_name, policy)
        cutoff = policy["Statement"][0]["Condition"]["DateLessThan"]["aws:TokenIssueTime"]
        if existing is not None:
            return StepResult(Outcome.ALREADY, f"kill switch was attached; cut-off moved to {cutoff}")
        return StepResult(Outcome.REVOKED, f"sessions issued before {cutoff} denied")

    def _existing(self, role_name: str, policy_name: str) -> dict[str, Any] | None:
        try:
            answer = self._iam.get_role_policy(RoleName=role_name, PolicyName=policy_name)
        except botocore.exceptions.ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            if code == "NoSuchEntity":
                # Either the policy or the role is missing; GetRole tells which.
                self._require_role(role_name)
                return None
            raise _server_error("iam:GetRolePolicy", role_name, exc) from exc
        except botocore.exceptions.BotoCoreError as exc:
            raise _server_error("iam:GetRolePolicy", role_name, exc) from exc
        document = answer["PolicyDocument"]
        return json.loads(document) if isinstance(document, str) else dict(document)

    def _require_role(self, role_name: str) -> None:
        try:
            self._iam.get_role(RoleName=role_name)
        except botocore.exceptions.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "NoSuchEntity":
                raise _NoSuchRole(role_name) from exc
            raise _server_error("iam:GetRole", role_name, exc) from exc
        except botocore.exceptions.BotoCoreError as exc:
            raise _server_error("iam:GetRole", role_name, exc) from exc

    def _put(self, role_name: str, policy_name: str, policy: dict[str, Any]) -> None:
        try:
            self._iam.put_role_policy(RoleName=role_name, PolicyName=policy_name, PolicyDocument=json.dumps(policy))
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
            raise _server_error("iam:PutRolePolicy", role_name, exc) from exc


def _server_error(call: str, role_name: str, exc: Exception) -> ServerError:
    if isinstance(exc, botocore.exceptions.ClientError):
        error = exc.response.get("Error", {})
        return ServerError(f"{call} on role {role_name}: {error.get('Code')}: {error.get('Message')}")
    return ServerError(f"{call} on role {role_name}: {exc}")
