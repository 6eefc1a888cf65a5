"""The hvac adapter: errors mapped to the project's with the path, retries only where a retry is safe."""

from __future__ import annotations

import http.server
import random
import threading
from collections.abc import Iterator

import hvac.exceptions
import pytest

from agentiam.client import LeaseExpired, LoginRefused, PermissionDenied, VaultSealed, VaultUnavailable
from agentiam.client.errors import NotFound, RateLimited
from agentiam.client.vault import Backoff, Login, VaultApi, _mapped, _storage_conflict
from agentiam.errors import ConfigError, ServerError
from tests.servers import free_port


@pytest.mark.parametrize(("error", "login", "lease", "expected"), [
    (hvac.exceptions.VaultDown("Vault is sealed", errors=["Vault is sealed"]), False, False, VaultSealed),
    (hvac.exceptions.VaultDown("standby", errors=["standby"]), False, False, VaultUnavailable),
    (hvac.exceptions.InternalServerError("boom", errors=["boom"]), False, False, VaultUnavailable),
    (hvac.exceptions.Forbidden("permission denied", errors=["permission denied"]), False, False, PermissionDenied),
    (hvac.exceptions.Forbidden("permission denied", errors=["permission denied"]), True, False, LoginRefused),
    (hvac.exceptions.InvalidRequest("invalid secret id", errors=["invalid secret id"]), True, False, LoginRefused),
    (hvac.exceptions.InvalidRequest("lease not found", errors=["lease not found"]), False, True, LeaseExpired),
    (hvac.exceptions.InvalidPath(None, errors=[]), False, False, NotFound),
    (hvac.exceptions.RateLimitExceeded("quota", errors=["quota"]), False, False, RateLimited),
    (hvac.exceptions.RateLimitExceeded("quota", errors=["quota"]), True, False, RateLimited),
])
def test_hvac_errors_become_project_errors_naming_the_path(error: hvac.exceptions.VaultError, login: bool,
                                                           lease: bool, expected: type) -> None:
    mapped = _mapped(error, "auth/approle/login", login=login, lease=lease)
    assert type(mapped) is expected
    assert isinstance(mapped, ServerError)
    assert str(mapped).startswith("auth/approle/login: ") and mapped.path == "auth/approle/login"


def test_idempotent_calls_are_retried_with_jittered_backoff_then_fail_clearly() -> None:
    slept: list[float] = []
    address = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    api = VaultApi(address, backoff=Backoff(attempts=4, base=0.2, cap=5.0), sleep=slept.append,
                   rng=random.Random(7))
    with pytest.raises(VaultUnavailable, match=f"auth/token/lookup-self: cannot reach Vault at {address}"):
        api.lookup_self("hvs.x")
    assert len(slept) == 3
    assert all(0 <= d <= cap for d, cap in zip(slept, (0.2, 0.4, 0.8), strict=True))


def test_single_use_material_is_never_re_sent() -> None:
    slept: list[float] = []
    api = VaultApi(f"http://127.0.0.1:{free_port()}", sleep=slept.append)
    with pytest.raises(VaultUnavailable):
        api.approle_login("approle", "role", "secret")
    with pytest.raises(VaultUnavailable):
        api.unwrap_secret_id("wrapping")
    with pytest.raises(VaultUnavailable):
        api.wrapped_secret_id("cert-token", "approle", "role", 60)
    assert slept == []


def test_backoff_delays_grow_and_are_capped() -> None:
    delays = list(Backoff(attempts=8, base=1.0, cap=4.0).delays(random.Random(1)))
    assert len(delays) == 7 and max(delays) <= 4.0 and min(delays) >= 0.0


def test_login_repr_hides_the_token() -> None:
    login = Login("hvs.SECRET", "accessor-1", 60, True, ("p",), "e")
    assert "SECRET" not in repr(login) and "accessor-1" in repr(login)


@pytest.mark.parametrize("address", ["vault.internal:8200", "http://[::1", "https://vault:port", "ftp://vault"])
def test_an_address_that_is_not_an_http_url_is_a_config_error_up_front(address: str) -> None:
    with pytest.raises(ConfigError, match="is not an http\\(s\\):// URL"):
        VaultApi(address)


def test_a_redirect_loop_is_one_clear_error_naming_the_path_and_not_the_token() -> None:
    # A misconfigured proxy: requests gives up with TooManyRedirects, which is no ConnectionError.
    class Proxy(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            self.send_response(302)
            self.send_header("Location", self.path)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Proxy)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        address = f"http://127.0.0.1:{server.server_address[1]}"
        slept: list[float] = []
        with pytest.raises(VaultUnavailable) as raised:
            VaultApi(address, sleep=slept.append).lookup_self("hvs.SECRET-TOKEN")
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
    assert str(raised.value) == f"auth/token/lookup-self: bad answer from Vault at {address} (TooManyRedirects)"
    assert "SECRET" not in repr(raised.value) and slept == []


class _Conflicting(http.server.BaseHTTPRequestHandler):
    """Answers as OpenBao does to a storage transaction conflict `conflicts` times, then 200 with `{"data": {}}`."""

    conflicts = 0
    seen: list[str] = []

    def _answer(self) -> None:
        type(self).seen.append(self.command)
        if type(self).conflicts > 0:
            type(self).conflicts -= 1
            body, status = b'{"errors":["list failed: transaction commit failed"]}', 500
        else:
            body, status = b'{"data":{"keys":["a"]}}', 200
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_LIST = _answer  # noqa: N815 - http.server's naming

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def conflicting() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Conflicting)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_a_storage_transaction_conflict_is_resent_for_idempotent_calls_only(conflicting: str) -> None:
    slept: list[float] = []
    api = VaultApi(conflicting, backoff=Backoff(attempts=3, base=0.1, cap=1.0), sleep=slept.append)
    _Conflicting.conflicts, _Conflicting.seen = 2, []

    answer = api.call("LIST", "auth/approle/role/r/secret-id", token="t", idempotent=True)

    assert answer == {"data": {"keys": ["a"]}} and _Conflicting.seen == ["LIST"] * 3 and len(slept) == 2

    _Conflicting.conflicts, _Conflicting.seen, slept[:] = 5, [], []
    with pytest.raises(VaultUnavailable, match="transaction commit failed"):  # attempts spent: the error says why
        api.call("LIST", "auth/approle/role/r/secret-id", token="t", idempotent=True)
    assert len(_Conflicting.seen) == 3

    _Conflicting.conflicts, _Conflicting.seen, slept[:] = 1, [], []
    with pytest.raises(VaultUnavailable, match="transaction commit failed"):
        api.call("POST", "sys/wrapping/unwrap", token="t", idempotent=False)  # single-use: never resent
    assert _Conflicting.seen == ["POST"] and slept == []


def test_only_a_500_saying_transaction_commit_failed_is_a_storage_conflict() -> None:
    assert _storage_conflict(hvac.exceptions.InternalServerError("x", errors=["get failed: transaction commit failed"]))
    assert not _storage_conflict(hvac.exceptions.InternalServerError("boom", errors=["internal error"]))
    assert not _storage_conflict(hvac.exceptions.InvalidRequest("x", errors=["transaction commit failed"]))
    assert not _storage_conflict(hvac.exceptions.VaultDown("x", errors=["transaction commit failed"]))
