"""Loaders follow the configuration version: hand edits, drift corrections and reconnects."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from syncd.sync.pipeline import apply_commit
from tests.support import ConfigRepo, make_config_repo
from tonsurance.config import ConfigLoader
from tonsurance.config.dbread import APPLICATION_NAME

PRICING = "config/pricing.yaml"
HAND_EDIT = (
    "update config_parameters set value = to_jsonb(%s::float8)"
    " where category = 'pricing' and key = 'base_rate_USDC'"
)


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {timeout} s")
        time.sleep(0.01)


def usdc(loader: ConfigLoader) -> float:
    return loader.snapshot.pricing.base_rate["USDC"]


def hand_edit(dsn: str, rate: float) -> None:
    with psycopg.connect(dsn) as conn:
        conn.execute(HAND_EDIT, (rate,))


def terminate_loader_connections(dsn: str) -> int:
    """pg_terminate_backend on every connection of the loaders to the test database."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        rows = conn.execute(
            "select pg_terminate_backend(pid) from pg_stat_activity"
            " where datname = current_database() and application_name = %s",
            (APPLICATION_NAME,),
        ).fetchall()
    return len(rows)


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


@pytest.mark.parametrize("mode", ["listen", "poll"])
def test_a_loader_started_during_a_hand_edit_gets_the_drift_correction(
    applied: str, repo: ConfigRepo, loaders: list[ConfigLoader], mode: str
) -> None:
    """A loader that starts while a value is hand-edited holds the edit; when syncd puts the
    value back on the same commit, the loader takes the corrected value."""
    hand_edit(applied, 0.09)
    loader = ConfigLoader(applied, mode=mode, interval=3600, poll_interval=0.2).start()
    loaders.append(loader)
    assert usdc(loader) == 0.09
    outcome = apply_commit(repo.path, "HEAD", applied)
    assert outcome.result.drift
    wait_for(lambda: usdc(loader) == 0.04, 5, "the drift correction reached the loader")
    assert loader.snapshot.commit == repo.head()


def test_two_loaders_agree_again_after_one_reload_each(
    applied: str, loaders: list[ConfigLoader]
) -> None:
    """With nothing correcting drift, a loader started before a hand edit and one started after
    it hold the same value as soon as each has reloaded once since the edit."""
    first = ConfigLoader(applied, listen=False, interval=0.2).start()
    loaders.append(first)
    for rate in (0.091, 0.092, 0.093):
        hand_edit(applied, rate)
        second = ConfigLoader(applied, listen=False, interval=0.2).start()
        loaders.append(second)
        marks = [(loader, loader.stats()["reloads"]) for loader in (first, second)]
        wait_for(
            lambda marks=marks: all(ldr.stats()["reloads"] >= n + 2 for ldr, n in marks),
            5,
            "two reloads of each loader",
        )
        assert usdc(first) == usdc(second) == rate


@pytest.fixture
def service(applied: str) -> Iterator[tuple[str, str]]:
    """(role, DSN) of a login role in tonsurance_reader, as a service connects; dropped after."""
    role = f"svc_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(applied, autocommit=True) as conn:
        conn.execute(
            sql.SQL("create role {} login in role tonsurance_reader").format(sql.Identifier(role))
        )
    params = conninfo_to_dict(applied)
    params["user"] = role
    try:
        yield role, make_conninfo(**params)
    finally:
        with psycopg.connect(applied, autocommit=True) as conn:
            terminate_loader_connections(applied)
            conn.execute(sql.SQL("drop role {}").format(sql.Identifier(role)))


def set_login(dsn: str, role: str, login: bool) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            sql.SQL("alter role {} {}").format(
                sql.Identifier(role), sql.SQL("login" if login else "nologin")
            )
        )


def test_a_change_applied_while_the_loader_is_away_arrives_with_the_reconnect(
    applied: str, service: tuple[str, str], repo: ConfigRepo, loaders: list[ConfigLoader]
) -> None:
    """When the loader's connections are terminated and a change is applied before it can
    connect again (so syncd's NOTIFY is lost), the catch-up after the reconnect, on a fresh
    reader connection, brings the change; the hourly timer never runs."""
    role, dsn = service
    loader = ConfigLoader(dsn, interval=3600).start()
    loaders.append(loader)
    wait_for(lambda: loader.stats()["listening"], 5, "the loader listening")
    sha = repo.change(PRICING, "USDC: 0.04", "USDC: 0.048")
    set_login(applied, role, False)
    try:
        assert terminate_loader_connections(applied) == 2
        wait_for(lambda: not loader.stats()["listening"], 5, "the loader disconnected")
        apply_commit(repo.path, "HEAD", applied)
    finally:
        set_login(applied, role, True)
    wait_for(lambda: loader.snapshot.commit == sha, 10, "the change after the reconnect")
    assert usdc(loader) == 0.048
    assert loader.stats()["listening"]
    assert loader.stats()["reload_failures"] == 0  # the catch-up never tried the dead connection


def test_a_failing_catch_up_is_retried_until_it_succeeds(
    applied: str, service: tuple[str, str], repo: ConfigRepo, loaders: list[ConfigLoader]
) -> None:
    """After a reconnect, a catch-up that cannot read (the version is unreadable for a while) is
    tried again and again; once reading works, the change applied while the loader was away
    arrives."""
    role, dsn = service
    loader = ConfigLoader(dsn, interval=3600).start()
    loaders.append(loader)
    wait_for(lambda: loader.stats()["listening"], 5, "the loader listening")
    sha = repo.change(PRICING, "USDC: 0.04", "USDC: 0.046")
    with psycopg.connect(applied, autocommit=True) as admin:
        admin.execute("revoke select on config_version from tonsurance_reader")
        set_login(applied, role, False)
        try:
            assert terminate_loader_connections(applied) == 2
            wait_for(lambda: not loader.stats()["listening"], 5, "the loader disconnected")
            apply_commit(repo.path, "HEAD", applied)
        finally:
            set_login(applied, role, True)
        wait_for(lambda: loader.stats()["listening"], 10, "listening again")
        failures = loader.stats()["reload_failures"]
        wait_for(lambda: loader.stats()["reload_failures"] >= failures + 3, 10, "catch-ups")
        assert loader.snapshot.commit != sha
        admin.execute("grant select on config_version to tonsurance_reader")
    wait_for(lambda: loader.snapshot.commit == sha, 10, "the change after the grant")
    assert usdc(loader) == 0.046


def test_notifications_from_the_service_role_cost_at_most_a_version_check(
    applied: str, service: tuple[str, str], loaders: list[ConfigLoader]
) -> None:
    """A flood of NOTIFYs on the loaders' channel from the service role, with payloads that
    claim new versions and commits, costs far fewer version checks than messages and reads
    nothing."""
    loader = ConfigLoader(applied, interval=3600).start()
    loaders.append(loader)
    wait_for(lambda: loader.stats()["listening"], 5, "the loader listening")
    before = loader.stats()
    snapshot = loader.snapshot
    sent = 300
    with psycopg.connect(service[1], autocommit=True) as conn:
        for n in range(sent):
            payload = f"version {before['version'] + 1 + n}" if n % 2 else "f" * 40
            conn.execute("select pg_notify('tonsurance_config', %s)", (payload,))
    wait_for(lambda: loader.stats()["reloads"] > before["reloads"], 5, "a version check")
    time.sleep(0.3)
    after = loader.stats()
    # notifications arriving together, or within 50 ms of a check, share one check
    assert 1 <= after["reloads"] - before["reloads"] <= sent // 4
    assert after["changes"] == before["changes"]
    assert loader.snapshot is snapshot
