"""AGT012 / AGT015: the STS session ceiling depends on what Vault's AWS secrets engine runs as."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from agentiam.environment.load import load_environment
from agentiam.rules import credential_lifetimes
from agentiam.rules.base import SpecContext
from agentiam.spec.validate import load_spec_bytes

STACKS = Path(__file__).resolve().parents[2] / "stacks"
SPEC = b"""\
spec_version: 1
name: long-sessions
description: Reads data for long batch runs.
owner: {team: platform, sponsor: jane.doe@example.com, contact: "#platform"}
function: data-retrieval
environments: [dev]
expires: 2099-01-01
credentials: {aws_session_ttl: 12h}
permissions:
  aws:
    - sid: read-data
      actions: [s3:GetObject]
      resources: ["arn:aws:s3:::platform-{env}-data/*"]
"""


def findings(principal: str) -> list[str]:
    dev = load_environment(STACKS, "dev")
    env = dev.model_copy(update={"aws_secrets_engine_principal_arn": principal})
    loaded, problems = load_spec_bytes("long-sessions.yaml", SPEC)
    assert loaded is not None, problems
    ctx = SpecContext(loaded, {"dev": env}, dt.date(2026, 12, 1))
    rules = (credential_lifetimes.AWS_SESSION_TTL, credential_lifetimes.ROLE_CHAINING)
    return [f.rule_id for rule in rules for f in rule.check(rule, ctx)]


def test_an_engine_with_user_credentials_may_issue_twelve_hour_sessions():
    assert findings("arn:aws:iam::111111111111:user/vault-aws-secrets-engine") == []


def test_an_engine_running_on_a_role_is_capped_at_one_hour_by_role_chaining():
    assert findings("arn:aws:iam::111111111111:role/vault-aws-secrets-engine") == ["AGT015"]
    assert findings("arn:aws:sts::111111111111:assumed-role/vault/i-0abc") == ["AGT015"]
