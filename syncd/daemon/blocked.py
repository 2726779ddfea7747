"""Applies that wait on locks held by other sessions: a fault, not a silent stall.

The daemon's connection runs with a `lock_timeout` of one interval (between `MIN_LOCK_WAIT` and
`MAX_LOCK_WAIT` seconds), so an apply that waits on an operator's open transaction gives up
after one interval instead of hanging. That is the fault `blocked`: `/readyz` answers 503,
`/status` lists it under `faults`, `syncd_apply_blocked` is 1, and one log line says so; the
apply is tried again every second or so, and one log line says when one goes through.
"""

from __future__ import annotations

import datetime as dt
import logging
import time

import psycopg

from syncd.daemon.faultkind import Fault, FaultKind
from syncd.daemon.logs import event
from syncd.daemon.metrics import Metrics
from syncd.daemon.runstate import RunState
from tonsurance.redaction import scrub

BLOCKED = FaultKind.BLOCKED
MIN_LOCK_WAIT = 2.0
MAX_LOCK_WAIT = 60.0


def lock_wait(interval: float) -> float:
    """Seconds an apply may wait for one lock: one interval, within sensible bounds."""
    return min(MAX_LOCK_WAIT, max(MIN_LOCK_WAIT, interval))


def lock_timeout_statement(interval: float) -> str:
    return f"set lock_timeout = '{int(lock_wait(interval) * 1000)}ms'"


def lock_wait_text(exc: psycopg.Error) -> str:
    """`canceling statement due to lock timeout, while updating tuple ... in relation ...`."""
    primary = exc.diag.message_primary or str(exc).splitlines()[0]
    where = (exc.diag.context or "").strip().splitlines()
    return scrub(primary + (f", {where[0][:200]}" if where else ""))


class BlockedApplies:
    """Tracks applies that ran out of their lock wait; one log line when it starts and one at the end."""

    def __init__(self, state: RunState, metrics: Metrics, interval: float) -> None:
        self.state = state
        self.metrics = metrics
        self.wait = lock_wait(interval)
        self._since: float | None = None

    @property
    def blocked(self) -> bool:
        return self._since is not None

    def waited(self, error: str) -> None:
        """An apply gave up after waiting `self.wait` seconds on a lock."""
        first = self._since is None
        if self._since is None:
            self._since = time.time() - self.wait
        since = dt.datetime.fromtimestamp(self._since, dt.timezone.utc)
        with self.state.lock:
            self.state.faults[BLOCKED] = Fault(error, since.isoformat(timespec="seconds"))
        self.metrics.apply_blocked.set(1)
        if first:
            event(
                BLOCKED,
                f"an apply gave up after waiting {self.wait:g} s on a lock held by another"
                f" session ({error}); retrying until that session lets go",
                logging.ERROR,
                error=error,
            )

    def cleared(self) -> None:
        """A cycle went through without running out of a lock wait."""
        if self._since is None:
            return
        took = time.time() - self._since
        self._since = None
        with self.state.lock:
            self.state.faults.pop(BLOCKED, None)
        self.metrics.apply_blocked.set(0)
        event(
            "unblocked",
            f"applies go through again after {took:.1f} s blocked",
            blocked_seconds=round(took, 1),
        )
