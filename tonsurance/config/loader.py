"""The configuration loader every service holds: an immutable snapshot, kept current.

Reads never touch the database or a lock: `loader.snapshot` and the typed accessors (inherited
from `tonsurance.config.reads`) read the current `TypedView`, which a reload replaces by one
reference assignment. Reloads are serialised by a lock that readers never take. A reload checks
the database's configuration version (moved by every write: applies, drift corrections, hand
edits) and reads everything only when it moved.

Two modes. LISTEN (the default, for a single primary): a kept reader connection, a background
reload every `interval` seconds, and a LISTEN thread that checks the version when a NOTIFY
arrives and catches up on a fresh connection after every reconnect. POLL (for hot standbys and
PgBouncer): no connection between checks; every `poll_interval` seconds (with jitter) one
statement returns the version. Subscribers are called after the reload lock is released, so a
slow one never holds up a reload. A stopped loader opens no connection until it is started again.

The first load comes from the database, else from the shipped file defaults (validated with the
same schemas). Once loaded, a failing database never replaces the snapshot: the last good one
stays, failures are counted, retries back off, and the loader recovers by itself.

One module over 300 lines because it is the one class services hold: reading, watching, counting,
subscribers and the file fallback already live in the modules it imports, and what stays here is
the life of one snapshot under one reload lock, which is clearer read in one place.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from collections.abc import Callable
from typing import Any

from tonsurance.config.filedefaults import fall_back_to_files
from tonsurance.config.freshness import Freshness, Mode
from tonsurance.config.gitorigin import DefaultsOrigin
from tonsurance.config.model import Snapshot
from tonsurance.config.reader import DatabaseReader
from tonsurance.config.reads import TypedReads
from tonsurance.config.stats import Counters, MissingKeys, Tally
from tonsurance.config.subscribers import Subscriber, Subscribers
from tonsurance.config.typed import EMPTY_VIEW, TypedView, typed_view
from tonsurance.config.watch import Listener, Schedule, periodic_reloads
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
        mode: Mode | str = Mode.LISTEN,
        poll_interval: float = 2.0,
        interval: float = 60.0,
        listen: bool = True,
        timeout: float = 5.0,
        stale_after: float | None = None,
        defaults_root: str | os.PathLike[str] | None = None,
        environment: str | None = None,
    ) -> None:
        """`mode`: "listen" (kept connection, NOTIFY, a reload every `interval` s) or "poll" (a
        version check every `poll_interval` s, no connection held between checks). `listen=False`
        keeps LISTEN mode's timer without its LISTEN connection. `timeout` bounds each database
        read; `stale_after` (default: three check periods) is when stats() calls the loader stale.
        `environment` (default SYNCD_ENVIRONMENT, else dev) is whose file defaults are rendered.
        """
        try:
            self.mode = Mode(mode)
        except ValueError:
            raise UsageProblem(f"the loader mode must be listen or poll, not {mode!r}") from None
        for name, seconds in (
            ("reload interval", interval),
            ("poll interval", poll_interval),
            ("timeout", timeout),
            ("staleness bound", 1.0 if stale_after is None else stale_after),
        ):
            if not 0 < seconds < math.inf:
                raise UsageProblem(
                    f"the {name} must be a positive number of seconds, got {seconds}"
                )
        period = float(poll_interval if self.mode is Mode.POLL else interval)
        self._schedule = Schedule(period, 0.1, poll=self.mode is Mode.POLL)
        self._listen = listen and self.mode is Mode.LISTEN
        self._defaults_root = defaults_root
        self._environment = environment
        self._view: TypedView = EMPTY_VIEW
        self._hits = Tally()
        self._ticks = self._hits.ticks
        self._counters = Counters()
        self._missing = MissingKeys()
        self._reload_lock = threading.RLock()
        self._reader = DatabaseReader(
            dsn, keep_connection=self.mode is Mode.LISTEN, timeout=float(timeout)
        )
        self._freshness = Freshness(3.0 * period if stale_after is None else float(stale_after))
        self._stop = threading.Event()
        self._listener = Listener(dsn, self._check, self._catch_up, self._stop)
        self._threads: list[threading.Thread] = []
        self._subscribers = Subscribers()
        self._warned: dict[tuple[str, str, str], object] = {}
        self._defaults: DefaultsOrigin | None = None

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
                "tonsurance-config-poll" if self.mode is Mode.POLL else "tonsurance-config-reload",
                lambda: periodic_reloads(
                    self._stop,
                    self._schedule,
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
            self._reader.drop()

    def __enter__(self) -> ConfigLoader:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _spawn(self, name: str, target: Callable[[], None]) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _load_file_defaults(self, db_error: TonsuranceError) -> None:
        view, origin = fall_back_to_files(self._defaults_root, db_error, self._environment)
        with self._reload_lock:
            if self._view.snapshot is None:
                self._install(view)
                self._defaults = origin

    # -- reloading ----------------------------------------------------------------------------

    def reload(self, *, force: bool = False) -> bool:
        """Check the configuration version; read and swap in a new snapshot when it moved.

        Return True when a new snapshot was swapped in. A reload that finds the loaded version
        does nothing more (unless `force`). A failure keeps the current snapshot, is counted,
        and is raised. Subscribers are called after the reload lock is released. A stopped loader
        raises Unavailable and connects to nothing.
        """
        changed = self._reload(force, fresh=False)
        if changed:
            self._subscribers.deliver(lambda: self._view.snapshot)
        return changed

    def _check(self) -> None:
        """The LISTEN thread's reload on a notification."""
        if self._reload(False, fresh=False):
            self._subscribers.deliver(lambda: self._view.snapshot)

    def _catch_up(self) -> None:
        """The LISTEN thread's reload after a (re)connection: on a fresh reader connection."""
        if self._reload(False, fresh=True):
            self._subscribers.deliver(lambda: self._view.snapshot)

    def _reload(self, force: bool, *, fresh: bool) -> bool:
        with self._reload_lock:
            if self._stop.is_set():
                raise Unavailable("the configuration loader is stopped; call start() first")
            current = self._view.snapshot
            known = (
                None
                if force or current is None or current.source != "database"
                else current.version
            )
            try:
                result = self._reader.read(known, fresh=fresh)
                found = result.found
                view = None if found is None else typed_view(found.snapshot, found.types)
            except TonsuranceError as exc:
                self._reload_failed(exc)
                raise
            self._freshness.answered(result.check)
            if self._counters.consecutive_failures:
                log.info("configuration database reachable again")
            if view is None:
                self._counters.reloaded(False)
                return False
            self._install(view)
            self._defaults = None
            self._counters.reloaded(True)
            snap = view.snapshot
            assert snap is not None
            log.info(
                "configuration loaded from the database: commit %s, version %s",
                snap.commit,
                snap.version,
            )
            return True

    def _install(self, view: TypedView) -> None:
        """Swap in a new view: each of the two assignments is atomic, and each target is whole."""
        self._view = view
        self.snapshot = view.snapshot  # type: ignore[assignment]

    def _reload_failed(self, error: TonsuranceError) -> None:
        failures = self._counters.failed(str(error))
        level = logging.WARNING if failures == 1 else logging.DEBUG
        log.log(level, "configuration reload failed (%d in a row): %s", failures, error)

    # -- subscribers --------------------------------------------------------------------------

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Call `callback(snapshot)` after each change of snapshot; return an unsubscriber.

        Callbacks run in the thread that reloaded, after the reload lock is released, never with
        an older snapshot after a newer one (see `tonsurance.config.subscribers`).
        """
        return self._subscribers.add(callback)

    # -- stats --------------------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        """Counters and the state of the snapshot, as plain values (keys listed in the README)."""
        snap = self._view.snapshot
        counters = self._counters
        fresh = self._freshness.view()
        return {
            "mode": str(self.mode),
            "source": snap.source if snap is not None else "default",
            "commit": snap.commit if snap is not None else None,
            "version": snap.version if snap is not None else None,
            "entries": len(self._view.values),
            "hits": self._hits.value(),
            "misses": counters.misses,
            "missing_keys": self._missing.counts(),
            "reloads": counters.reloads,
            "changes": counters.changes,
            "reload_failures": counters.reload_failures,
            "consecutive_failures": counters.consecutive_failures,
            "last_error": counters.last_error,
            "age_seconds": time.monotonic() - snap.loaded_at if snap is not None else None,
            "since_last_poll_s": fresh.since_last_poll_s,
            "stale": fresh.stale,
            "stale_after_s": self._freshness.stale_after,
            "standby": fresh.standby,
            "replay_lag_s": fresh.replay_lag_s,
            "listening": self._listener.listening,
            "defaults": None if self._defaults is None else self._defaults.as_dict(),
        }

    def register_metrics(self, registry: Any = None, *, prefix: str = "tonsurance_config") -> Any:
        """Expose the stats as Prometheus metrics on `registry` (default: the global one).

        Besides the `<prefix>_*` metrics this registers the source document's names
        (`config_cache_hits`, `config_cache_requests`, `config_cache_entries`,
        `config_db_query_duration_seconds`), so one registry holds one loader's metrics.
        """
        from tonsurance.config.metrics import register

        return register(self.stats, self._reader.durations, registry, prefix)
