"""Many reader threads against a loader whose snapshot is replaced underneath them."""

from __future__ import annotations

import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from syncd.sync.pipeline import apply_commit
from tonsurance.config import ConfigLoader
from tonsurance.config.model import Snapshot
from tonsurance.db import NOTIFY_CHANNEL
from tonsurance.errors import Unavailable, UsageProblem
from tests.support import make_config_repo

READERS = 4
RATE_KEYS = "key like 'base\\_rate\\_%%'"


class Writer:
    """Writes a whole configuration change in one transaction, as syncd would, and NOTIFYs it.

    Every base rate gets the same value and every depeg event the same duration, so a snapshot
    that mixes two changes shows rates or durations that differ from what its commit wrote.
    """

    def __init__(self, dsn: str) -> None:
        self.conn = psycopg.connect(dsn)
        self.expected: dict[str, tuple[float, float]] = {}

    def write(self, rate: float, hours: float) -> str:
        sha = uuid.uuid4().hex + uuid.uuid4().hex[:8]
        self.expected[sha] = (rate, hours)
        with self.conn.transaction():
            self.conn.execute(
                f"update config_parameters set value = to_jsonb(%s::float8) "
                f"where category = 'pricing' and {RATE_KEYS}",
                (rate,),
            )
            self.conn.execute("update historical_depegs set duration_hours = %s", (hours,))
            self.conn.execute("update sync_state set applied_commit = %s", (sha,))
            self.conn.execute("select pg_notify(%s, %s)", (NOTIFY_CHANNEL, sha))
        return sha


def check_snapshot(loader: ConfigLoader, expected: dict[str, tuple[float, float]]) -> str | None:
    """What is wrong with the snapshot a reader holds right now, or None."""
    snap = loader.snapshot
    want = expected.get(snap.commit or "")
    if want is None:
        return f"snapshot of unknown commit {snap.commit}"
    rate, hours = want
    p = snap.pricing
    rates = set(p.base_rate.values()) | {
        p.base_rate_default,
        snap.values[("pricing", "base_rate_USDC")],
    }
    if rates != {rate}:
        return f"commit {snap.commit[:8]} wrote rate {rate} but the snapshot holds {sorted(rates)}"
    durations = {e.duration_hours for e in snap.depegs}
    if durations != {hours}:
        held = sorted(durations)
        return f"commit {snap.commit[:8]} wrote duration {hours} but the snapshot holds {held}"
    return None


class Readers:
    """Threads that check every snapshot they get, and every typed read, until stopped."""

    def __init__(self, loader: ConfigLoader, expected: dict[str, tuple[float, float]]) -> None:
        self.loader = loader
        self.expected = expected
        self.stop = threading.Event()
        self.problems: list[str] = []
        self.seen_rates: set[float] = set()
        self.checks = 0
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.run) for _ in range(READERS)]

    def run(self) -> None:
        checks = 0
        seen: set[float] = set()
        while not self.stop.is_set():
            problem = check_snapshot(self.loader, self.expected)
            seen.add(self.loader.get_float("pricing", "base_rate_USDC", -1.0))
            checks += 1
            if problem:
                with self.lock:
                    self.problems.append(problem)
        with self.lock:
            self.checks += checks
            self.seen_rates |= seen

    def __enter__(self) -> Readers:
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for t in self.threads:
            t.join()


@pytest.fixture
def fast_switching() -> Iterator[None]:
    """Switch threads every 0.5 ms, so busy readers interleave finely with reloads."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(0.0005)
    yield
    sys.setswitchinterval(before)


@pytest.fixture
def live(db_dsn: str, tmp_path: Any, fast_switching: None) -> Iterator[tuple[ConfigLoader, Writer]]:
    """A loader reloading on NOTIFY and every 10 ms, over a database filled by syncd."""
    repo = make_config_repo(tmp_path / "repo")
    apply_commit(repo.path, "HEAD", db_dsn)
    writer = Writer(db_dsn)
    first = writer.write(0.05, 24.0)
    loader = ConfigLoader(db_dsn, interval=0.01).start()
    assert loader.snapshot.commit == first
    try:
        yield loader, writer
    finally:
        loader.stop()
        writer.conn.close()


def wait_for_commit(loader: ConfigLoader, sha: str, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while loader.snapshot.commit != sha:
        assert time.monotonic() < deadline, f"loader did not reach {sha} within {timeout} s"
        time.sleep(0.002)


changes = st.lists(
    st.tuples(
        st.floats(min_value=0.001, max_value=0.5, allow_nan=False),
        st.floats(min_value=1.0, max_value=720.0, allow_nan=False),
        st.sampled_from([0.0, 0.0, 0.002, 0.01]),
    ),
    min_size=1,
    max_size=8,
)


def test_readers_never_see_a_mixed_snapshot(live: tuple[ConfigLoader, Writer]) -> None:
    """Reader threads only ever hold snapshots of one whole commit, however fast they change."""
    loader, writer = live
    forcing = threading.Event()

    def force_reloads() -> None:
        while not forcing.wait(0.001):
            loader.reload(force=True)

    forcer = threading.Thread(target=force_reloads)
    forcer.start()
    try:

        @settings(max_examples=25, deadline=None, database=None)
        @given(changes)
        def run(steps: list[tuple[float, float, float]]) -> None:
            with Readers(loader, writer.expected) as readers:
                for rate, hours, pause in steps:
                    last = writer.write(rate, hours)
                    time.sleep(pause)
                wait_for_commit(loader, last)
                time.sleep(0.01)
            assert readers.problems == []
            assert readers.checks > 0
            written = {rate for rate, _ in writer.expected.values()}
            assert readers.seen_rates <= written, "a typed read returned a default during a swap"

        run()
    finally:
        forcing.set()
        forcer.join()
    assert loader.stats()["changes"] > 25


def test_hits_are_counted_exactly_under_threads(live: tuple[ConfigLoader, Writer]) -> None:
    """Concurrent typed reads during reloads lose no hit and no miss in the stats."""
    loader, writer = live
    per_thread = 20_000

    def read() -> None:
        for _ in range(per_thread):
            loader.get_float("pricing", "base_rate_USDC", -1.0)
            loader.get_float("pricing", "absent", -1.0)

    threads = [threading.Thread(target=read) for _ in range(READERS)]
    before = loader.stats()
    for t in threads:
        t.start()
    for rate in (0.06, 0.07, 0.08):
        writer.write(rate, 12.0)
        time.sleep(0.01)
    for t in threads:
        t.join()
    after = loader.stats()
    assert after["hits"] - before["hits"] == READERS * per_thread
    assert after["misses"] - before["misses"] == READERS * per_thread


@pytest.fixture
def synced(db_dsn: str, tmp_path: Any) -> Iterator[Writer]:
    """A database filled by syncd from a real repository, and a writer of further commits."""
    repo = make_config_repo(tmp_path / "repo")
    apply_commit(repo.path, "HEAD", db_dsn)
    writer = Writer(db_dsn)
    writer.write(0.05, 24.0)
    try:
        yield writer
    finally:
        writer.conn.close()


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what} did not happen within {timeout} s"
        time.sleep(0.01)


def connections(dsn: str, writer: Writer) -> int:
    """Client connections to the test database, other than the writer's and the asking one."""
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "select count(*) from pg_stat_activity where datname = current_database()"
            " and backend_type = 'client backend' and pid not in (pg_backend_pid(), %s)",
            (writer.conn.info.backend_pid,),
        ).fetchone()
    assert row is not None
    return int(row[0])


def test_slow_subscriber_does_not_hold_up_a_reload(db_dsn: str, synced: Writer) -> None:
    """While a subscriber is still busy with one change, another thread's reload swaps in the
    next commit at once, and the subscriber then gets the changes in order."""
    loader = ConfigLoader(db_dsn, listen=False).start(background=False)
    gate, entered = threading.Event(), threading.Event()
    seen: list[str | None] = []

    def slow(snapshot: Snapshot) -> None:
        seen.append(snapshot.commit)
        entered.set()
        gate.wait(10)

    loader.subscribe(slow)
    first = synced.write(0.06, 12.0)
    busy = threading.Thread(target=loader.reload)
    try:
        busy.start()
        assert entered.wait(5)
        second = synced.write(0.07, 6.0)
        started = time.monotonic()
        assert loader.reload() is True
        took = time.monotonic() - started
        assert loader.snapshot.commit == second
        assert took < 2.0, f"the reload waited {took:.1f} s for a subscriber"
    finally:
        gate.set()
        busy.join(5)
        loader.stop()
    assert seen == [first, second]


def test_stop_then_start_leaks_no_connection(db_dsn: str, synced: Writer) -> None:
    """A stopped loader holds no connection and a late reload opens none; starting it again
    brings back the reader and the listener, and stopping closes both."""
    loader = ConfigLoader(db_dsn, interval=0.05).start()
    try:
        wait_until(lambda: connections(db_dsn, synced) == 2, "reader and listener connected")
        loader.stop()
        wait_until(lambda: connections(db_dsn, synced) == 0, "connections closed on stop")
        with pytest.raises(Unavailable, match="stopped"):
            loader.reload()
        time.sleep(0.2)
        assert connections(db_dsn, synced) == 0
        loader.start()
        sha = synced.write(0.08, 3.0)
        wait_for_commit(loader, sha)
        wait_until(lambda: connections(db_dsn, synced) == 2, "reader and listener reconnected")
    finally:
        loader.stop()
    wait_until(lambda: connections(db_dsn, synced) == 0, "connections closed on the last stop")


def test_start_is_refused_while_a_thread_of_the_last_start_runs(
    db_dsn: str, synced: Writer
) -> None:
    """When stop() times out on a thread still running, start() refuses with a clear error and
    works once that thread has ended."""
    loader = ConfigLoader(db_dsn, interval=3600).start()
    gate, entered = threading.Event(), threading.Event()

    def stuck(snapshot: Snapshot) -> None:
        entered.set()
        gate.wait(10)

    try:
        wait_until(lambda: bool(loader.stats()["listening"]), "the loader listening")
        loader.subscribe(stuck)
        synced.write(0.06, 12.0)
        assert entered.wait(5), "the listener thread did not deliver the change"
        started = time.monotonic()
        loader.stop(timeout=0.1)
        assert time.monotonic() - started < 2.0
        with pytest.raises(UsageProblem, match="tonsurance-config-listen .* still running"):
            loader.start()
        gate.set()
        loader.stop()
        loader.start()
        wait_until(lambda: connections(db_dsn, synced) == 2, "reader and listener reconnected")
    finally:
        gate.set()
        loader.stop()
    wait_until(lambda: connections(db_dsn, synced) == 0, "connections closed on the last stop")
