"""CloudTrail records built in the documented format (docs/facts.md#aws-cloudtrail), and the three ways they
arrive: files as CloudTrail delivers them to S3, JSON lines, CloudWatch Logs subscription envelopes."""

from __future__ import annotations

import datetime as dt
import gzip
import itertools
import json
from typing import Any

HOSTS = {"cloudwatch": "monitoring", "ses": "email"}  # IAM prefix -> eventSource host, where they differ
_ids = itertools.count(1)


def stamp(moment: dt.datetime) -> str:
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def agent_call(role_arn: str, action: str, when: dt.datetime, *, resource: str | None = None,
               error: str | None = None, source_ip: str = "10.40.1.7",
               session: str = "vault-agent-1") -> dict[str, Any]:
    """A call made with STS credentials of `role_arn` (arn:aws:iam::ACCOUNT:role/PATH/NAME)."""
    account = role_arn.split(":")[4]
    name = role_arn.rsplit("/", 1)[1]
    service, _, event_name = action.partition(":")
    record: dict[str, Any] = {
        "eventVersion": "1.09",
        "userIdentity": {
            "type": "AssumedRole", "principalId": f"AROAEXAMPLE{next(_ids)}:{session}",
            "arn": f"arn:aws:sts::{account}:assumed-role/{name}/{session}", "accountId": account,
            "accessKeyId": "ASIAEXAMPLE",
            "sessionContext": {
                "sessionIssuer": {"type": "Role", "principalId": "AROAEXAMPLE", "arn": role_arn,
                                  "accountId": account, "userName": name},
                "attributes": {"creationDate": stamp(when - dt.timedelta(minutes=5)), "mfaAuthenticated": "false"}}},
        "eventTime": stamp(when), "eventSource": f"{HOSTS.get(service, service)}.amazonaws.com",
        "eventName": event_name, "awsRegion": "eu-west-1", "sourceIPAddress": source_ip,
        "userAgent": "Boto3/1.34.0", "requestParameters": {}, "responseElements": None,
        "requestID": f"REQ{next(_ids)}", "eventID": f"00000000-0000-4000-8000-{next(_ids):012d}",
        "readOnly": True, "eventType": "AwsApiCall", "managementEvent": False, "recipientAccountId": account,
        "eventCategory": "Data"}
    if resource is not None:
        record["resources"] = [{"type": "AWS::Resource", "ARN": resource, "accountId": account}]
    if error is not None:
        record["errorCode"] = error
        record["errorMessage"] = (f"User: arn:aws:sts::{account}:assumed-role/{name}/{session} is not authorized "
                                  f"to perform: {action} on resource: {resource or '*'} because no identity-based "
                                  f"policy allows the {action} action")
        record.pop("resources", None)
    return record


def human_call(account: str, when: dt.datetime, user: str = "maria.keller") -> dict[str, Any]:
    """An IAM user's call: no agent's."""
    return {"eventVersion": "1.09", "userIdentity": {"type": "IAMUser", "arn": f"arn:aws:iam::{account}:user/{user}",
                                                     "accountId": account, "userName": user},
            "eventTime": stamp(when), "eventSource": "s3.amazonaws.com", "eventName": "ListBuckets",
            "awsRegion": "eu-west-1", "sourceIPAddress": "198.51.100.7", "eventID": f"human-{next(_ids)}",
            "recipientAccountId": account, "eventType": "AwsApiCall"}


def assume_role(role_arn: str, principal_arn: str, when: dt.datetime) -> dict[str, Any]:
    """The secrets engine assuming the agent's role (a credential issued)."""
    account = role_arn.split(":")[4]
    return {"eventVersion": "1.09", "userIdentity": {"type": "AssumedRole", "arn": principal_arn + "/vault",
                                                     "accountId": account},
            "eventTime": stamp(when), "eventSource": "sts.amazonaws.com", "eventName": "AssumeRole",
            "requestParameters": {"roleArn": role_arn, "roleSessionName": "vault-agent-1"},
            "sourceIPAddress": "10.0.0.5", "eventID": f"assume-{next(_ids)}", "recipientAccountId": account,
            "eventType": "AwsApiCall"}


def delivery_file(records: list[dict[str, Any]]) -> bytes:
    """A CloudTrail log file as delivered to S3: one JSON document, gzip."""
    return gzip.compress(json.dumps({"Records": records}, separators=(",", ":")).encode())


def json_lines(records: list[dict[str, Any]]) -> bytes:
    return b"".join(json.dumps(r).encode() + b"\n" for r in records)


def subscription(records: list[dict[str, Any]], per_envelope: int = 3) -> bytes:
    """CloudWatch Logs subscription data as Firehose writes it to S3: gzip'd envelopes, run together."""
    out = b""
    for start in range(0, len(records), per_envelope):
        chunk = records[start:start + per_envelope]
        envelope = {"messageType": "DATA_MESSAGE", "owner": "111111111111", "logGroup": "/aws/cloudtrail/trail",
                    "logStream": "111111111111_CloudTrail_eu-west-1", "subscriptionFilters": ["agentiam"],
                    "logEvents": [{"id": str(i), "timestamp": 0, "message": json.dumps(r)}
                                  for i, r in enumerate(chunk)]}
        out += gzip.compress(json.dumps(envelope).encode())
    return out


def access_key_call(account: str, user: str, key_id: str, when: dt.datetime, *, source_ip: str,
                    action: str = "s3:ListBuckets", error: str | None = None) -> dict[str, Any]:
    """A call signed with an IAM user's long-term access key (how a shared service account shows)."""
    service, _, event_name = action.partition(":")
    record: dict[str, Any] = {
        "eventVersion": "1.09",
        "userIdentity": {"type": "IAMUser", "principalId": f"AIDAEXAMPLE{next(_ids)}",
                         "arn": f"arn:aws:iam::{account}:user/{user}", "accountId": account, "accessKeyId": key_id,
                         "userName": user},
        "eventTime": stamp(when), "eventSource": f"{HOSTS.get(service, service)}.amazonaws.com",
        "eventName": event_name, "awsRegion": "us-east-1", "sourceIPAddress": source_ip, "userAgent": "Boto3/1.34.0",
        "eventID": f"key-{next(_ids)}", "recipientAccountId": account, "eventType": "AwsApiCall"}
    if error is not None:
        record["errorCode"] = error
    return record
