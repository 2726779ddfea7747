"""SIGTERM/SIGINT: stop the loop, give the apply in flight `grace` seconds, then cancel it.

A second signal cancels at once. PostgreSQL rolls the cancelled transaction back.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

import psycopg

from syncd.daemon.dblink import CONNECT_TIMEOUT
from syncd.daemon.logs import event


class StopSignals:
    """Turns a stop signal into `stopping` and `wakeup` set, and a timed cancel of the apply."""

    def __init__(
        self,
        stopping: threading.Event,
        wakeup: threading.Event,
        in_flight: Callable[[], psycopg.Connection[Any] | None],
        stop_timeout: float,
    ) -> None:
        self.stopping = stopping
        self.wakeup = wakeup
        self.in_flight = in_flight
        self.stop_timeout = stop_timeout

    @contextmanager
    def installed(self) -> Iterator[None]:
        """Handle SIGTERM and SIGINT inside the block; the previous handlers come back after."""
        previous = {
            sig: signal.signal(sig, self.on_signal) for sig in (signal.SIGTERM, signal.SIGINT)
        }
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def on_signal(self, signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        again = self.stopping.is_set()
        self.stopping.set()
        self.wakeup.set()
        if again:
            grace = 0.0
        elif self.in_flight() is None:
            grace = self.stop_timeout
            event("stopping", f"{name} received; stopping")
        else:
            grace = self.stop_timeout
            event(
                "stopping",
                f"{name} received; the apply in flight has {grace:g} s to finish before it"
                " is rolled back",
            )
        timer = threading.Timer(grace, self.cancel_in_flight)
        timer.daemon = True
        timer.start()

    def cancel_in_flight(self) -> None:
        conn = self.in_flight()
        if conn is not None:
            try:
                conn.cancel_safe(timeout=CONNECT_TIMEOUT)
            except psycopg.Error:
                pass
