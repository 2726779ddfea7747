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


class MissingKeys:
    """How many reads asked for each key the configuration does not hold (lock-free counts)."""

    def __init__(self) -> None:
        self._tallies: dict[tuple[str, str], Tally] = {}

    def count(self, category: str, key: str) -> bool:
        """Count one read of a missing key; True for exactly one caller: the key's first read.

        `dict.setdefault` is atomic, so only the caller whose own tally was stored sees it back.
        """
        tally = self._tallies.get((category, key))
        if tally is not None:
            next(tally.ticks)
            return False
        mine = Tally()
        tally = self._tallies.setdefault((category, key), mine)
        next(tally.ticks)
        return tally is mine

    def counts(self) -> dict[str, int]:
        """`category.key` -> reads so far, for every key that was missing at least once."""
        return {f"{c}.{k}": tally.value() for (c, k), tally in list(self._tallies.items())}


DURATION_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Durations:
    """A histogram of the seconds each kind of database read took (a version check, a full read)."""

    def __init__(self, kinds: tuple[str, ...]) -> None:
        self._lock = threading.Lock()
        self._counts = {kind: [0] * (len(DURATION_BUCKETS) + 1) for kind in kinds}
        self._sums = dict.fromkeys(kinds, 0.0)

    def observe(self, kind: str, seconds: float) -> None:
        index = next((i for i, le in enumerate(DURATION_BUCKETS) if seconds <= le), -1)
        with self._lock:
            self._counts[kind][index] += 1
            self._sums[kind] += seconds

    def snapshot(self) -> dict[str, tuple[list[tuple[str, int]], float]]:
        """kind -> (cumulative (le, count) buckets ending with "+Inf", sum of seconds)."""
        with self._lock:
            counts = {kind: list(c) for kind, c in self._counts.items()}
            sums = dict(self._sums)
        out: dict[str, tuple[list[tuple[str, int]], float]] = {}
        for kind, per_bucket in counts.items():
            bounds = [*(repr(le) for le in DURATION_BUCKETS), "+Inf"]
            running, buckets = 0, []
            for bound, count in zip(bounds, per_bucket, strict=True):
                running += count
                buckets.append((bound, running))
            out[kind] = (buckets, sums[kind])
        return out
