"""The Vault side of the kill switch decides "nothing left" only when Vault says so, never on an outage."""

from __future__ import annotations

from typing import Any

import pytest

from agentiam.client.errors import PermissionDenied, VaultRequestError, VaultSealed, VaultUnavailable
from agentiam.revoke import Outcome
from agentiam.revoke.vault_adapter import VaultRevoker

ENTITY = "agent-dev-invoice-reader"


class ScriptedApi:
    """Answers `call(method, path, json=...)` from a table; `lookup` decides per accessor what lookup-accessor does."""

    def __init__(self, lookup: dict[str, Any]):
        self.lookup = lookup
        self.revoked: list[str] = []

    def call(self, method: str, path: str, *, json: dict[str, Any] | None = None, **_: Any) -> dict[str, Any]:
        if path == f"identity/entity/name/{ENTITY}":
            return {"data": {"id": "entity-1"}}
        if path == "auth/token/accessors":
            return {"data": {"keys": sorted(self.lookup)}}
        assert json is not None
        if path == "auth/token/lookup-accessor":
            answer = self.lookup[json["accessor"]]
            if isinstance(answer, Exception):
                raise answer
            return {"data": {"entity_id": answer}}
        if path == "auth/token/revoke-accessor":
            self.revoked.append(json["accessor"])
            return {}
        raise AssertionError(f"unexpected call {method} {path}")

    def close(self) -> None:
        pass


def _revoker(api: ScriptedApi) -> VaultRevoker:
    revoker = VaultRevoker("https://vault.test", "operator-token")
    revoker._api = api  # type: ignore[assignment]
    return revoker


def test_a_token_that_vanished_between_list_and_lookup_is_skipped() -> None:
    api = ScriptedApi({"a-mine": "entity-1", "b-gone": VaultRequestError("auth/token/lookup-accessor",
                                                                        "invalid accessor"), "c-other": "entity-2"})
    result = _revoker(api).revoke_entity_tokens(ENTITY)
    assert (result.outcome, result.detail, api.revoked) == (Outcome.REVOKED, "1 token(s) revoked", ["a-mine"])


@pytest.mark.parametrize("error", [
    VaultUnavailable("auth/token/lookup-accessor", "cannot reach Vault at https://vault.test (ConnectionError)"),
    VaultSealed("auth/token/lookup-accessor", "Vault is sealed; an operator must unseal it"),
    PermissionDenied("auth/token/lookup-accessor", "permission denied"),
])
def test_an_outage_while_looking_tokens_up_fails_the_step_instead_of_saying_no_live_token(
        error: VaultRequestError) -> None:
    api = ScriptedApi({"a-unknown": error, "b-mine": "entity-1"})
    with pytest.raises(type(error)):
        _revoker(api).revoke_entity_tokens(ENTITY)
