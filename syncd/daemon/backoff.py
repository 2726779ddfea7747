"""How long the run loop sleeps after a cycle: the interval, or an exponential backoff."""

from __future__ import annotations

import random


class Backoff:
    """The wait after each cycle's result; consecutive faults double it, up to a cap."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._failed_cycles = 0

    def delay(self, result: str) -> float:
        interval = self.interval
        if result == "again":
            self._failed_cycles = 0
            return 0.0
        if result == "fault":
            self._failed_cycles += 1
            cap = min(max(interval * 2, 1.0), 60.0)
            base = min(1.0, interval)
            backoff: float = min(cap, base * 2.0 ** (self._failed_cycles - 1))
            return backoff * random.uniform(0.5, 1.0)
        self._failed_cycles = 0
        if result == "busy":
            return min(1.0, interval) * random.uniform(0.5, 1.0)
        return interval * random.uniform(0.9, 1.1)
