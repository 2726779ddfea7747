"""A time bound on every database read of the loader, so that no read hangs a loader.

A server-side `statement_timeout` would need session state, which PgBouncer in transaction
pooling mode does not keep, and would not cover a pooler that queues the query or a server that
stopped answering. Instead one watchdog thread per process holds the deadlines of the reads in
flight; when one passes, it shuts the connection's socket down, so the read fails at once. The
reader then asks the server to cancel the query (best effort) and closes the connection, and
the caller gets ReadTimeout. A read that ends first disarms its deadline under the watchdog's
lock, so the watchdog never touches a socket after its read is over.
"""

from __future__ import annotations

import heapq
import itertools
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg

from tonsurance.errors import Unavailable


class ReadTimeout(Unavailable):
    """The server did not answer a read within the loader's timeout."""


@dataclass(eq=False)
class _Deadline:
    at: float
    fd: int
    armed: bool = True
    fired: bool = False


def _shut_down(fd: int) -> None:
    try:
        sock = socket.socket(fileno=fd)
    except OSError:
        return
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    finally:
        sock.detach()


class Watchdog:
    """Shuts down the socket of a read that outlived its deadline."""

    def __init__(self) -> None:
        self._reset()
        # a forked child (a pre-forking server) has no watchdog thread: it starts its own
        os.register_at_fork(after_in_child=self._reset)

    def _reset(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, _Deadline]] = []
        self._order = itertools.count()
        self._thread: threading.Thread | None = None

    @contextmanager
    def bound(self, conn: psycopg.Connection[Any], seconds: float) -> Iterator[None]:
        """Run the body's reads on `conn` for at most `seconds`; raise ReadTimeout past that."""
        entry = _Deadline(time.monotonic() + seconds, conn.pgconn.socket)
        canceller = _canceller(conn)
        with self._cond:
            heapq.heappush(self._heap, (entry.at, next(self._order), entry))
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="tonsurance-config-deadlines", daemon=True
                )
                self._thread.start()
            if self._heap[0][2] is entry:
                self._cond.notify()
        try:
            yield
        except psycopg.Error:
            with self._cond:
                entry.armed = False
            if not entry.fired:
                raise
            _abandon(conn, canceller)
            raise ReadTimeout(f"the server did not answer within {seconds:g} s") from None
        finally:
            with self._cond:
                entry.armed = False
            if entry.fired:
                conn.close()

    def _run(self) -> None:
        with self._cond:
            while True:
                now = time.monotonic()
                while self._heap and (not self._heap[0][2].armed or self._heap[0][0] <= now):
                    entry = heapq.heappop(self._heap)[2]
                    if entry.armed:
                        entry.armed = False
                        entry.fired = True
                        _shut_down(entry.fd)
                self._cond.wait(self._heap[0][0] - now if self._heap else None)


def _canceller(conn: psycopg.Connection[Any]) -> Callable[[], None]:
    """A way to cancel the connection's query later, made while the connection is sound: libpq
    refuses to make one from a connection whose socket is already gone. The cancel request of
    libpq 17 waits at most the address's connect_timeout; the older one has no time bound."""
    pgconn = conn.pgconn
    if psycopg.capabilities.has_cancel_safe():
        request = pgconn.cancel_conn()

        def cancel() -> None:
            try:
                request.blocking()
            finally:
                request.finish()

        return cancel
    return pgconn.get_cancel().cancel


def _abandon(conn: psycopg.Connection[Any], cancel: Callable[[], None]) -> None:
    """Ask the server to cancel what the connection was running (best effort), then close it."""
    try:
        cancel()
    except psycopg.Error:
        pass
    conn.close()


WATCHDOG = Watchdog()
