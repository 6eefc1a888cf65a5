"""AWS side of the live inventory: IAM reads with the standard boto3 credential chain.

Every call has botocore's connect and read timeouts set to the request timeout given and at most two attempts (the
defaults, 60 s and 5 attempts, would let a hung endpoint hold the scan for minutes). An endpoint that cannot be
reached or does not answer, or missing credentials, raises `Unreachable` (the rest of the AWS scan is skipped); a
refusal (AccessDenied) fails only the part that asked.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote

import boto3
import botocore.config
import botocore.exceptions

from agentiam.errors import ConfigError, ServerError
from agentiam.inventory.live import Unreachable

_UNREACHABLE = (botocore.exceptions.EndpointConnectionError, botocore.exceptions.ConnectTimeoutError,
                botocore.exceptions.ReadTimeoutError, botocore.exceptions.ConnectionClosedError,
                botocore.exceptions.NoCredentialsError, botocore.exceptions.PartialCredentialsError)


def _document(value: Any) -> Any:
    """IAM returns policy documents URL-encoded; boto3 usually decodes them to a dict already."""
    if isinstance(value, str):
        return json.loads(unquote(value))
    return value


class AwsReader:
    """IAM reads for `agentiam.inventory.live.Scan` (needs iam:List*, iam:Get* on roles, users and policies)."""

    def __init__(self, *, endpoint_url: str | None = None, region_name: str | None = None, timeout: float = 10.0):
        config = botocore.config.Config(connect_timeout=timeout, read_timeout=timeout,
                                        retries={"mode": "standard", "total_max_attempts": 2})
        try:
            self._iam = boto3.client("iam", endpoint_url=endpoint_url, region_name=region_name, config=config)
        except ValueError as exc:  # botocore: "Invalid endpoint: ..." for a URL without a scheme
            raise ConfigError(f"--aws-endpoint-url {endpoint_url!r}: {exc}") from exc
        self.endpoint: str | None = endpoint_url or "AWS IAM"

    def _call(self, operation: str, target: str, **kwargs: Any) -> dict[str, Any] | None:
        """One IAM call; None when the entity does not exist (NoSuchEntity)."""
        try:
            return getattr(self._iam, operation)(**kwargs)
        except _UNREACHABLE as exc:
            raise Unreachable(f"iam:{_action(operation)} ({target}): {exc}") from exc
        except botocore.exceptions.ClientError as exc:
            error = exc.response.get("Error", {})
            if error.get("Code") == "NoSuchEntity":
                return None
            raise ServerError(f"iam:{_action(operation)} ({target}): {error.get('Code')}: "
                              f"{error.get('Message')}") from exc
        except botocore.exceptions.BotoCoreError as exc:
            raise ServerError(f"iam:{_action(operation)} ({target}): {exc}") from exc

    def _pages(self, operation: str, key: str, target: str, **kwargs: Any) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        marker: str | None = None
        while True:
            answer = self._call(operation, target, **kwargs, **({"Marker": marker} if marker else {})) or {}
            items += answer.get(key) or []
            if not answer.get("IsTruncated"):
                return items
            marker = answer.get("Marker")

    def roles(self) -> list[dict[str, Any]]:
        """iam:ListRoles, every page (name, path, ARN; no tags or boundary: GetRole has those)."""
        return self._pages("list_roles", "Roles", "the account's roles")

    def role(self, name: str) -> dict[str, Any] | None:
        """iam:GetRole: boundary, max session, trust policy, tags."""
        answer = self._call("get_role", name, RoleName=name)
        if answer is None:
            return None
        role = dict(answer["Role"])
        if "AssumeRolePolicyDocument" in role:
            role["AssumeRolePolicyDocument"] = _document(role["AssumeRolePolicyDocument"])
        return role

    def role_policies(self, name: str) -> dict[str, dict[str, Any]]:
        """iam:ListRolePolicies, then iam:GetRolePolicy of each: inline policy name -> document."""
        names = [str(n) for n in (self._pages("list_role_policies", "PolicyNames", name, RoleName=name))]
        documents: dict[str, dict[str, Any]] = {}
        for policy in names:
            answer = self._call("get_role_policy", f"{name}/{policy}", RoleName=name, PolicyName=policy)
            if answer is not None:
                documents[policy] = _document(answer["PolicyDocument"])
        return documents

    def attached_policies(self, name: str) -> list[str]:
        """iam:ListAttachedRolePolicies: ARNs of the managed policies attached to the role."""
        return sorted(str(p["PolicyArn"]) for p in self._pages("list_attached_role_policies", "AttachedPolicies",
                                                                name, RoleName=name))

    def policy_document(self, arn: str) -> dict[str, Any] | None:
        """iam:GetPolicy, then iam:GetPolicyVersion of its default version."""
        policy = self._call("get_policy", arn, PolicyArn=arn)
        if policy is None:
            return None
        version = self._call("get_policy_version", arn, PolicyArn=arn,
                             VersionId=policy["Policy"]["DefaultVersionId"])
        return None if version is None else _document(version["PolicyVersion"]["Document"])

    def users(self) -> list[dict[str, Any]]:
        """iam:ListUsers, every page."""
        return self._pages("list_users", "Users", "the account's users")

    def access_keys(self, user: str) -> list[dict[str, Any]]:
        """iam:ListAccessKeys of one user (id, status, creation date; never the secret)."""
        return self._pages("list_access_keys", "AccessKeyMetadata", user, UserName=user)

    def key_last_used(self, user: str, key_id: str) -> dict[str, Any]:
        """iam:GetAccessKeyLastUsed: when and on which service."""
        answer = self._call("get_access_key_last_used", f"{user}/{key_id}", AccessKeyId=key_id) or {}
        return dict(answer.get("AccessKeyLastUsed") or {})


def _action(operation: str) -> str:
    """`get_role_policy` -> `GetRolePolicy` (the IAM action name a reader finds in CloudTrail and policies)."""
    return "".join(part.capitalize() for part in operation.split("_"))
