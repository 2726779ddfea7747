"""When the loader checks the database: a timer (every mode), and a LISTEN for NOTIFY.

The timer calls the loader's `reload`, which counts its own failures; the loops here only decide
when to call it. In poll mode the timer is the only trigger: every `poll_interval`, with jitter
so that many loaders started together do not poll in step, and backing off after failures up to
BACKOFF_MAX, so a struggling database or pooler is not hammered.

The LISTEN thread treats a notification only as a hint: whatever its payload (any role may send
one), it costs one version check, and notifications arriving together, or within
MIN_CHECK_GAP of the last check, are answered by one check; a check that fails is retried with
backoff. After every (re)connection it catches up at once on a fresh reader connection, because
notifications sent while it was away are lost, and retries that catch-up with backoff (from
CATCH_UP_FIRST doubling to CATCH_UP_MAX) until it succeeds.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import psycopg
from psycopg import sql

from tonsurance.config.dbread import APPLICATION_NAME
from tonsurance.db import NOTIFY_CHANNEL, connect
from tonsurance.redaction import scrub
from tonsurance.errors import TonsuranceError

log = logging.getLogger("tonsurance.config")

RETRY_FIRST = 0.5
RETRY_MAX = 30.0
BACKOFF_MAX = 30.0
LISTEN_POLL = 0.5
RECONNECT_FIRST = 0.1
CATCH_UP_FIRST = 0.05
CATCH_UP_MAX = 2.0
MIN_CHECK_GAP = 0.05
_random = random.Random()  # the loader's own: it never moves the global random state


@dataclass(frozen=True, slots=True)
class Schedule:
    """Seconds between two checks, after a success and after `failures` failures in a row."""

    interval: float
    jitter: float = 0.0
    poll: bool = False

    def first(self) -> float:
        """The wait before the first timed check: a random phase in poll mode."""
        return _random.uniform(0.0, self.interval) if self.poll else self.interval

    def after_success(self) -> float:
        return self._jittered(self.interval)

    def after_failure(self, failures: int) -> float:
        """Poll mode backs off from one interval, doubling up to BACKOFF_MAX (or the interval,
        if longer); the periodic reload of LISTEN mode retries sooner, from RETRY_FIRST."""
        doubling = 2.0 ** max(failures - 1, 0)
        if self.poll:
            return self._jittered(min(self.interval * doubling, max(self.interval, BACKOFF_MAX)))
        return min(self.interval, RETRY_MAX, RETRY_FIRST * doubling)

    def _jittered(self, seconds: float) -> float:
        return seconds * _random.uniform(1.0 - self.jitter, 1.0 + self.jitter)


def periodic_reloads(
    stop: threading.Event,
    schedule: Schedule,
    reload: Callable[[], object],
    failures: Callable[[], int],
) -> None:
    """Call `reload` on `schedule` until `stop`."""
    delay = schedule.first()
    while not stop.wait(delay):
        try:
            reload()
            delay = schedule.after_success()
        except TonsuranceError:
            delay = schedule.after_failure(failures())
        except Exception:
            log.exception("unexpected error while reloading the configuration")
            delay = schedule.after_success()


class Listener:
    """LISTENs on a dedicated autocommit connection; `check` runs for notifications and
    `catch_up` after every (re)connection. Both raise TonsuranceError when they fail."""

    def __init__(
        self,
        dsn: str | None,
        check: Callable[[], object],
        catch_up: Callable[[], object],
        stop: threading.Event,
    ) -> None:
        self.dsn = dsn
        self.check = check
        self.catch_up = catch_up
        self.stop = stop
        self.listening = False
        self.notifications = 0

    def run(self) -> None:
        failures = 0
        listen = sql.SQL("listen {}").format(sql.Identifier(NOTIFY_CHANNEL))
        while not self.stop.is_set():
            try:
                with connect(
                    self.dsn, autocommit=True, fallback_application_name=APPLICATION_NAME
                ) as conn:
                    conn.execute(listen)
                    self.listening = True
                    failures = 0
                    self._catch_up()
                    self._follow(conn)
            except (TonsuranceError, psycopg.Error) as exc:
                failures += 1
                level = logging.WARNING if failures == 1 else logging.DEBUG
                hint = (
                    "; a hot standby cannot LISTEN: use ConfigLoader(dsn, mode='poll') there"
                    if isinstance(exc, psycopg.errors.ReadOnlySqlTransaction)
                    else ""
                )
                log.log(
                    level,
                    "configuration LISTEN connection lost: %s%s",
                    scrub(str(exc)),
                    hint,
                )
            except Exception:
                failures += 1
                log.exception("unexpected error while listening for configuration changes")
            finally:
                self.listening = False
            self.stop.wait(min(RETRY_MAX, RECONNECT_FIRST * 2.0 ** max(failures - 1, 0)))

    def _catch_up(self) -> None:
        """Run `catch_up` until it succeeds (or the loader stops), backing off between tries."""
        delay = CATCH_UP_FIRST
        while not self.stop.is_set():
            try:
                self.catch_up()
                return
            except TonsuranceError:
                self.stop.wait(delay)
                delay = min(delay * 2.0, CATCH_UP_MAX)

    def _follow(self, conn: psycopg.Connection[object]) -> None:
        """One version check per batch of notifications, at most one per MIN_CHECK_GAP; a check
        that fails is tried again, backing off, without waiting for another notification."""
        due: float | None = None
        last_check = float("-inf")
        backoff = CATCH_UP_FIRST
        while not self.stop.is_set():
            wait = LISTEN_POLL if due is None else min(LISTEN_POLL, due - time.monotonic())
            received = sum(1 for _ in conn.notifies(timeout=max(0.0, wait), stop_after=1))
            self.notifications += received
            if received and due is None:
                due = max(time.monotonic(), last_check + MIN_CHECK_GAP)
            if due is None or time.monotonic() < due:
                continue
            last_check = time.monotonic()
            try:
                self.check()
            except TonsuranceError:
                due = last_check + backoff
                backoff = min(backoff * 2.0, CATCH_UP_MAX)
            else:
                due = None
                backoff = CATCH_UP_FIRST
