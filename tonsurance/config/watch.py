"""The loader's two background threads: a periodic reload, and a LISTEN for syncd's NOTIFY.

Both call back into the loader's `reload`, which counts its own failures; these loops only decide
when to call it. After a failure they wait `retry_delay`, doubling from RETRY_FIRST up to the
interval (or RETRY_MAX), so a database that is down is not hammered and one that returns is
found again without anybody's help.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import psycopg
from psycopg import sql

from tonsurance.db import NOTIFY_CHANNEL, connect, redact
from tonsurance.errors import TonsuranceError

log = logging.getLogger("tonsurance.config")

RETRY_FIRST = 0.5
RETRY_MAX = 30.0
LISTEN_POLL = 0.5


def retry_delay(failures: int, interval: float) -> float:
    """Seconds to wait after `failures` failures in a row: doubling from RETRY_FIRST, capped."""
    return min(interval, RETRY_MAX, RETRY_FIRST * 2.0 ** max(failures - 1, 0))


def periodic_reloads(
    stop: threading.Event,
    interval: float,
    reload: Callable[[], object],
    failures: Callable[[], int],
) -> None:
    """Call `reload` every `interval` seconds until `stop`; sooner, backing off, after a failure."""
    delay = interval
    while not stop.wait(delay):
        try:
            reload()
            delay = interval
        except TonsuranceError:
            delay = retry_delay(failures(), interval)
        except Exception:
            log.exception("unexpected error while reloading the configuration")
            delay = interval


class Listener:
    """LISTENs on a dedicated autocommit connection and calls `on_change` for each NOTIFY.

    `on_change` also runs right after every (re)connection, because notifications sent while the
    connection was down are never delivered.
    """

    def __init__(
        self, dsn: str | None, on_change: Callable[[], object], stop: threading.Event
    ) -> None:
        self.dsn = dsn
        self.on_change = on_change
        self.stop = stop
        self.listening = False

    def run(self) -> None:
        failures = 0
        listen = sql.SQL("listen {}").format(sql.Identifier(NOTIFY_CHANNEL))
        while not self.stop.is_set():
            try:
                with connect(self.dsn, autocommit=True) as conn:
                    conn.execute(listen)
                    self.listening = True
                    failures = 0
                    self.on_change()
                    while not self.stop.is_set():
                        for _ in conn.notifies(timeout=LISTEN_POLL):
                            self.on_change()
                            if self.stop.is_set():
                                break
            except (TonsuranceError, psycopg.Error) as exc:
                failures += 1
                level = logging.WARNING if failures == 1 else logging.DEBUG
                log.log(
                    level,
                    "configuration LISTEN connection lost: %s",
                    redact(" ".join(str(exc).split())),
                )
            except Exception:
                failures += 1
                log.exception("unexpected error while listening for configuration changes")
            finally:
                self.listening = False
            self.stop.wait(retry_delay(failures, RETRY_MAX))
