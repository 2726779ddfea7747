"""A polling loader on a hot standby reports how far behind the primary the standby is."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import psycopg
import pytest

from tests.pgbouncer import DATABASE
from tests.topology import Topology
from tonsurance.config import ConfigLoader

pytestmark = pytest.mark.slow


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        time.sleep(0.05)


def polled_lag(loader: ConfigLoader) -> tuple[float, float]:
    """(the replay lag the last poll reported, the monotonic time of that poll)."""
    stats = loader.stats()
    assert stats["replay_lag_s"] is not None and stats["since_last_poll_s"] is not None
    return stats["replay_lag_s"], time.monotonic() - stats["since_last_poll_s"]


def test_a_standby_that_falls_behind_is_reported(topology: Topology) -> None:
    """While the standby's replay is paused, a change applied on the primary does not reach a
    loader on the standby, whose reported replay lag is at least the change's age; once replay
    resumes, the change arrives and the lag is counted from that change."""
    loader = ConfigLoader(topology.standby_service_dsn, mode="poll", poll_interval=0.2).start()
    try:
        assert loader.stats()["standby"] is True
        before = loader.snapshot.pricing.base_rate["USDT"]
        wanted = 0.061 if before != 0.061 else 0.062
        with psycopg.connect(topology.standby_admin_dsn, autocommit=True) as admin:
            admin.execute("select pg_wal_replay_pause()")
            try:
                started = time.monotonic()
                sha = topology.set_base_rate("USDT", wanted)
                committed = time.monotonic()
                time.sleep(1.0)
                polls = loader.stats()["reloads"]
                wait_until(lambda: loader.stats()["reloads"] > polls, "a poll while paused")
                lag, polled_at = polled_lag(loader)
                assert lag >= polled_at - committed - 0.05
                assert loader.snapshot.pricing.base_rate["USDT"] == before
            finally:
                admin.execute("select pg_wal_replay_resume()")
        wait_until(lambda: loader.snapshot.commit == sha, "the change after replay resumed")
        assert loader.snapshot.pricing.base_rate["USDT"] == wanted
        lag, polled_at = polled_lag(loader)
        assert lag <= polled_at - started + 0.05
    finally:
        loader.stop()


def test_a_paused_or_closed_pool_keeps_the_snapshot_and_backs_off(topology: Topology) -> None:
    """Behind PgBouncer, a paused pool makes polls time out and a disabled database refuses
    them: the loader keeps its snapshot, turns stale, polls less often, and recovers by itself
    once the pool is back."""
    loader = ConfigLoader(
        topology.bouncer_service_dsn, mode="poll", poll_interval=0.2, timeout=0.5, stale_after=1.0
    ).start()
    snapshot = loader.snapshot
    try:
        for pause, resume in (("pause", "resume"), ("disable", "enable")):
            with topology.bouncer.admin() as console:
                console.execute(f"{pause} {DATABASE}")
                try:
                    failures = loader.stats()["reload_failures"]
                    wait_until(lambda: loader.stats()["stale"] is True, f"stale after {pause}")
                    time.sleep(3.0)
                    stats = loader.stats()
                    # 0.2 s polls for about 4 s would be about 20; doubling makes them about 5
                    assert 1 <= stats["reload_failures"] - failures <= 8, stats
                    assert loader.snapshot is snapshot
                finally:
                    console.execute(f"{resume} {DATABASE}")
            wait_until(lambda: loader.stats()["stale"] is False, f"recovery after {resume}", 40)
            assert loader.snapshot is snapshot
    finally:
        loader.stop()


def test_listen_mode_on_a_standby_says_to_poll(
    topology: Topology, caplog: pytest.LogCaptureFixture
) -> None:
    """A LISTEN-mode loader pointed at a standby still loads (its timer reads the standby) and
    says once that a standby cannot LISTEN and poll mode is the one to use there."""
    caplog.set_level(logging.WARNING, "tonsurance.config")
    loader = ConfigLoader(topology.standby_service_dsn).start()
    try:
        assert loader.stats()["source"] == "database"
        wait_until(lambda: "use ConfigLoader(dsn, mode='poll')" in caplog.text, "the hint")
        assert loader.stats()["listening"] is False
    finally:
        loader.stop()
