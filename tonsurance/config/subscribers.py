"""Who the loader tells about a new snapshot, and how, without holding up a reload.

Callbacks run after the reload lock is released, in the thread that reloaded, one delivery at a
time. A thread that finds another one delivering leaves the newest snapshot to it: that thread
looks again after it releases its lock, so a snapshot installed meanwhile is never left
undelivered, no reload waits for a callback, and no callback gets an older snapshot after a
newer one. Changes that arrive while callbacks run are passed on once, as the newest snapshot.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from tonsurance.config.model import Snapshot

log = logging.getLogger("tonsurance.config")

Subscriber = Callable[[Snapshot], None]


class Subscribers:
    """The callbacks of `ConfigLoader.subscribe` and the last snapshot they were given."""

    def __init__(self) -> None:
        self._callbacks: tuple[Subscriber, ...] = ()
        self._lock = threading.Lock()
        self._delivering = threading.Lock()
        self._delivered: Snapshot | None = None

    def add(self, callback: Subscriber) -> Callable[[], None]:
        """Add `callback`; return a function that removes it again."""
        with self._lock:
            self._callbacks = (*self._callbacks, callback)

        def remove() -> None:
            with self._lock:
                self._callbacks = tuple(c for c in self._callbacks if c is not callback)

        return remove

    def deliver(self, newest: Callable[[], Snapshot | None]) -> None:
        """Call every callback with `newest()` until it is the snapshot they were last given."""
        while self._pending(newest()):
            if not self._delivering.acquire(blocking=False):
                return
            try:
                snapshot = newest()
                if snapshot is not None and self._pending(snapshot):
                    self._delivered = snapshot
                    for callback in self._callbacks:
                        try:
                            callback(snapshot)
                        except Exception:
                            log.exception("configuration subscriber %r failed", callback)
            finally:
                self._delivering.release()

    def _pending(self, snapshot: Snapshot | None) -> bool:
        return snapshot is not None and snapshot is not self._delivered
