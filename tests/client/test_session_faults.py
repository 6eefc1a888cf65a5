"""AgentSession under faults, over a scripted Vault: revoked tokens, permanent refusals, backoff, no blocking.

The same classes of fault run against the real servers in tests/integration/test_client_faults.py; here the
timing is exact (a manual clock) and every call Vault receives is counted.
"""

from __future__ import annotations

import random
import threading
import time

import pytest

from agentiam.client import AgentSession
from agentiam.client.errors import (
    AgentDisabled,
    LoginRefused,
    PermissionDenied,
    VaultTimeout,
    VaultUnavailable,
)
from agentiam.client.session import retry_delay
from tests.client.fakes import Clock, FakeApi
from tests.client.test_session import SETTINGS


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def api(clock: Clock) -> FakeApi:
    return FakeApi(clock, ttl=1800, max_ttl=7200)


@pytest.fixture
def session(api: FakeApi, clock: Clock) -> AgentSession:
    return AgentSession(SETTINGS, api=api, clock=clock, check_interval=10,  # type: ignore[arg-type]
                        rng=random.Random(3))


def test_a_revoked_token_is_noticed_within_the_check_interval_and_replaced_with_its_credentials(
        session: AgentSession, api: FakeApi, clock: Clock) -> None:
    token = session.token()
    creds = session.database("reader")
    api.dead.add(token)  # an operator revoked the token: its leases (the database user) died with it
    clock.now += 5
    assert session.token() == token, "not yet checked: within the check interval the token is trusted"
    assert session.database("reader") is creds
    clock.now += 5  # 10 s after the login: lookup-self says the token is gone
    fresh = session.token()
    assert fresh != token and session.status().generation == 2
    again = session.database("reader")
    assert again.username != creds.username, "credentials of a dropped user were handed out"


def test_a_403_with_a_valid_token_is_the_policy_and_costs_no_login(session: AgentSession, api: FakeApi) -> None:
    session.token()
    api.denied_paths.add("secret/data/other-team/x")
    with pytest.raises(PermissionDenied, match="denied by the agent's policy \\(its token is valid\\)"):
        session.read("secret/data/other-team/x")
    assert api.calls.count("cert_login") == 1


def test_a_403_with_a_revoked_token_triggers_one_fresh_login_and_the_read_succeeds(
        session: AgentSession, api: FakeApi) -> None:
    token = session.token()
    api.dead.add(token)
    assert session.read("database/creds/reader")["username"].startswith("v-user-")
    assert api.calls.count("cert_login") == 2
    assert session.token() != token


def test_a_disabled_agent_raises_agent_disabled_at_once_everywhere_and_vault_is_asked_no_more(
        session: AgentSession, api: FakeApi, clock: Clock) -> None:
    session.token()
    session.database("reader")
    api.disabled = True  # agentiam revoke: entity disabled; every token refused, certificate login refused
    clock.now += 10
    with pytest.raises(AgentDisabled, match="identity is disabled"):
        session.token()
    calls = len(api.calls)
    for call in (session.token, lambda: session.database("reader"), lambda: session.read("secret/data/x")):
        with pytest.raises(AgentDisabled):
            call()
    assert len(api.calls) == calls, "a refused agent keeps asking Vault"
    assert isinstance(session.refused, AgentDisabled)
    api.disabled = False  # re-activated: only an explicit login() tries again
    assert session.login().generation == 2


def test_the_keepalive_stops_on_a_permanent_refusal(api: FakeApi, clock: Clock) -> None:
    session = AgentSession(SETTINGS, api=api, check_interval=0.05)  # type: ignore[arg-type]  # real clock
    session.token()
    session.start_keepalive(interval=0.02)
    api.disabled = True
    thread = session._keepalive
    assert thread is not None
    thread.join(timeout=5)
    assert not thread.is_alive()
    assert isinstance(session.refused, AgentDisabled)
    assert api.calls.count("cert_login") == 2  # the login that told: no retries after it
    session.close()


def test_a_down_vault_is_retried_with_growing_jittered_delays_not_on_every_call(
        session: AgentSession, api: FakeApi, clock: Clock) -> None:
    api.down = VaultUnavailable("auth/cert/login", "cannot reach Vault at https://vault.test (ConnectionError)")
    attempts_at: list[float] = []
    real_login = api.cert_login

    def counting(*args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        attempts_at.append(clock.now)
        return real_login(*args, **kwargs)  # type: ignore[arg-type]

    api.cert_login = counting  # type: ignore[method-assign]
    for _ in range(600):  # 60 s of an agent calling database() ten times a second
        with pytest.raises(VaultUnavailable):
            session.database("reader")
        clock.now += 0.1
    gaps = [b - a for a, b in zip(attempts_at, attempts_at[1:], strict=False)]
    assert 5 <= len(attempts_at) <= 12, attempts_at  # not 600
    assert all(later >= earlier * 0.9 for earlier, later in zip(gaps, gaps[1:], strict=False) if later < 14), gaps
    api.down = None
    clock.now += 30
    assert session.database("reader").username.startswith("v-user-")


def test_retry_delays_double_up_to_the_cap_with_half_of_each_random() -> None:
    rng = random.Random(1)
    for failures, full in ((1, 0.5), (2, 1.0), (3, 2.0), (7, 30.0), (20, 30.0)):
        delays = [retry_delay(failures, rng) for _ in range(200)]
        assert min(delays) >= full / 2 and max(delays) <= full
        assert max(delays) - min(delays) > full / 4  # jittered, not one value


def test_a_thread_with_a_usable_token_never_waits_for_another_threads_slow_renewal(
        session: AgentSession, api: FakeApi, clock: Clock) -> None:
    session.token()
    clock.now += 1201  # renewal due (2/3 of 1800 s), token still valid
    api.renew_delay = 1.0  # Vault takes a second to answer the renewal
    renewing = threading.Thread(target=session.token)
    renewing.start()
    time.sleep(0.1)  # the renewal is in flight
    started = time.monotonic()
    assert session.token() == "hvs.SECRET-TOKEN-1"
    assert time.monotonic() - started < 0.2
    renewing.join()


def test_a_thread_without_a_token_gives_up_at_its_deadline_while_another_login_hangs(
        api: FakeApi, clock: Clock) -> None:
    session = AgentSession(SETTINGS, api=api, clock=clock)  # type: ignore[arg-type]
    entered, release = threading.Event(), threading.Event()
    real_login = api.cert_login

    def hung_login(*args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        entered.set()
        release.wait(5)
        return real_login(*args, **kwargs)  # type: ignore[arg-type]

    api.cert_login = hung_login  # type: ignore[method-assign]
    first = threading.Thread(target=session.token)
    first.start()
    entered.wait(5)
    started = time.monotonic()
    with pytest.raises(VaultTimeout, match="did not finish before this call's deadline"):
        session.token(timeout=0.3)
    assert 0.25 <= time.monotonic() - started < 1.0
    release.set()
    first.join()
    assert session.token() == "hvs.SECRET-TOKEN-1"


def test_an_unexplained_login_refusal_backs_off_but_does_not_end_the_session(
        session: AgentSession, api: FakeApi, clock: Clock) -> None:
    def intercepted(wrapping_token: str, **_: object) -> str:
        raise LoginRefused("sys/wrapping/unwrap", "login refused: wrapping token is not valid or does not exist")

    real = api.unwrap_secret_id
    api.unwrap_secret_id = intercepted  # type: ignore[method-assign]
    with pytest.raises(LoginRefused, match="wrapping token is not valid"):
        session.token()
    assert session.refused is None
    api.unwrap_secret_id = real  # type: ignore[method-assign]
    clock.now += 1
    assert session.token() == "hvs.SECRET-TOKEN-1"
