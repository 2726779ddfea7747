"""The configuration loader every service holds: an immutable snapshot, kept current.

Reads never touch the database or a lock: `loader.snapshot` and the typed accessors (inherited
from `tonsurance.config.reads`) read the current `TypedView`, which a reload replaces by one
reference assignment. Reloads are serialised by a lock that readers never take; they come from a
background thread every `interval` seconds and from a LISTEN thread the moment syncd's NOTIFY
arrives. After a reconnect the LISTEN thread listens again and reloads at once, because
notifications sent while it was away are lost. Subscribers are called after the reload lock is
released, so a slow one never holds up a reload. A stopped loader opens no connection until it
is started again.

The first load comes from the database, else from the shipped file defaults (validated with the
same schemas). Once loaded, a failing database never replaces the snapshot: the last good one
stays, failures are counted, retries back off, and the loader recovers by itself.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any

import psycopg

from tonsurance.config.dbread import open_reader, read_config
from tonsurance.config.filedefaults import load_file_defaults
from tonsurance.config.model import Snapshot
from tonsurance.config.reads import TypedReads
from tonsurance.config.stats import Counters, Tally
from tonsurance.config.subscribers import Subscriber, Subscribers
from tonsurance.config.typed import EMPTY_VIEW, TypedView, typed_view
from tonsurance.config.watch import Listener, periodic_reloads
from tonsurance.db import describe, redact, resolve_dsn
from tonsurance.errors import TonsuranceError, Unavailable, UsageProblem

log = logging.getLogger("tonsurance.config")


class _NotLoaded:
    """The class-level `snapshot` until a load puts one on the instance, which then shadows it.

    A non-data descriptor, so that a loaded snapshot is an ordinary instance attribute. A
    `__getattr__` on the loader would do the same, but it stops CPython from specialising every
    attribute read of the class and doubles the cost of `get_float`.
    """

    def __get__(self, obj: object, owner: type | None = None) -> Snapshot:
        if obj is None:
            return self  # type: ignore[return-value]
        raise Unavailable("no configuration is loaded; call start() first")


class ConfigLoader(TypedReads):
    """Holds the current configuration snapshot and keeps it in step with the database.

    `loader.snapshot` is the current snapshot, a plain instance attribute (the cheapest read
    Python has); hold it for a whole computation so that one computation never mixes two commits.
    Before the first load, reading it raises Unavailable.
    """

    snapshot: Snapshot = _NotLoaded()  # type: ignore[assignment]

    def __init__(
        self,
        dsn: str | None = None,
        *,
        interval: float = 60.0,
        listen: bool = True,
        defaults_root: str | os.PathLike[str] | None = None,
    ) -> None:
        if not interval > 0:
            raise UsageProblem(
                f"the reload interval must be a positive number of seconds, got {interval}"
            )
        self._dsn = dsn
        self._interval = float(interval)
        self._listen = listen
        self._defaults_root = defaults_root
        self._view: TypedView = EMPTY_VIEW
        self._hits = Tally()
        self._ticks = self._hits.ticks
        self._counters = Counters()
        self._reload_lock = threading.RLock()
        self._reader: psycopg.Connection[Any] | None = None
        self._checked_at: float | None = None
        self._stop = threading.Event()
        self._listener = Listener(dsn, self._reload_quietly, self._stop)
        self._threads: list[threading.Thread] = []
        self._subscribers = Subscribers()
        self._warned: dict[tuple[str, str, str], object] = {}

    # -- life cycle ---------------------------------------------------------------------------

    def start(self, *, background: bool = True) -> ConfigLoader:
        """Load the first snapshot (database, else file defaults) and start the reload threads.

        Raises Unavailable when neither the database nor the file defaults give a configuration,
        and UsageProblem when the loader runs, or threads of an earlier start have not ended yet.
        """
        alive = [thread.name for thread in self._threads if thread.is_alive()]
        if alive and not self._stop.is_set():
            raise UsageProblem("the loader is already started")
        if alive:
            raise UsageProblem(
                f"the loader cannot start again: {', '.join(alive)} of the previous start is still"
                " running; call stop() again and then start()"
            )
        self._threads = []
        self._stop.clear()
        try:
            self.reload()
        except UsageProblem:
            raise
        except TonsuranceError as db_error:
            if self._view.snapshot is None:
                self._load_file_defaults(db_error)
        if background:
            self._spawn(
                "tonsurance-config-reload",
                lambda: periodic_reloads(
                    self._stop,
                    self._interval,
                    self.reload,
                    lambda: self._counters.consecutive_failures,
                ),
            )
            if self._listen:
                self._spawn("tonsurance-config-listen", self._listener.run)
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the background threads and close the database connections.

        A thread still running after `timeout` seconds ends on its own (it opens no connection
        once stopped); until it has, `start()` refuses to run.
        """
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout)
        self._threads = [thread for thread in self._threads if thread.is_alive()]
        if self._threads:
            names = ", ".join(thread.name for thread in self._threads)
            log.warning("%s still running %g s after stop(); it ends on its own", names, timeout)
        with self._reload_lock:
            self._drop_reader()

    def __enter__(self) -> ConfigLoader:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _spawn(self, name: str, target: Callable[[], None]) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _load_file_defaults(self, db_error: TonsuranceError) -> None:
        try:
            view = load_file_defaults(self._defaults_root)
        except TonsuranceError as file_error:
            raise Unavailable(f"no configuration available: {db_error}; and {file_error}") from None
        log.warning("configuration database unavailable (%s); using the file defaults", db_error)
        with self._reload_lock:
            if self._view.snapshot is None:
                self._install(view)

    # -- reloading ----------------------------------------------------------------------------

    def reload(self, *, force: bool = False) -> bool:
        """Read the applied configuration; return True when a new snapshot was swapped in.

        A reload that finds the commit already loaded does nothing more (unless `force`). A
        failure keeps the current snapshot, is counted, and is raised. Subscribers are called
        after the reload lock is released. A stopped loader raises Unavailable and connects to
        nothing.
        """
        changed = self._reload(force)
        if changed:
            self._subscribers.deliver(lambda: self._view.snapshot)
        return changed

    def _reload(self, force: bool) -> bool:
        with self._reload_lock:
            if self._stop.is_set():
                raise Unavailable("the configuration loader is stopped; call start() first")
            current = self._view.snapshot
            known = (
                None if force or current is None or current.source != "database" else current.commit
            )
            try:
                found = read_config(self._reader_connection(), known)
            except TonsuranceError as exc:
                self._reload_failed(exc)
                raise
            except psycopg.Error as exc:
                self._drop_reader()
                unmigrated = isinstance(exc, psycopg.errors.UndefinedTable)
                error = Unavailable(
                    f"cannot read the configuration from {describe(resolve_dsn(self._dsn))}: "
                    f"{redact(' '.join(str(exc).split()))}"
                    + ("; run `syncd migrate` against it first" if unmigrated else "")
                )
                self._reload_failed(error)
                raise error from None
            self._checked_at = time.monotonic()
            if self._counters.consecutive_failures:
                log.info("configuration database reachable again")
            if found is None:
                self._counters.reloaded(False)
                return False
            self._install(typed_view(found.snapshot, found.types))
            self._counters.reloaded(True)
            log.info("configuration loaded from the database at commit %s", found.snapshot.commit)
            return True

    def _install(self, view: TypedView) -> None:
        """Swap in a new view: each of the two assignments is atomic, and each target is whole."""
        self._view = view
        self.snapshot = view.snapshot  # type: ignore[assignment]

    def _reader_connection(self) -> psycopg.Connection[Any]:
        if self._reader is None or self._reader.closed or self._reader.broken:
            self._drop_reader()
            self._reader = open_reader(self._dsn)
        return self._reader

    def _drop_reader(self) -> None:
        reader, self._reader = self._reader, None
        if reader is not None:
            reader.close()

    def _reload_failed(self, error: TonsuranceError) -> None:
        failures = self._counters.failed(str(error))
        level = logging.WARNING if failures == 1 else logging.DEBUG
        log.log(level, "configuration reload failed (%d in a row): %s", failures, error)

    def _reload_quietly(self) -> bool:
        try:
            return self.reload()
        except TonsuranceError:
            return False

    # -- subscribers --------------------------------------------------------------------------

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Call `callback(snapshot)` after each change of snapshot; return an unsubscriber.

        Callbacks run in the thread that reloaded, after the reload lock is released, never with
        an older snapshot after a newer one (see `tonsurance.config.subscribers`).
        """
        return self._subscribers.add(callback)

    # -- stats --------------------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        """Counters and the state of the snapshot, as plain values."""
        snap = self._view.snapshot
        counters = self._counters
        now = time.monotonic()
        checked = self._checked_at
        return {
            "hits": self._hits.value(),
            "misses": counters.misses,
            "reloads": counters.reloads,
            "changes": counters.changes,
            "reload_failures": counters.reload_failures,
            "consecutive_failures": counters.consecutive_failures,
            "source": snap.source if snap is not None else "default",
            "commit": snap.commit if snap is not None else None,
            "age_seconds": now - snap.loaded_at if snap is not None else None,
            "checked_seconds_ago": now - checked if checked is not None else None,
            "listening": self._listener.listening,
            "last_error": counters.last_error,
        }

    def register_metrics(self, registry: Any = None, *, prefix: str = "tonsurance_config") -> Any:
        """Expose the stats as Prometheus metrics on `registry` (default: the global one)."""
        from tonsurance.config.metrics import register

        return register(self, registry, prefix)
