"""The AWS side of `agentiam doctor`: read-only IAM and STS calls, boto3 loaded only when the command runs.

botocore's defaults (60 s timeouts, several attempts) would let a hung endpoint hold the preflight for minutes:
a few seconds and two attempts per call, and the run's deadline bounds the loops over agents.
"""

from __future__ import annotations

import json
import threading
from typing import Any
from urllib.parse import unquote, urlsplit

from agentiam.deploy.doctor import AwsUnreachable
from agentiam.errors import ConfigError, ServerError

AWS_TIMEOUTS = {"connect_timeout": 3, "read_timeout": 5, "retries": {"mode": "standard", "total_max_attempts": 2}}


class DoctorAws:
    """`agentiam.deploy.doctor.AwsReader` with the standard credential chain (`endpoint_url`: a moto server)."""

    def __init__(self, *, region: str, endpoint_url: str | None = None):
        if endpoint_url is not None:
            parts = urlsplit(endpoint_url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ConfigError(f"--aws-endpoint-url {endpoint_url!r}: expected http(s)://host[:port]")
        self._region, self._endpoint_url = region, endpoint_url
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()

    def _client(self, service: str) -> Any:
        with self._lock:
            if service not in self._clients:
                import boto3
                import botocore.config

                self._clients[service] = boto3.client(service, region_name=self._region,
                                                      endpoint_url=self._endpoint_url,
                                                      config=botocore.config.Config(**AWS_TIMEOUTS))
            return self._clients[service]

    def _call(self, service: str, operation: str, **kwargs: Any) -> dict[str, Any]:
        import botocore.exceptions

        try:
            return dict(getattr(self._client(service), operation)(**kwargs))
        except botocore.exceptions.ClientError as exc:
            error = exc.response.get("Error", {})
            raise _Refused(str(error.get("Code")), f"{service}:{_action(operation)}: {error.get('Code')}: "
                                                   f"{error.get('Message')}") from exc
        except (botocore.exceptions.EndpointConnectionError, botocore.exceptions.ConnectTimeoutError,
                botocore.exceptions.ReadTimeoutError, botocore.exceptions.ConnectionClosedError) as exc:
            raise AwsUnreachable(f"{service}:{_action(operation)}: AWS did not answer ({type(exc).__name__})") \
                from exc
        except botocore.exceptions.NoCredentialsError as exc:
            raise AwsUnreachable(f"{service}:{_action(operation)}: no AWS credentials found") from exc
        except botocore.exceptions.BotoCoreError as exc:
            raise ServerError(f"{service}:{_action(operation)}: {exc}") from exc

    def caller_account(self) -> str:
        """sts:GetCallerIdentity."""
        return str(self._call("sts", "get_caller_identity")["Account"])

    def principal_policies(self, arn: str) -> list[dict[str, Any]] | None:
        """The identity policies of a role or user (inline and attached); None if it does not exist.

        iam:GetRole / GetUser, List(Role|User)Policies + Get(Role|User)Policy, ListAttached(Role|User)Policies +
        GetPolicy + GetPolicyVersion."""
        kind, _, name = arn.split(":", 5)[5].partition("/")
        name = name.rsplit("/", 1)[-1]
        noun = "role" if kind == "role" else "user"
        key = "RoleName" if noun == "role" else "UserName"
        try:
            self._call("iam", f"get_{noun}", **{key: name})
        except _Refused as exc:
            if exc.code == "NoSuchEntity":
                return None
            raise
        documents = []
        for policy in self._call("iam", f"list_{noun}_policies", **{key: name}).get("PolicyNames", []):
            documents.append(_document(self._call("iam", f"get_{noun}_policy", **{key: name},
                                                  PolicyName=policy)["PolicyDocument"]))
        for attached in self._call("iam", f"list_attached_{noun}_policies", **{key: name}).get("AttachedPolicies", []):
            version = self._call("iam", "get_policy", PolicyArn=attached["PolicyArn"])["Policy"]["DefaultVersionId"]
            documents.append(_document(self._call("iam", "get_policy_version", PolicyArn=attached["PolicyArn"],
                                                  VersionId=version)["PolicyVersion"]["Document"]))
        return documents

    def role_policy(self, role: str, name: str) -> tuple[bool, dict[str, Any] | None]:
        """iam:GetRolePolicy; on NoSuchEntity iam:GetRole tells a missing policy from a missing role."""
        try:
            return True, _document(self._call("iam", "get_role_policy", RoleName=role, PolicyName=name)
                                   ["PolicyDocument"])
        except _Refused as exc:
            if exc.code != "NoSuchEntity":
                raise
        try:
            self._call("iam", "get_role", RoleName=role)
        except _Refused as exc:
            if exc.code == "NoSuchEntity":
                return False, None
            raise
        return True, None


class _Refused(ServerError):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


def _action(operation: str) -> str:
    return "".join(part.capitalize() for part in operation.split("_"))


def _document(value: Any) -> dict[str, Any]:
    """IAM returns policy documents URL-encoded; botocore sometimes decodes them already."""
    if isinstance(value, dict):
        return value
    return dict(json.loads(unquote(str(value))))
