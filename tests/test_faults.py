"""The fault-injecting proxy does what the fault tests rely on: pass through, refuse, hang, delay, recover."""

from __future__ import annotations

import socket
import socketserver
import threading
import time
from collections.abc import Iterator

import pytest

from tests.faults import FaultProxy


class _Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        try:
            while data := self.request.recv(1024):
                self.request.sendall(data)
        except OSError:
            pass  # the proxy reset the connection (down): what the test wanted


@pytest.fixture
def proxy() -> Iterator[FaultProxy]:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Echo)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    with FaultProxy("127.0.0.1", server.server_address[1]) as fault:
        yield fault
    server.shutdown()
    server.server_close()


def _connect(proxy: FaultProxy) -> socket.socket:
    return socket.create_connection(("127.0.0.1", proxy.port), timeout=2)


def _echo(sock: socket.socket, data: bytes = b"ping", timeout: float = 2) -> bytes:
    sock.settimeout(timeout)
    sock.sendall(data)
    return sock.recv(1024)


def test_it_passes_bytes_through_both_ways(proxy: FaultProxy) -> None:
    with _connect(proxy) as sock:
        assert _echo(sock) == b"ping"


def test_hung_accepts_but_never_answers_then_delivers_what_it_held(proxy: FaultProxy) -> None:
    proxy.hang()
    before = proxy.accepted
    with _connect(proxy) as sock:  # the connection succeeds: a hung server, not a dead one
        sock.settimeout(0.3)
        sock.sendall(b"held")
        with pytest.raises(TimeoutError):
            sock.recv(1024)
        assert proxy.accepted == before + 1
        proxy.up()
        sock.settimeout(2)
        assert sock.recv(1024) == b"held"


def test_an_open_connection_hangs_too(proxy: FaultProxy) -> None:
    with _connect(proxy) as sock:
        assert _echo(sock) == b"ping"
        proxy.hang()
        with pytest.raises(TimeoutError):
            _echo(sock, timeout=0.3)


def test_down_refuses_new_connections_and_resets_open_ones_then_comes_back_on_the_same_port(
        proxy: FaultProxy) -> None:
    port = proxy.port
    sock = _connect(proxy)
    assert _echo(sock) == b"ping"
    proxy.down()
    with pytest.raises(ConnectionRefusedError):
        _connect(proxy)
    with pytest.raises((ConnectionResetError, BrokenPipeError, TimeoutError, OSError)):
        assert _echo(sock, timeout=0.5) == b""  # reset, or closed: never an answer
    sock.close()
    proxy.up()
    assert proxy.port == port
    with _connect(proxy) as again:
        assert _echo(again) == b"ping"


def test_slow_delays_each_chunk(proxy: FaultProxy) -> None:
    proxy.slow(0.2)
    with _connect(proxy) as sock:
        started = time.monotonic()
        assert _echo(sock) == b"ping"
        assert time.monotonic() - started >= 0.4  # 0.2 s out, 0.2 s back
