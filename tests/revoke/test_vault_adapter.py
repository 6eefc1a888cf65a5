"""The Vault side of the kill switch decides "nothing left" only when Vault says so, never on an outage, and
tells "this Vault does not know the agent" from "already revoked"."""

from __future__ import annotations

from typing import Any

import datetime as dt

import pytest

from agentiam.client.errors import NotFound, PermissionDenied, VaultRequestError, VaultSealed, VaultUnavailable
from agentiam.revoke import Outcome
from agentiam.revoke.vault_adapter import VaultRevoker

ENTITY = "agent-dev-invoice-reader"


class Scripted:
    """Answers `call(method, path, json=...)` from a dict of (method, path) -> answer or exception."""

    def __init__(self, answers: dict[tuple[str, str], Any]):
        self.answers = answers
        self.calls: list[tuple[str, str, Any]] = []

    def call(self, method: str, path: str, *, json: dict[str, Any] | None = None, **_: Any) -> dict[str, Any]:
        self.calls.append((method, path, json))
        answer = self.answers.get((method, path), {})
        if callable(answer) and not isinstance(answer, type):
            answer = answer(json)
        if isinstance(answer, Exception):
            raise answer
        return answer

    def close(self) -> None:
        pass


def _with(api: Scripted) -> VaultRevoker:
    revoker = VaultRevoker("https://vault.test", "operator-token")
    revoker._api = api  # type: ignore[assignment]
    return revoker


NO_ROUTE = NotFound("auth/x/role/r/secret-id", 'not found: no handler for route "auth/x/role/r/secret-id/". route '
                                               "entry not found.")


def test_an_unknown_entity_is_not_found_not_already_revoked() -> None:
    api = Scripted({("GET", f"identity/entity/name/{ENTITY}"): NotFound("identity/entity/name/x", "not found")})
    result = _with(api).disable_entity(ENTITY)
    assert result.outcome is Outcome.NOT_FOUND
    assert "this Vault (https://vault.test) has no identity entity" in result.detail


def test_a_missing_approle_role_or_mount_is_not_found_and_a_missing_mount_never_reads_as_empty() -> None:
    role = Scripted({("GET", "auth/m/role/r/role-id"): NotFound("auth/m/role/r/role-id", "not found")})
    assert _with(role).destroy_secret_ids("m", "r").outcome is Outcome.NOT_FOUND
    mount = Scripted({("LIST", "auth/m/role/r/secret-id"): NO_ROUTE})
    with pytest.raises(NotFound, match="no handler for route"):
        _with(mount).destroy_secret_ids("m", "r")


def test_a_secret_id_destroyed_by_a_concurrent_run_counts_as_done() -> None:
    # acc-2 is being destroyed by the other run: this run's destroy finds it gone, yet the next list still shows
    # it once (the other run's request in flight); the round after, it is gone from the list too.
    listed = iter([{"data": {"keys": ["acc-1", "acc-2"]}}, {"data": {"keys": ["acc-2"]}},
                   NotFound("auth/m/role/r/secret-id", "not found")])
    api = Scripted({
        ("LIST", "auth/m/role/r/secret-id"): lambda _json: next(listed),
        ("POST", "auth/m/role/r/secret-id-accessor/destroy"): lambda body: VaultRequestError(
            "auth/m/role/r/secret-id-accessor/destroy",
            '1 error occurred:\n\t* failed to find accessor entry for secret_id_accessor: "acc-2"\n\n')
        if body["secret_id_accessor"] == "acc-2" else {},
    })
    result = _with(api).destroy_secret_ids("m", "r")
    assert (result.outcome, result.detail) == (Outcome.REVOKED, "1 secret id(s) destroyed")


def test_a_missing_database_mount_is_not_found() -> None:
    api = Scripted({("GET", "sys/mounts/db"): VaultRequestError("sys/mounts/db", "No secret engine mount at db/")})
    result = _with(api).revoke_leases("db", "role")
    assert result.outcome is Outcome.NOT_FOUND and "has no secrets mount db" in result.detail


def _stamp(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.062034666Z")  # Vault's nanoseconds


@pytest.mark.parametrize(("expires_in", "renewed", "expected_until", "bound"), [
    (dt.timedelta(minutes=50), None, dt.timedelta(minutes=60, seconds=5), False),  # a live lease: its expiry, +5 s
    # Moved to "now" when its token died: a never-renewed password runs out at issue + default_ttl...
    (dt.timedelta(minutes=-9), None, dt.timedelta(hours=1, seconds=5), False),
    # ... a renewed one at most at issue + max_ttl.
    (dt.timedelta(minutes=-9), "2026-12-03T07:40:00Z", dt.timedelta(hours=8, seconds=5), True),
])
def test_a_lease_the_database_cannot_drop_is_failed_with_what_remains(
        expires_in: dt.timedelta, renewed: str | None, expected_until: dt.timedelta, bound: bool) -> None:
    lease = "db/creds/role/abc"
    issued = dt.datetime.now(dt.timezone.utc).replace(microsecond=0) - dt.timedelta(minutes=10)
    api = Scripted({
        ("LIST", "sys/leases/lookup/db/creds/role/"): {"data": {"keys": ["abc"]}},
        ("PUT", "sys/leases/revoke"): VaultRequestError("sys/leases/revoke", "failed to revoke entry: resp: (*logical."
                                                        "Response)(nil) err: dial tcp 127.0.0.1:5432: connect: "
                                                        "connection refused"),
        ("PUT", "sys/leases/lookup"): {"data": {"issue_time": _stamp(issued), "last_renewal": renewed,
                                                "expire_time": _stamp(issued + dt.timedelta(minutes=10) + expires_in)}},
        ("GET", "db/roles/role"): {"data": {"max_ttl": 8 * 3600, "default_ttl": 3600}},
    })
    result = _with(api).revoke_leases("db", "role")
    assert result.outcome is Outcome.FAILED
    assert result.detail.startswith("1 of 1 lease(s) not revoked, their database user(s) still exist: failed to "
                                    "revoke entry")
    (remaining,) = result.remaining
    stamp = "%Y-%m-%dT%H:%M:%SZ"
    assert (remaining.lease_id, remaining.role, remaining.issued) == (lease, "role", issued.strftime(stamp))
    assert remaining.expires == (issued + expected_until).strftime(stamp) and remaining.expires_is_bound is bound


ROLE = "agent-dev-invoice-reader"
PREFIX = f"auth/token/create/{ROLE}/"


def _role_tokens(before: list[str], after: list[str]) -> Scripted:
    """A Vault whose token role holds `before` lease ids, and `after` once revoke-prefix has run."""
    state = {"revoked": False}

    def revoke(_body: Any) -> dict[str, Any]:
        state["revoked"] = True
        return {}

    def listed(_body: Any) -> Any:
        keys = after if state["revoked"] else before
        if not keys:
            return NotFound(f"sys/leases/lookup/{PREFIX}", "not found")  # Vault: 404 for an empty list
        return {"data": {"keys": keys}}

    return Scripted({("GET", f"auth/token/roles/{ROLE}"): {"data": {"name": ROLE}},
                     ("LIST", f"sys/leases/lookup/{PREFIX}"): listed,
                     ("PUT", f"sys/leases/revoke-prefix/{PREFIX}"): revoke})


def test_the_agents_tokens_are_revoked_by_their_token_roles_lease_prefix_in_a_constant_number_of_calls() -> None:
    api = _role_tokens(before=["h1", "h2", "h3"], after=[])
    result = _with(api).revoke_role_tokens(ROLE)
    assert (result.outcome, result.detail) == (Outcome.REVOKED, "3 token(s) revoked")
    assert [(m, p) for m, p, _ in api.calls] == [
        ("GET", f"auth/token/roles/{ROLE}"), ("LIST", f"sys/leases/lookup/{PREFIX}"),
        ("PUT", f"sys/leases/revoke-prefix/{PREFIX}"), ("LIST", f"sys/leases/lookup/{PREFIX}")]
    assert PREFIX.endswith(f"{ROLE}/")  # agent-dev-x never reaches agent-dev-x-two's tokens


def test_no_token_left_is_already_revoked_and_the_prefix_is_revoked_anyway() -> None:
    api = _role_tokens(before=[], after=[])
    result = _with(api).revoke_role_tokens(ROLE)
    assert (result.outcome, result.detail) == (Outcome.ALREADY, "no live token")
    assert ("PUT", f"sys/leases/revoke-prefix/{PREFIX}", None) in api.calls  # one created since the list dies too


def test_a_token_still_listed_after_the_revocation_fails_the_step() -> None:
    with pytest.raises(VaultRequestError, match=r"1 token\(s\) still listed after the revocation"):
        _with(_role_tokens(before=["h1", "h2"], after=["h2"])).revoke_role_tokens(ROLE)


def test_a_vault_without_the_token_role_is_not_found_and_says_why_it_may_be() -> None:
    api = Scripted({("GET", f"auth/token/roles/{ROLE}"): NotFound(f"auth/token/roles/{ROLE}", "not found")})
    result = _with(api).revoke_role_tokens(ROLE)
    assert result.outcome is Outcome.NOT_FOUND
    assert f"has no token role {ROLE}" in result.detail and "without token roles" in result.detail
    assert len(api.calls) == 1  # nothing listed nor revoked on a Vault that does not know the agent


@pytest.mark.parametrize("error", [
    VaultUnavailable(f"sys/leases/revoke-prefix/{PREFIX}",
                     "cannot reach Vault at https://vault.test (ConnectionError)"),
    VaultSealed(f"sys/leases/revoke-prefix/{PREFIX}", "Vault is sealed; an operator must unseal it"),
    PermissionDenied(f"sys/leases/revoke-prefix/{PREFIX}", "permission denied"),
])
def test_an_outage_or_a_refused_operator_token_fails_the_step_never_reads_as_revoked(
        error: VaultRequestError) -> None:
    api = _role_tokens(before=["h1"], after=[])
    api.answers[("PUT", f"sys/leases/revoke-prefix/{PREFIX}")] = error
    with pytest.raises(type(error)):
        _with(api).revoke_role_tokens(ROLE)
