"""How current the loader knows itself to be: when the database last answered, and what it said.

`stale` is the loader's own judgement: the source has not answered a check for longer than
`stale_after` seconds (by default three check periods: three `poll_interval`s in poll mode, three
`interval`s in LISTEN mode), or never answered at all (a loader on its file defaults). A standby's
replay lag is reported as the server gives it, `now() - pg_last_xact_replay_timestamp()`: the
age of the last transaction it replayed, meaningful while the primary writes.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from enum import StrEnum

from tonsurance.config.dbread import VersionCheck


class Mode(StrEnum):
    """How a loader learns of changes: LISTEN for NOTIFY on the primary, or poll the version."""

    LISTEN = "listen"
    POLL = "poll"


@dataclass(frozen=True, slots=True)
class FreshnessView:
    """The freshness figures of `ConfigLoader.stats()` at one moment."""

    since_last_poll_s: float | None
    standby: bool | None
    replay_lag_s: float | None
    stale: bool


class Freshness:
    """The last reload that succeeded (its version check, and the read when the version moved)."""

    def __init__(self, stale_after: float) -> None:
        self.stale_after = stale_after
        self._lock = threading.Lock()
        self._answered_at: float | None = None
        self._check: VersionCheck | None = None

    def answered(self, check: VersionCheck) -> None:
        with self._lock:
            self._answered_at = time.monotonic()
            self._check = check

    def view(self) -> FreshnessView:
        with self._lock:
            answered_at, check = self._answered_at, self._check
        since = None if answered_at is None else time.monotonic() - answered_at
        return FreshnessView(
            since_last_poll_s=since,
            standby=None if check is None else check.standby,
            replay_lag_s=None if check is None else check.replay_lag_s,
            stale=since is None or since > self.stale_after,
        )
