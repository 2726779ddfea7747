"""The loader's poll mode, multi-host addresses, read timeouts and staleness, on a real server."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from syncd.sync.pipeline import apply_commit
from tests.support import ConfigRepo, free_port, make_config_repo
from tonsurance.config import ConfigLoader
from tonsurance.config.dbread import APPLICATION_NAME
from tonsurance.errors import Unavailable, UsageProblem

PRICING = "config/pricing.yaml"


def wait_for(condition: Callable[[], bool], timeout: float, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} not met within {timeout} s")
        time.sleep(0.01)


def loader_backends(dsn: str) -> int:
    """Connections the loader has open to the test database right now."""
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "select count(*) from pg_stat_activity"
            " where datname = current_database() and application_name = %s",
            (APPLICATION_NAME,),
        ).fetchone()
    assert row is not None
    return int(row[0])


def sessions(dsn: str) -> int:
    """Sessions ever opened to the test database (pg_stat_database, PostgreSQL 14+)."""
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "select sessions from pg_stat_database where datname = current_database()"
        ).fetchone()
    assert row is not None
    return int(row[0])


@pytest.fixture
def repo(tmp_path: Path) -> ConfigRepo:
    return make_config_repo(tmp_path / "repo")


@pytest.fixture
def applied(db_dsn: str, repo: ConfigRepo) -> str:
    apply_commit(repo.path, "HEAD", db_dsn)
    return db_dsn


@pytest.fixture
def loaders() -> Iterator[list[ConfigLoader]]:
    started: list[ConfigLoader] = []
    yield started
    for loader in started:
        loader.stop()


def test_poll_mode_follows_changes_and_holds_no_connection(
    applied: str, repo: ConfigRepo, loaders: list[ConfigLoader]
) -> None:
    """A polling loader picks up an applied commit, opens a new connection per check and holds
    none between checks."""
    loader = ConfigLoader(applied, mode="poll", poll_interval=0.2).start()
    loaders.append(loader)
    assert loader.stats()["mode"] == "poll"
    opened = sessions(applied)
    wait_for(lambda: loader.stats()["reloads"] >= 4, 5, "three polls")
    assert sessions(applied) >= opened + 3
    wait_for(lambda: loader_backends(applied) == 0, 2, "no loader connection between polls")
    sha = repo.change(PRICING, "USDC: 0.04", "USDC: 0.047")
    apply_commit(repo.path, "HEAD", applied)
    wait_for(lambda: loader.snapshot.commit == sha, 3, "the applied commit")
    assert loader.snapshot.pricing.base_rate["USDC"] == 0.047
    assert loader.stats()["listening"] is False


def test_poll_stats_report_version_and_freshness(applied: str, loaders: list[ConfigLoader]) -> None:
    """stats() of a polling loader on a primary: the snapshot's version, a recent answer, not
    stale, not a standby, no replay lag, and the documented bound of three poll intervals."""
    loader = ConfigLoader(applied, mode="poll", poll_interval=0.5).start()
    loaders.append(loader)
    with psycopg.connect(applied) as conn:
        row = conn.execute("select version from config_version").fetchone()
    assert row is not None
    stats = loader.stats()
    assert stats["version"] == row[0] == loader.snapshot.version
    assert stats["since_last_poll_s"] is not None and stats["since_last_poll_s"] < 5
    assert stats["stale"] is False
    assert stats["stale_after_s"] == pytest.approx(1.5)
    assert (stats["standby"], stats["replay_lag_s"]) == (False, None)


def test_a_read_that_hangs_times_out_and_keeps_the_snapshot(
    applied: str, repo: ConfigRepo, loaders: list[ConfigLoader]
) -> None:
    """While a lock blocks every read, a check gives up after the timeout with a one-line
    error, the query is cancelled on the server, the snapshot stays, the loader turns stale;
    once the lock is gone it recovers by itself."""
    loader = ConfigLoader(
        applied, mode="poll", poll_interval=0.2, timeout=0.5, stale_after=1.0
    ).start()
    loaders.append(loader)
    before = loader.snapshot
    with psycopg.connect(applied) as blocker:
        blocker.execute("lock table config_version in access exclusive mode")
        wait_for(lambda: loader.stats()["consecutive_failures"] >= 1, 5, "a failed poll")
        error = loader.stats()["last_error"]
        assert "did not answer within 0.5 s" in error and "\n" not in error
        assert loader.snapshot is before
        wait_for(lambda: loader.stats()["stale"] is True, 5, "the loader stale")
        wait_for(lambda: loader_backends(applied) == 0, 3, "the blocked query cancelled")
    wait_for(lambda: loader.stats()["stale"] is False, 10, "recovery")
    assert loader.stats()["consecutive_failures"] == 0
    sha = repo.change(PRICING, "USDC: 0.04", "USDC: 0.043")
    apply_commit(repo.path, "HEAD", applied)
    wait_for(lambda: loader.snapshot.commit == sha, 5, "the next commit")


def test_failed_polls_back_off(loaders: list[ConfigLoader]) -> None:
    """Polls of an unreachable server are spaced further apart after each failure."""
    dead = f"host=127.0.0.1 port={free_port()} dbname=x user=postgres"
    loader = ConfigLoader(dead, mode="poll", poll_interval=0.1)
    loaders.append(loader)
    loader.start()
    time.sleep(2.0)
    failures = loader.stats()["reload_failures"]
    assert loader.stats()["source"] == "file"
    # without backoff 2 s of 0.1 s polls would be about 20 attempts; doubling gives about 5
    assert 3 <= failures <= 8


def test_a_dsn_with_no_reachable_server_names_each_one(loaders: list[ConfigLoader]) -> None:
    """A multi-host address where no server answers fails with one line naming every server
    tried, without the password."""
    ports = [free_port(), free_port()]
    dsn = (
        f"host=127.0.0.1,localhost port={ports[0]},{ports[1]} dbname=x user=u "
        "password=s3cr#t/x target_session_attrs=prefer-standby"
    )
    loader = ConfigLoader(dsn, mode="poll")
    loaders.append(loader)
    with pytest.raises(Unavailable) as raised:
        loader.reload()
    message = str(raised.value)
    assert f"127.0.0.1:{ports[0]}, localhost:{ports[1]}" in message
    assert "s3cr" not in message and "\n" not in message


@pytest.mark.parametrize("mode", ["poll", "listen"])
def test_multi_host_dsn_reaches_the_live_server(
    applied: str, repo: ConfigRepo, loaders: list[ConfigLoader], mode: str
) -> None:
    """A multi-host address whose first server is down, preferring a standby, balancing at
    random, reaches the live primary in both modes."""
    info = psycopg.conninfo.conninfo_to_dict(applied)
    dsn = (
        f"host=127.0.0.1,{info['host']} port={free_port()},{info['port']} "
        f"dbname={info['dbname']} user={info['user']} "
        "target_session_attrs=prefer-standby load_balance_hosts=random connect_timeout=2"
    )
    loader = ConfigLoader(dsn, mode=mode).start(background=False)
    loaders.append(loader)
    assert loader.stats()["source"] == "database"
    assert loader.snapshot.commit == repo.head()


def test_a_bad_mode_is_a_usage_error() -> None:
    """A mode other than listen or poll, or a poll interval that is not positive, is refused."""
    with pytest.raises(UsageProblem, match="listen or poll"):
        ConfigLoader("", mode="push")
    for bad in (0, -1.0, float("inf"), float("nan")):
        with pytest.raises(UsageProblem, match="poll interval"):
            ConfigLoader("", mode="poll", poll_interval=bad)


def test_quote_reads_through_a_multi_host_address(applied: str, repo: ConfigRepo) -> None:
    """`tonsurance quote` on a multi-host address whose first server is down prices from the
    database behind the second; with no server answering, its warning names every server tried."""
    from click.testing import CliRunner

    from tonsurance.cli.main import main

    sha = repo.change(PRICING, "USDC: 0.04", "USDC: 0.0525")
    apply_commit(repo.path, "HEAD", applied)
    info = psycopg.conninfo.conninfo_to_dict(applied)
    dead = free_port()
    live = (
        f"host=127.0.0.1,{info['host']} port={dead},{info['port']} dbname={info['dbname']}"
        f" user={info['user']} target_session_attrs=prefer-standby load_balance_hosts=random"
    )
    result = CliRunner().invoke(main, ["quote", "USDC", "100000", "--dsn", live])
    assert result.exit_code == 0, result.stderr
    assert sha[:12] in result.stdout
    other = free_port()
    down = f"host=127.0.0.1,127.0.0.1 port={dead},{other} dbname=x user=u password=pw#1 connect_timeout=2"
    result = CliRunner().invoke(main, ["quote", "USDC", "100000", "--dsn", down])
    warning = [line for line in result.stderr.splitlines() if "warning" in line]
    assert len(warning) == 1 and f"127.0.0.1:{dead}, 127.0.0.1:{other}" in warning[0]
    assert "pw#1" not in result.stdout + result.stderr
