"""CloudTrail records -> agent events (docs/facts.md#aws-cloudtrail).

An agent's calls carry `userIdentity.type = AssumedRole` and the agent's role as
`userIdentity.sessionContext.sessionIssuer.arn` (with its path and account); the secrets engine's `AssumeRole` call
names it in `requestParameters.roleArn`. The action is `<service prefix>:<eventName>`, with the few API names that
are not IAM action names mapped (`API_TO_ACTION`): what the grants are written in.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from agentiam.audit.identities import IdentityIndex, KnownAgent
from agentiam.audit.model import AgentEvent, Category, Recognised, Result, Source, parse_time, short_error

# eventSource host -> IAM service prefix, where they differ (the rest: the host's first label).
SERVICE_PREFIX = {"monitoring": "cloudwatch", "email": "ses", "tagging": "tag", "api.ecr": "ecr",
                  "api.mediatailor": "mediatailor", "api.sagemaker": "sagemaker", "runtime.sagemaker": "sagemaker",
                  "bedrock-runtime": "bedrock", "data.iot": "iot", "execute-api": "execute-api"}
# CloudTrail event names that are not the IAM action a grant names (IAM service authorization reference).
API_TO_ACTION = {
    "s3:HeadObject": "s3:GetObject", "s3:HeadBucket": "s3:ListBucket", "s3:ListObjects": "s3:ListBucket",
    "s3:ListObjectsV2": "s3:ListBucket", "s3:ListObjectVersions": "s3:ListBucketVersions",
    "s3:CreateMultipartUpload": "s3:PutObject", "s3:UploadPart": "s3:PutObject",
    "s3:CompleteMultipartUpload": "s3:PutObject", "s3:UploadPartCopy": "s3:PutObject",
    "s3:ListMultipartUploads": "s3:ListBucketMultipartUploads", "s3:ListParts": "s3:ListMultipartUploadParts",
    "s3:DeleteObjects": "s3:DeleteObject", "s3:GetBucketLocation": "s3:GetBucketLocation",
    "lambda:Invoke": "lambda:InvokeFunction",
}
# Lambda and CloudFront event names carry their API version: `UpdateFunctionCode20150331v2`.
_API_VERSION = re.compile(r"(?:\d{8}|\d{4}_\d{2}_\d{2})(?:v\d+)?$")
_DENIED_RESOURCE = re.compile(r" on resource: (\S+)")
_STS_ARN = re.compile(r"arn:aws[\w-]*:sts::(\d{12}):assumed-role/([\w+=,.@-]+)/")


@lru_cache(maxsize=8192)
def iam_action(event_source: str, event_name: str) -> str:
    """`s3.amazonaws.com`, `HeadObject` -> `s3:GetObject`."""
    host = event_source.removesuffix(".amazonaws.com")
    service = SERVICE_PREFIX.get(host, host.split(".")[0])
    action = f"{service}:{_API_VERSION.sub('', event_name) or event_name}"
    return API_TO_ACTION.get(action, action)


def _agent(record: dict[str, Any], index: IdentityIndex) -> tuple[KnownAgent | None, Recognised]:
    identity = record.get("userIdentity")
    if isinstance(identity, dict) and identity.get("type") == "AssumedRole":
        context = identity.get("sessionContext")
        issuer = context.get("sessionIssuer") if isinstance(context, dict) else None
        if isinstance(issuer, dict):
            known = index.by_role_arn.get(issuer.get("arn"))  # type: ignore[arg-type]
            if known is not None:
                return known, Recognised.ROLE_ARN
        arn = identity.get("arn")
        match = _STS_ARN.match(arn) if isinstance(arn, str) else None
        if match:  # the session ARN drops the role's path, but keeps the account
            known = index.by_account_role.get((match.group(1), match.group(2)))
            if known is not None:
                return known, Recognised.ROLE_ARN
    if record.get("eventName") == "AssumeRole":  # the caller (the secrets engine) is no agent; the role named is
        params = record.get("requestParameters")
        if isinstance(params, dict):
            known = index.by_role_arn.get(params.get("roleArn"))  # type: ignore[arg-type]
            if known is not None:
                return known, Recognised.ASSUMED_ROLE
    return None, Recognised.NONE


def _resource(record: dict[str, Any], error: str) -> str:
    """The record's first resource ARN; for a denied call, what the error message names."""
    resources = record.get("resources")
    if isinstance(resources, list):
        for item in resources:
            if isinstance(item, dict) and isinstance(item.get("ARN"), str):
                return item["ARN"]
    if error:
        match = _DENIED_RESOURCE.search(error)
        if match:
            return match.group(1)
    return ""


def is_denied(code: str) -> bool:
    """AWS' refusal codes: `AccessDenied`, `AccessDeniedException`, `Client.UnauthorizedOperation`..."""
    return code.startswith(("AccessDenied", "Client.AccessDenied")) or code.endswith("UnauthorizedOperation")


_ALLOWED, _DENIED, _ERROR = Result.ALLOWED, Result.DENIED, Result.ERROR
_AWS, _ACCESS, _CREDENTIALS = Source.AWS, Category.ACCESS, Category.CREDENTIALS


def cloudtrail_event(record: dict[str, Any], origin: str, index: IdentityIndex) -> AgentEvent | None:
    """The agent event of one CloudTrail record, or None when it is no agent's."""
    known, how = _agent(record, index)
    if known is None:
        return None
    when = parse_time(record.get("eventTime"))
    source, name = record.get("eventSource"), record.get("eventName")
    if when is None or type(source) is not str or type(name) is not str:
        return None
    code = record.get("errorCode")
    if not code:
        result, error = _ALLOWED, ""
    else:
        code = str(code)
        message = record.get("errorMessage")
        error = short_error(f"{code}: {message}" if message else code)
        result = _DENIED if is_denied(code) else _ERROR
    address = record.get("sourceIPAddress")
    event_id = record.get("eventID")
    credentials = how is Recognised.ASSUMED_ROLE
    # positional: keyword arguments to a slotted dataclass of this size cost several times more (bench_check.py)
    return AgentEvent(
        when, _AWS, _CREDENTIALS if credentials else _ACCESS, iam_action(source, name),
        known.plan.aws.role_arn if credentials else _resource(record, error), result, known.agent,
        known.environment, known.identity, how, address if type(address) is str else "", error, [origin],
        [event_id] if type(event_id) is str else [])
