"""AWS credentials from a (fake) AWS secrets engine answer as a self-refreshing boto3 Session.

OpenBao has no AWS secrets engine (docs/facts.md#machines), so the engine's answer is scripted here.
"""

from __future__ import annotations

import datetime as dt

import pytest

from agentiam.client.aws import credential_metadata, vault_boto3_session
from agentiam.client.errors import VaultRequestError
from agentiam.client.vault import Lease


def _answer(n: int, ttl: int) -> Lease:
    # The engine's `sts`/`creds` answer for assumed_role: no renewable lease (docs/facts.md#vault-aws-engine).
    return Lease(lease_id=f"aws/sts/agent/{n}", ttl=ttl, renewable=False,
                 data={"access_key": f"ASIAFAKE{n}", "secret_key": f"secret-{n}", "session_token": f"token-{n}",
                       "arn": "arn:aws:sts::123456789012:assumed-role/agent-dev-x/vault"})


def test_the_session_uses_vault_credentials_and_refreshes_them_before_expiry() -> None:
    reads: list[int] = []

    def read() -> tuple[Lease, int]:
        reads.append(1)
        return _answer(len(reads), ttl=300), 1  # inside botocore's 15-minute refresh window: refresh on each use

    session = vault_boto3_session(read, region_name="eu-west-1")
    first = session.get_credentials().get_frozen_credentials()
    n = len(reads)
    assert (first.access_key, first.secret_key, first.token) == (f"ASIAFAKE{n}", f"secret-{n}", f"token-{n}")
    second = session.get_credentials().get_frozen_credentials()
    assert second.access_key != first.access_key and len(reads) >= 2
    assert session.region_name == "eu-west-1"
    assert session.get_credentials().method == "agentiam-vault"


def test_long_lived_credentials_are_not_fetched_again() -> None:
    reads: list[int] = []

    def read() -> tuple[Lease, int]:
        reads.append(1)
        return _answer(len(reads), ttl=3600), 1

    session = vault_boto3_session(read)
    credentials = session.get_credentials()
    for _ in range(3):
        assert credentials.get_frozen_credentials().access_key == "ASIAFAKE1"
    assert len(reads) == 1


def test_credentials_obtained_with_a_token_found_dead_are_fetched_again_before_the_next_use() -> None:
    dead: set[int] = set()
    generation = [1]
    reads: list[int] = []

    def read() -> tuple[Lease, int]:
        reads.append(generation[0])
        return _answer(len(reads), ttl=3600), generation[0]

    credentials = vault_boto3_session(read, lambda g: g not in dead).get_credentials()
    assert credentials.get_frozen_credentials().access_key == "ASIAFAKE1"
    dead.add(1)  # the session found token 1 revoked and logged in again (generation 2)
    generation[0] = 2
    assert credentials.get_frozen_credentials().access_key == "ASIAFAKE2"
    assert reads == [1, 2]


def test_a_refusal_while_fetching_reaches_the_aws_call_instead_of_old_credentials() -> None:
    from agentiam.client.errors import AgentDisabled

    answers: list[object] = [(_answer(1, ttl=3600), 1),
                             AgentDisabled("auth/cert/login", "the agent's identity is disabled")]

    def read() -> tuple[Lease, int]:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer  # type: ignore[return-value]

    alive = {1: True}
    credentials = vault_boto3_session(read, lambda g: alive[g]).get_credentials()
    credentials.get_frozen_credentials()
    alive[1] = False
    with pytest.raises(AgentDisabled):
        credentials.get_frozen_credentials()


def test_older_engines_security_token_field_is_accepted() -> None:
    lease = Lease("x", 900, False, {"access_key": "A", "secret_key": "S", "security_token": "T"})
    now = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    assert credential_metadata(lease, "aws/creds/x", now) == {
        "access_key": "A", "secret_key": "S", "token": "T", "expiry_time": "2026-01-01T00:15:00+00:00"}


def test_an_answer_without_sts_credentials_is_a_clear_error() -> None:
    with pytest.raises(VaultRequestError, match="aws/sts/x: .*without STS credentials"):
        credential_metadata(Lease("x", 900, False, {"access_key": "A"}), "aws/sts/x")
