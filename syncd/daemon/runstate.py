"""What the daemon publishes for /status and /readyz, and one log line per change of a fault.

The sync loop writes, the HTTP threads read; a lock guards both and readers get plain copies.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from syncd.daemon.events import Outages
from syncd.daemon.faultkind import DEPENDENCIES, Fault, FaultKind
from syncd.daemon.logs import event
from syncd.daemon.metrics import Metrics
from syncd.daemon.resources import Resource
from tonsurance.redaction import scrub


def _iso(stamp: float | None) -> str | None:
    if stamp is None:
        return None
    return dt.datetime.fromtimestamp(stamp, dt.timezone.utc).isoformat(timespec="seconds")


@dataclass
class RunState:
    repo: str
    branch: str
    self_heal: bool
    environment: str = "dev"
    database_environment: str | None = None  # the one the database records it serves
    fresh_within: float = 90.0  # seconds a successful fetch keeps the daemon ready
    started_at: float = field(default_factory=time.time)
    head: str | None = None
    head_seen_at: float | None = None
    applied: str | None = None
    attempt: dict[str, Any] = field(default_factory=dict)
    head_refused: bool = False
    lag_commits: int | None = None
    drift_rows: list[str] = field(default_factory=list)
    drift_checked_at: float | None = None
    drift_corrected_at: float | None = None
    role: str = "starting"
    faults: dict[FaultKind, Fault] = field(default_factory=dict)
    last_success_at: float | None = None
    last_fetch_at: float | None = None
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def saw_head(self, head: str) -> None:
        """The fetch just succeeded and found `head`."""
        with self.lock:
            self.last_fetch_at = time.time()
            if head != self.head:
                self.head, self.head_seen_at = head, time.time()

    def lag_seconds(self, now: float | None = None) -> float:
        with self.lock:
            if not self.head or self.applied == self.head or self.head_seen_at is None:
                return 0.0
            return max(0.0, (now or time.time()) - self.head_seen_at)

    def _stale(self, now: float) -> str | None:
        """Why the published head cannot be trusted to be the branch head, or None."""
        for kind in (FaultKind.GIT, FaultKind.DISK, FaultKind.DESCRIPTORS):
            if kind in self.faults:
                return f"{kind} unavailable: {self.faults[kind].error}"
        if self.last_fetch_at is None:
            return "the branch has not been fetched yet"
        age = now - self.last_fetch_at
        if age > self.fresh_within:
            return f"the last successful fetch was {age:.0f} s ago"
        return None

    def ready(self) -> tuple[bool, str]:
        """Ready when the database answered at the last cycle, a fetch succeeded within
        `fresh_within` seconds and the applied commit is the head it found."""
        with self.lock:
            if FaultKind.DATABASE in self.faults:
                return False, f"database unavailable: {self.faults[FaultKind.DATABASE].error}"
            if FaultKind.BLOCKED in self.faults:
                return False, f"applies blocked by a lock: {self.faults[FaultKind.BLOCKED].error}"
            stale = self._stale(time.time())
            if stale or self.head is None:
                return False, stale or "the branch has not been fetched yet"
            if self.database_environment not in (None, self.environment):
                return False, (
                    f"the database serves {self.database_environment!r}, not {self.environment!r}"
                )
            if self.applied != self.head:
                why = " (the head failed validation)" if self.head_refused else ""
                return (
                    False,
                    f"applied {str(self.applied)[:12]} is not the head {self.head[:12]}{why}",
                )
            return True, f"ready: {self.head[:12]} is applied"

    def as_json(self) -> dict[str, Any]:
        lag = self.lag_seconds()
        with self.lock:
            return {
                "repo": self.repo,
                "branch": self.branch,
                "environment": self.environment,
                "database_environment": self.database_environment,
                "role": self.role,
                "branch_head": self.head,
                "applied_commit": self.applied,
                "in_sync": bool(self.head)
                and self.head == self.applied
                and self._stale(time.time()) is None,
                "last_fetch_at": _iso(self.last_fetch_at),
                "last_attempt": dict(self.attempt),
                "head_refused": self.head_refused,
                "lag_seconds": round(lag, 3),
                "lag_commits": self.lag_commits,
                "drift": {
                    "rows": len(self.drift_rows),
                    "keys": list(self.drift_rows[:50]),
                    "self_heal": self.self_heal,
                    "checked_at": _iso(self.drift_checked_at),
                    "last_corrected_at": _iso(self.drift_corrected_at),
                },
                "faults": {str(kind): fault.as_json() for kind, fault in self.faults.items()},
                "last_success_at": _iso(self.last_success_at),
                "started_at": _iso(self.started_at),
                "host": socket.gethostname(),
                "pid": os.getpid(),
            }


_DOWN = {
    FaultKind.APPLY: "applying failed",
    FaultKind.DISK: "disk error",
    FaultKind.DESCRIPTORS: "out of file descriptors",
    FaultKind.INTERNAL: "unexpected error",
}
_UP = {
    FaultKind.APPLY: "applying works",
    FaultKind.DISK: "disk works",
    FaultKind.DESCRIPTORS: "file descriptors available",
    FaultKind.INTERNAL: "cycles work",
}


class Faults:
    """Which dependency is failing; one log line when it fails and one when it is back."""

    def __init__(self, state: RunState, metrics: Metrics, outages: Outages | None = None) -> None:
        self.state = state
        self.metrics = metrics
        self.outages = outages
        self._since: dict[FaultKind, float] = {}
        self._tries: dict[FaultKind, int] = {}

    def down(self, kind: FaultKind | Resource, error: str, reason: str | None = None) -> None:
        name = FaultKind(kind)
        error = scrub(error)
        self.metrics.failures.labels(reason or name).inc()
        if name in DEPENDENCIES:
            self.metrics.up.labels(name).set(0)
        with self.state.lock:
            first = name not in self.state.faults
            self.state.faults[name] = Fault(error, _iso(self._since.get(name, time.time())))
        if first:
            self._since[name], self._tries[name] = time.time(), 1
            what = _DOWN.get(name, f"{name} unavailable")
            event(
                f"{name}_down",
                f"{what}: {error}; retrying with backoff",
                logging.ERROR,
                error=error,
            )
        else:
            self._tries[name] += 1
        if self.outages is not None and name in DEPENDENCIES:
            self.outages.down(name, error)

    def up(self, kind: FaultKind | Resource) -> None:
        name = FaultKind(kind)
        if name in DEPENDENCIES:
            self.metrics.up.labels(name).set(1)
        with self.state.lock:
            was = self.state.faults.pop(name, None)
        if was is not None:
            took = time.time() - self._since.pop(name, time.time())
            tries = self._tries.pop(name, 0)
            if self.outages is not None and name in DEPENDENCIES:
                self.outages.up(name, tries)
            what = _UP.get(name, f"{name} available")
            event(
                f"{name}_up",
                f"{what} again after {took:.1f} s and {tries} failed tries",
                down_seconds=round(took, 1),
                failed_tries=tries,
            )

    def count(self) -> int:
        with self.state.lock:
            return len(self.state.faults)

    def unavailable(self) -> bool:
        """Whether a dependency (database, git, disk) is failing, rather than the apply itself."""
        with self.state.lock:
            return any(name in self.state.faults for name in DEPENDENCIES)
