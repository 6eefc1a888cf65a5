"""The hvac adapter: errors mapped to the project's with the path, retries only where a retry is safe."""

from __future__ import annotations

import http.server
import random
import threading

import hvac.exceptions
import pytest

from agentiam.client import LeaseExpired, LoginRefused, PermissionDenied, VaultSealed, VaultUnavailable
from agentiam.client.errors import NotFound, RateLimited
from agentiam.client.vault import Backoff, Login, VaultApi, _mapped
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
