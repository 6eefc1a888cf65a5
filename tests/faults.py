"""A fault-injecting TCP proxy for tests and benchmarks: put it in front of a real server and make it fail.

    with FaultProxy("127.0.0.1", openbao_port) as proxy:     # clients connect to proxy.port instead
        proxy.hang()     # accepts connections, never answers: a server stuck in GC, a black-holed route
        proxy.down()     # connection refused; open connections are reset
        proxy.slow(0.5)  # every chunk, both ways, delayed by 0.5 s
        proxy.up()       # pass-through again; data held while hung is delivered

It works below TLS (bytes are relayed unchanged), so HTTPS with client certificates, PostgreSQL's wire protocol
and plain HTTP all pass through. One acceptor thread, two relay threads per connection; every thread ends when
the proxy closes. `first_time` measures when a fault's effect (or a kill switch's) is first visible from outside.
"""

from __future__ import annotations

import contextlib
import select
import socket
import struct
import threading
import time
from collections.abc import Callable
from types import TracebackType

UP, DOWN, HUNG, SLOW = "up", "down", "hung", "slow"
_CHUNK = 65536
_POLL = 0.05  # seconds: how often idle threads look at the mode and the stop flag


class FaultProxy:
    """Relays 127.0.0.1:`port` to `upstream_host`:`upstream_port`, with a mode that can change at any time."""

    def __init__(self, upstream_host: str, upstream_port: int, *, port: int = 0):
        self.upstream = (upstream_host, upstream_port)
        self._mode = UP
        self._delay = 0.0
        self._changed = threading.Condition()
        self._closed = False
        self._connections: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []
        self._listener: socket.socket | None = None
        self.port = self._listen(port)
        self.accepted = 0  # connections accepted so far (a test can tell "refused" from "accepted, hung")
        self._acceptor = threading.Thread(target=self._accept_loop, name=f"fault-proxy-{self.port}", daemon=True)
        self._acceptor.start()

    # -- control ------------------------------------------------------------------------------------

    @property
    def mode(self) -> str:
        return self._mode

    @property
    def address(self) -> str:
        """`127.0.0.1:<port>`, to put in a URL in place of the server's own address."""
        return f"127.0.0.1:{self.port}"

    def up(self) -> None:
        """Pass everything through (again); a connection held while hung resumes where it stopped."""
        self._set(UP)

    def slow(self, delay: float) -> None:
        """Delay every chunk in both directions by `delay` seconds."""
        self._set(SLOW, delay)

    def hang(self) -> None:
        """Accept connections but relay nothing, either way, until the mode changes."""
        self._set(HUNG)

    def down(self) -> None:
        """Refuse new connections (nothing listens) and reset the open ones."""
        self._set(DOWN)

    def _set(self, mode: str, delay: float = 0.0) -> None:
        with self._changed:
            was = self._mode
            self._mode, self._delay = mode, delay
            if mode == DOWN and self._listener is not None:
                _stop_listening(self._listener)
                self._listener = None
                for conn in list(self._connections):
                    _reset(conn)
                self._connections.clear()
            elif was == DOWN and mode != DOWN:
                self._listen(self.port)
            self._changed.notify_all()

    def close(self) -> None:
        """Stop accepting, close every connection and wait for the threads."""
        with self._changed:
            self._closed = True
            if self._listener is not None:
                _stop_listening(self._listener)
                self._listener = None
            for conn in list(self._connections):
                _reset(conn)
            self._connections.clear()
            self._changed.notify_all()
        for thread in [self._acceptor, *self._threads]:
            thread.join(timeout=5)

    def __enter__(self) -> FaultProxy:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    # -- relaying -----------------------------------------------------------------------------------

    def _listen(self, port: int) -> int:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", port))
        listener.listen(128)
        self._listener = listener
        return int(listener.getsockname()[1])

    def _accept_loop(self) -> None:
        while True:
            with self._changed:
                if self._closed:
                    return
                listener = self._listener
            if listener is None:  # down: nothing listens until up() opens the port again
                with self._changed:
                    self._changed.wait(_POLL)
                continue
            try:
                ready, _, _ = select.select([listener], [], [], _POLL)
                if not ready:
                    continue
                client, _ = listener.accept()
            except (OSError, ValueError):  # closed under us by down() or close()
                continue
            self.accepted += 1
            try:
                server = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                _reset(client)
                continue
            with self._changed:
                if self._closed or self._mode == DOWN:
                    _reset(client)
                    _reset(server)
                    continue
                self._connections.update((client, server))
            self._threads = [t for t in self._threads if t.is_alive()]
            for source, sink in ((client, server), (server, client)):
                thread = threading.Thread(target=self._relay, args=(source, sink), daemon=True)
                self._threads.append(thread)
                thread.start()

    def _relay(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while True:
                ready, _, _ = select.select([source], [], [], _POLL)
                if self._closed:
                    return
                if not ready:
                    continue
                data = source.recv(_CHUNK)
                if not data:
                    sink.shutdown(socket.SHUT_WR)
                    return
                if not self._deliverable():
                    return
                sink.sendall(data)
        except (OSError, ValueError):
            return
        finally:
            with self._changed:
                self._connections.discard(source)
            source.close()

    def _deliverable(self) -> bool:
        """Wait while hung; sleep while slow; False when the connection must die (down or closed)."""
        with self._changed:
            while self._mode == HUNG and not self._closed:
                self._changed.wait(_POLL)
            if self._closed or self._mode == DOWN:
                return False
            delay = self._delay if self._mode == SLOW else 0.0
        if delay:
            time.sleep(delay)
        return True


def _stop_listening(listener: socket.socket) -> None:
    """Refuse connections from now on. Closing alone is not enough: while the acceptor thread sits in select() on
    the socket, Linux keeps it listening, and a client connecting in that window would be accepted."""
    with contextlib.suppress(OSError):
        listener.shutdown(socket.SHUT_RDWR)
    listener.close()


def _reset(sock: socket.socket) -> None:
    """Close with RST (SO_LINGER 0), as a crashed server's kernel would, not an orderly FIN."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.close()


def first_time(condition: Callable[[], bool], *, since: float, until: float,
               every: float = 0.01) -> Callable[[], float | None]:
    """Watch for a fault's effect: poll `condition` from a thread every `every` seconds until `until` (a
    `time.monotonic()` instant). The returned callable waits for the poller and gives the seconds from `since` to
    the first poll that held, or None if none did."""
    seen: list[float] = []

    def poll() -> None:
        while not seen and time.monotonic() < until:
            if condition():
                seen.append(time.monotonic() - since)
            time.sleep(every)

    thread = threading.Thread(target=poll, daemon=True)
    thread.start()

    def result() -> float | None:
        thread.join(timeout=max(0.0, until - time.monotonic()) + 5)
        return seen[0] if seen else None

    return result
