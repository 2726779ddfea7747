"""Counters of the loader: cheap enough for the read path, exact under many threads.

A hit is counted by `next()` on an `itertools.count`, one C call that holds the GIL for its whole
duration, so concurrent readers never lose an increment and no lock is taken. Reading a count
consumes one step of it; `Tally` remembers how many steps it consumed that way and subtracts them.
Misses are read-path events too and count the same way; reloads and failures, which happen off
the read path, are counted under a lock.
"""

from __future__ import annotations

import itertools
import threading


class Tally:
    """A thread-safe counter whose `tick` is `next(tally.ticks)` on the hot path."""

    __slots__ = ("_lock", "_reads", "ticks")

    def __init__(self) -> None:
        self.ticks = itertools.count()
        self._lock = threading.Lock()
        self._reads = 0

    def value(self) -> int:
        """The number of ticks so far."""
        with self._lock:
            seen = next(self.ticks) - self._reads
            self._reads += 1
        return seen


class Counters:
    """Misses (lock-free, like hits), and reloads, changes and failures under one lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._misses = Tally()
        self.reloads = 0
        self.changes = 0
        self.reload_failures = 0
        self.consecutive_failures = 0
        self.last_error: str | None = None

    def miss(self) -> None:
        next(self._misses.ticks)

    @property
    def misses(self) -> int:
        return self._misses.value()

    def reloaded(self, changed: bool) -> None:
        """Record one successful reload, which swapped in a new snapshot when `changed`."""
        with self._lock:
            self.reloads += 1
            self.changes += changed
            self.consecutive_failures = 0
            self.last_error = None

    def failed(self, error: str) -> int:
        """Record one failed reload; return how many failed in a row."""
        with self._lock:
            self.reload_failures += 1
            self.consecutive_failures += 1
            self.last_error = error
            return self.consecutive_failures
