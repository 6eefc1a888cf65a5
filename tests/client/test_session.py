"""AgentSession timing and composition over a scripted Vault: login order, renewal at 2/3, re-login before the max."""

from __future__ import annotations

import logging
import threading

import pytest

from agentiam.client import (
    AgentDisabled,
    AgentSession,
    AgentSettings,
    LoginRefused,
    NotFound,
    PermissionDenied,
    UnknownRole,
    VaultRequestError,
    VaultSealed,
    VaultUnavailable,
)
from agentiam.errors import ConfigError
from tests.client.fakes import Clock, FakeApi

SETTINGS = AgentSettings(vault_addr="https://vault.test:8200", client_cert="agent.pem", client_key="agent-key.pem",
                         cert_mount="cert", cert_role="agent-dev-x", approle_mount="approle",
                         approle_role="agent-dev-x", role_id="SECRET-ROLE-ID", database_mount="database")


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def api(clock: Clock) -> FakeApi:
    return FakeApi(clock)


@pytest.fixture
def session(api: FakeApi, clock: Clock) -> AgentSession:
    return AgentSession(SETTINGS, api=api, clock=clock)  # type: ignore[arg-type]


def test_login_is_certificate_then_wrapped_secret_id_then_approle_then_the_token_role(
        session: AgentSession, api: FakeApi, clock: Clock) -> None:
    assert session.token() == "hvs.SECRET-TOKEN-1"
    assert api.calls == ["cert_login", "wrapped_secret_id", "unwrap", "approle_login", "read_token_role",
                         "create_token"]
    # Both login tokens revoke themselves (the certificate token's last use); the working token is an orphan.
    assert api.revoked == {"hvs.SECRET-CERT-TOKEN", "hvs.SECRET-MINT-TOKEN"}
    # The explicit max comes from the role, since a role token's own lookup does not show it.
    assert session.status().max_expires_in == pytest.approx(api.max_ttl)


def test_the_token_is_renewed_at_two_thirds_of_its_ttl(session: AgentSession, api: FakeApi, clock: Clock) -> None:
    session.token()
    clock.now += 19
    session.token()
    assert not any(c.startswith("renew") for c in api.calls)
    clock.now += 1  # 20 s of 30
    assert session.token() == "hvs.SECRET-TOKEN-1"
    assert api.calls[-1] == "renew:hvs.SECRET-TOKEN-1"
    clock.now += 19
    session.token()
    assert api.calls.count("renew:hvs.SECRET-TOKEN-1") == 1


def test_it_logs_in_again_before_the_max_ttl_instead_of_renewing_past_it(
        session: AgentSession, api: FakeApi, clock: Clock) -> None:
    issued = clock.now
    seen = []
    while clock.now - issued < 300:
        token = session.token()
        status = session.status()
        # A token handed out always has life left, and never lives past its own max of 100 s.
        assert status.expires_in > 0
        assert clock.now - api.tokens[token] < 100
        seen.append(token)
        clock.now += 5
    assert len(set(seen)) >= 3, "several max TTLs crossed, so several logins"
    renewals = [c for c in api.calls if c.startswith("renew:")]
    assert renewals and {c.split(":", 1)[1] for c in renewals} <= set(seen)  # only tokens it handed out
    assert api.calls.count("cert_login") == len(set(seen))


def test_an_expired_token_is_replaced_by_a_fresh_login_not_renewed(
        session: AgentSession, api: FakeApi, clock: Clock) -> None:
    session.token()
    clock.now += 31  # the process slept past the TTL
    assert session.token() == "hvs.SECRET-TOKEN-2"
    assert not any(c.startswith("renew") for c in api.calls)


def test_a_refused_renewal_leads_to_a_fresh_login(session: AgentSession, api: FakeApi, clock: Clock) -> None:
    session.token()
    api.deny_renewal = True
    clock.now += 21
    assert session.token() == "hvs.SECRET-TOKEN-2"


def test_database_credentials_are_reused_renewed_and_replaced(session: AgentSession, api: FakeApi,
                                                              clock: Clock) -> None:
    api.ttl, api.max_ttl = 1000, 5000  # keep the token out of the way
    first = session.database("reader")
    assert session.database("reader") is first
    clock.now += 40  # 2/3 of the 60 s lease
    renewed = session.database("reader")
    assert api.calls.count("renew_lease") == 1 and renewed.username == first.username
    for _ in range(4):  # the lease max of 150 s caps renewals: then new credentials
        clock.now += 40
        latest = session.database("reader")
    assert latest.username != first.username
    assert [c for c in api.calls if c.startswith("read:")] == ["read:database/creds/reader"] * 2


def test_database_credentials_are_fetched_again_after_a_new_login(session: AgentSession, api: FakeApi,
                                                                  clock: Clock) -> None:
    first = session.database("reader")
    clock.now += 31  # token expired: new login, and leases die with the token that created them
    assert session.database("reader").username != first.username


def test_a_vanished_lease_is_replaced(session: AgentSession, api: FakeApi, clock: Clock) -> None:
    api.ttl, api.max_ttl = 1000, 5000
    first = session.database("reader")
    api.leases.clear()  # revoked by an operator
    clock.now += 41
    assert session.database("reader").username != first.username


def test_close_revokes_the_token(session: AgentSession, api: FakeApi) -> None:
    token = session.token()
    session.close()
    assert token in api.revoked and api.calls[-1] == "close"


def test_nothing_secret_in_reprs_or_logs(session: AgentSession, api: FakeApi, clock: Clock,
                                         caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="agentiam")
    api.ttl, api.max_ttl = 30, 60
    for _ in range(20):
        session.token()
        creds = session.database("reader")
        clock.now += 7
    session.close()
    text = caplog.text + repr(session) + repr(SETTINGS) + repr(creds) + repr(session.settings)
    assert "SECRET" not in text
    assert "accessor acc-1" in caplog.text  # accessors identify tokens in logs instead


def test_settings_from_env_name_the_missing_variable(tmp_path) -> None:  # type: ignore[no-untyped-def]
    role_id = tmp_path / "role-id"
    role_id.write_text("SECRET-ROLE-ID\n")
    env = {"VAULT_ADDR": "https://v:8200", "AGENTIAM_CLIENT_CERT": "c.pem", "AGENTIAM_CLIENT_KEY": "k.pem",
           "AGENTIAM_CERT_MOUNT": "cert", "AGENTIAM_CERT_ROLE": "r", "AGENTIAM_APPROLE_MOUNT": "approle",
           "AGENTIAM_APPROLE_ROLE": "r", "AGENTIAM_ROLE_ID_FILE": str(role_id)}
    settings = AgentSettings.from_env(env)
    assert settings.role_id == "SECRET-ROLE-ID" and settings.vault_addr == "https://v:8200"
    del env["AGENTIAM_CERT_ROLE"]
    with pytest.raises(ConfigError, match="AGENTIAM_CERT_ROLE"):
        AgentSettings.from_env(env)


def test_a_vault_sealed_mid_run_keeps_the_valid_token_then_fails_clearly_then_recovers(
        session: AgentSession, api: FakeApi, clock: Clock, caplog: pytest.LogCaptureFixture) -> None:
    token = session.token()
    api.down = VaultSealed("auth/token/renew-self", "Vault is sealed; an operator must unseal it")
    clock.now += 21  # renewal due, but the token has 9 s left: still handed out
    assert session.token() == token
    assert "could not refresh token acc-1, still valid for 9s" in caplog.text
    clock.now += 9  # expired while sealed: no token to give, and the error says why
    with pytest.raises(VaultSealed, match="Vault is sealed"):
        session.token()
    with pytest.raises(VaultSealed, match=r"next login attempt in 0\.[2-5]"):
        session.token()  # within the backoff after a failed login: no new attempt, the same error at once
    assert api.calls.count("cert_login") == 1
    api.down = None  # unsealed: the first call after the backoff logs in again
    clock.now += 0.5
    assert session.token() == "hvs.SECRET-TOKEN-2"


def test_concurrent_callers_and_the_keepalive_renew_once_not_once_each(
        session: AgentSession, api: FakeApi, clock: Clock) -> None:
    session.token()
    api.renew_delay = 0.05  # a slow renewal: every other thread arrives while it is in flight
    clock.now += 21
    callers = 8
    start = threading.Barrier(callers)
    tokens: list[str] = []

    def call() -> None:
        start.wait()
        tokens.append(session.token())

    threads = [threading.Thread(target=call) for _ in range(callers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert tokens == ["hvs.SECRET-TOKEN-1"] * callers
    assert api.calls.count("renew:hvs.SECRET-TOKEN-1") == 1 and api.calls.count("cert_login") == 1


def test_a_repr_never_logs_in(session: AgentSession, api: FakeApi) -> None:
    assert repr(session) == "AgentSession(role='agent-dev-x', token accessor='not logged in')"
    assert api.calls == []


@pytest.mark.parametrize(("step", "error", "expected", "says"), [
    ("read_token_role", NotFound("auth/token/roles/agent-dev-x", "not found", status=404), UnknownRole,
     "cannot read token role agent-dev-x"),
    ("read_token_role", PermissionDenied("auth/token/roles/agent-dev-x", "permission denied", status=403),
     UnknownRole, "applied by an agentiam without token roles"),
    ("create_role_token", PermissionDenied("auth/token/create/agent-dev-x", "permission denied", status=403),
     AgentDisabled, "may no longer create the working token"),
    ("create_role_token", VaultRequestError("auth/token/create/agent-dev-x", "invalid 'entity_alias' value",
                                            status=400), UnknownRole, "refuses to create the agent's token"),
])
def test_a_refused_token_role_step_stops_the_session_saying_why(
        session: AgentSession, api: FakeApi, monkeypatch: pytest.MonkeyPatch, step: str, error: Exception,
        expected: type[Exception], says: str) -> None:
    def refuse(*_: object, **__: object) -> None:
        raise error

    monkeypatch.setattr(api, step, refuse)
    with pytest.raises(expected, match=says):
        session.token()
    assert isinstance(session.refused, expected)  # permanent: later calls raise it without asking Vault
    calls = len(api.calls)
    with pytest.raises(expected):
        session.token()
    assert len(api.calls) == calls


def test_a_down_vault_while_creating_the_working_token_is_transient_not_a_refusal(
        session: AgentSession, api: FakeApi, monkeypatch: pytest.MonkeyPatch, clock: Clock) -> None:
    def down(*_: object, **__: object) -> None:
        raise VaultUnavailable("auth/token/create/agent-dev-x", "cannot reach Vault", status=None)

    monkeypatch.setattr(api, "create_role_token", down)
    with pytest.raises(VaultUnavailable):
        session.token()
    assert session.refused is None
    monkeypatch.undo()
    clock.now += 1
    assert session.token() == "hvs.SECRET-TOKEN-1"


def test_the_token_role_and_its_entity_alias_default_to_the_approle_roles_name() -> None:
    assert SETTINGS.token_role == "agent-dev-x"
    assert AgentSettings(**{**SETTINGS.__dict__, "token_role": "agent-dev-y"}).token_role == "agent-dev-y"


def test_a_mint_token_that_died_before_creating_the_working_token_is_retried_not_a_refusal(
        session: AgentSession, api: FakeApi, monkeypatch: pytest.MonkeyPatch, clock: Clock) -> None:
    """The process stalled past the mint token's 60 s (or an operator revoked the AppRole logins): its 403 is not the
    policy's, which a lookup of the mint token itself tells."""
    api.dead.add("hvs.SECRET-MINT-TOKEN")

    def refused(*_: object, **__: object) -> None:
        raise PermissionDenied("auth/token/create/agent-dev-x", "permission denied", status=403)

    monkeypatch.setattr(api, "create_role_token", refused)
    with pytest.raises(LoginRefused, match="the AppRole token expired or was revoked"):
        session.token()
    assert session.refused is None  # retried after the backoff, never given up for good
    monkeypatch.undo()
    api.dead.clear()
    clock.now += 1
    assert session.token() == "hvs.SECRET-TOKEN-1"
