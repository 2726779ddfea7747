"""The config loader against a real database filled by syncd from a real git repository."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from prometheus_client import CollectorRegistry

from syncd.sync.migrate import migrate
from syncd.sync.pipeline import apply_commit
from tests.support import ConfigRepo, free_port, make_config_repo, throwaway_cluster
from tonsurance import pricing
from tonsurance.config import ConfigLoader, Snapshot
from tonsurance.config.layout import default_root
from tonsurance.config.render import validate_environment
from tonsurance.config.sources import read_directory
from tonsurance.errors import InvalidConfig, Unavailable, UsageProblem

PRICING = "config/pricing.yaml"


def wait_for(condition: Callable[[], bool], timeout: float) -> float:
    """Poll `condition` until it holds; return the seconds it took, or fail after `timeout`."""
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > timeout:
            pytest.fail(f"condition not met within {timeout} s")
        time.sleep(0.005)
    return time.monotonic() - start


def usdc_rate(loader: ConfigLoader) -> float:
    return loader.snapshot.pricing.base_rate["USDC"]


def dead_dsn() -> str:
    return f"postgresql://postgres@127.0.0.1:{free_port()}/postgres?connect_timeout=2"


@pytest.fixture
def repo(tmp_path: Path) -> ConfigRepo:
    return make_config_repo(tmp_path / "repo")


@pytest.fixture
def applied(db_dsn: str, repo: ConfigRepo) -> str:
    """The DSN of a database holding the repository's first commit, applied by syncd."""
    apply_commit(repo.path, "HEAD", db_dsn)
    return db_dsn


@pytest.fixture
def loaders() -> Iterator[list[ConfigLoader]]:
    """Loaders a test starts; every one is stopped afterwards."""
    started: list[ConfigLoader] = []
    yield started
    for loader in started:
        loader.stop()


def test_start_reads_the_applied_commit(
    applied: str, repo: ConfigRepo, loaders: list[ConfigLoader]
) -> None:
    """A loader started against a synced database holds that commit's values (of the default
    environment, dev), from the database."""
    loader = ConfigLoader(applied, listen=False).start(background=False)
    loaders.append(loader)
    assert loader.stats()["source"] == "database"
    assert loader.snapshot.commit == repo.head()
    assert usdc_rate(loader) == 0.04
    dev = validate_environment(read_directory(repo.path), "dev").state
    assert dev is not None
    expected = dev.parameters[("risk", "monte_carlo_simulations")].value
    assert loader.get_int("risk", "monte_carlo_simulations", 0) == expected


def test_notify_delivers_a_commit_within_a_second(
    applied: str, repo: ConfigRepo, loaders: list[ConfigLoader]
) -> None:
    """A value changed by a git commit and syncd apply reaches a running loader through NOTIFY."""
    loader = ConfigLoader(applied, interval=3600).start()
    loaders.append(loader)
    wait_for(lambda: loader.stats()["listening"], 5)
    sha = repo.change(PRICING, "USDC: 0.04", "USDC: 0.045")
    apply_commit(repo.path, "HEAD", applied)
    took = wait_for(lambda: usdc_rate(loader) == 0.045, 1.0)
    assert took < 1.0
    assert loader.snapshot.commit == sha


def test_interval_reload_without_notify(
    applied: str, repo: ConfigRepo, loaders: list[ConfigLoader]
) -> None:
    """Without LISTEN, the periodic reload picks up an applied commit within about one interval."""
    loader = ConfigLoader(applied, interval=0.5, listen=False).start()
    loaders.append(loader)
    sha = repo.change(PRICING, "USDC: 0.04", "USDC: 0.042")
    apply_commit(repo.path, "HEAD", applied)
    wait_for(lambda: loader.snapshot.commit == sha, 2.0)
    assert usdc_rate(loader) == 0.042
    assert loader.stats()["listening"] is False


def test_reload_follows_the_version_not_the_commit(
    applied: str, loaders: list[ConfigLoader]
) -> None:
    """A reload with no write since the last one keeps the snapshot; a hand edit on the same
    commit moves the configuration version, and the next reload takes the edited value."""
    loader = ConfigLoader(applied, listen=False).start(background=False)
    loaders.append(loader)
    before = loader.snapshot
    assert loader.reload() is False
    assert loader.snapshot is before
    with psycopg.connect(applied) as conn:
        conn.execute(
            "update config_parameters set value = '0.09' "
            "where category = 'pricing' and key = 'base_rate_USDC'"
        )
    assert loader.reload() is True
    assert usdc_rate(loader) == 0.09
    assert loader.snapshot.commit == before.commit
    assert loader.snapshot.version is not None and before.version is not None
    assert loader.snapshot.version > before.version
    assert loader.reload(force=True) is True
    stats = loader.stats()
    assert (stats["reloads"], stats["changes"], stats["version"]) == (
        4,
        3,
        loader.snapshot.version,
    )


def test_start_without_database_uses_file_defaults(loaders: list[ConfigLoader]) -> None:
    """With no database reachable, the loader starts from the shipped config/ files."""
    loader = ConfigLoader(dead_dsn(), listen=False).start(background=False)
    loaders.append(loader)
    stats = loader.stats()
    assert stats["source"] == "file"
    assert stats["commit"] is None
    assert stats["reload_failures"] == 1
    assert "cannot connect" in stats["last_error"]
    assert loader.get_float("pricing", "base_rate_USDT", 0.0) == 0.06


def test_file_defaults_come_from_the_given_root(
    tmp_path: Path, loaders: list[ConfigLoader]
) -> None:
    """The file defaults are read from `defaults_root` when one is given."""
    repo = make_config_repo(tmp_path / "defaults")
    repo.replace(PRICING, "USDC: 0.04", "USDC: 0.031")
    loader = ConfigLoader(dead_dsn(), listen=False, defaults_root=repo.path).start(background=False)
    loaders.append(loader)
    assert usdc_rate(loader) == 0.031


def test_invalid_file_defaults_are_refused(tmp_path: Path) -> None:
    """File defaults that fail their schema are not used: with no database the start fails."""
    repo = make_config_repo(tmp_path / "defaults")
    repo.replace(PRICING, "USDC: 0.04", "USDC: -0.04")
    loader = ConfigLoader(dead_dsn(), listen=False, defaults_root=repo.path)
    with pytest.raises(Unavailable, match=r"pricing\.yaml.*base_rates\.USDC"):
        loader.start(background=False)
    assert loader.stats()["source"] == "default"
    assert loader.get_float("pricing", "base_rate_USDC", 0.5) == 0.5


def test_empty_database_uses_files_then_switches(
    db_dsn: str, repo: ConfigRepo, loaders: list[ConfigLoader]
) -> None:
    """A migrated database without an applied commit gives file defaults until syncd applies one."""
    loader = ConfigLoader(db_dsn, interval=3600).start()
    loaders.append(loader)
    assert loader.stats()["source"] == "file"
    assert "no applied configuration" in loader.stats()["last_error"]
    wait_for(lambda: loader.stats()["listening"], 5)
    repo.change(PRICING, "USDC: 0.04", "USDC: 0.043")
    apply_commit(repo.path, "HEAD", db_dsn)
    wait_for(lambda: loader.stats()["source"] == "database", 1.0)
    assert usdc_rate(loader) == 0.043


def test_malformed_database_rows_keep_the_last_snapshot(
    applied: str, loaders: list[ConfigLoader]
) -> None:
    """Rows that do not make a whole configuration are refused and the last snapshot stays."""
    loader = ConfigLoader(applied, listen=False).start(background=False)
    loaders.append(loader)
    before = loader.snapshot
    with psycopg.connect(applied) as conn:
        conn.execute("delete from config_parameters where key = 'trigger_base_price'")
        conn.execute("update sync_state set applied_commit = 'f' || repeat('0', 39)")
    with pytest.raises(InvalidConfig, match="incomplete or malformed"):
        loader.reload()
    assert loader.snapshot is before
    assert loader.stats()["reload_failures"] == 1


def test_type_mismatch_warns_once_per_key(
    applied: str, loaders: list[ConfigLoader], caplog: pytest.LogCaptureFixture
) -> None:
    """A read of the wrong type returns the caller's default 1000 times with one warning."""
    loader = ConfigLoader(applied, listen=False).start(background=False)
    loaders.append(loader)
    with caplog.at_level(logging.WARNING, logger="tonsurance.config"):
        values = {loader.get_int("pricing", "base_rate_USDC", 7) for _ in range(1000)}
        strs = {loader.get_str("pricing", "duration_base_days", "x") for _ in range(1000)}
    assert values == {7}
    assert strs == {"x"}
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2
    assert "pricing.base_rate_USDC is of type float, not int" in warnings[0]
    assert loader.stats()["misses"] == 2000


def test_accessors_convert_count_and_default(applied: str, loaders: list[ConfigLoader]) -> None:
    """Typed accessors widen ints to float, count hits and misses, and default a missing key."""
    loader = ConfigLoader(applied, listen=False).start(background=False)
    loaders.append(loader)
    assert loader.get_float("pricing", "duration_base_days", 0.0) == 90.0
    assert isinstance(loader.get_float("pricing", "duration_base_days", 0.0), float)
    assert loader.get_str("tranche", "SURE-SNR_curve_type", "") == "logarithmic"
    assert loader.get_json("risk", "reserve_multiplier", None) == 1.5
    assert loader.get_float("pricing", "no_such_key", 1.25) == 1.25
    assert loader.get_json("nowhere", "nothing", {"a": 1}) == {"a": 1}
    stats = loader.stats()
    assert (stats["hits"], stats["misses"]) == (4, 2)


def test_json_values_are_copies_and_bools_are_not_numbers(
    applied: str, loaders: list[ConfigLoader]
) -> None:
    """get_json hands out a copy of an object value, and a JSON true is not a float."""
    with psycopg.connect(applied) as conn:
        conn.execute(
            "insert into config_parameters (category, key, value, value_type) values "
            "('pricing', 'flags', '{\"regions\": [\"eu\"]}', 'json'), "
            "('pricing', 'enabled', 'true', 'json')"
        )
        conn.execute("update sync_state set applied_commit = 'a' || repeat('0', 39)")
    loader = ConfigLoader(applied, listen=False).start(background=False)
    loaders.append(loader)
    flags = loader.get_json("pricing", "flags", None)
    assert flags == {"regions": ["eu"]}
    flags["regions"].append("us")
    assert loader.get_json("pricing", "flags", None) == {"regions": ["eu"]}
    assert loader.get_json("pricing", "enabled", False) is True
    assert loader.get_float("pricing", "enabled", 0.5) == 0.5
    assert loader.get_int("pricing", "enabled", 3) == 3


def test_seed_helpers_read_the_loaded_snapshot(applied: str, loaders: list[ConfigLoader]) -> None:
    """The source document's helpers, given the loader's snapshot, read the applied values."""
    loader = ConfigLoader(applied, listen=False).start(background=False)
    loaders.append(loader)
    p = loader.snapshot.pricing
    assert pricing.get_base_rate(p, "USDT") == 0.06
    assert pricing.get_base_rate(p, "NOPE") == p.base_rate_default == 0.10
    assert pricing.get_risk_weight(p, "regulatory_clarity") == -0.10
    assert pricing.get_utilization_multiplier(p, 0.8) == 1.25
    assert pricing.get_size_discount(p, 2_000_000) == 0.10
    with pytest.raises(UsageProblem, match="unknown risk factor"):
        pricing.get_risk_weight(p, "vibes")


def test_subscribers_get_each_new_snapshot(
    applied: str, repo: ConfigRepo, loaders: list[ConfigLoader]
) -> None:
    """A subscriber is called with the new snapshot after a change, and not after unsubscribing."""
    loader = ConfigLoader(applied, listen=False).start(background=False)
    loaders.append(loader)
    seen: list[Snapshot] = []
    unsubscribe = loader.subscribe(seen.append)
    assert loader.reload() is False
    sha = repo.change(PRICING, "USDC: 0.04", "USDC: 0.044")
    apply_commit(repo.path, "HEAD", applied)
    assert loader.reload() is True
    assert [s.commit for s in seen] == [sha]
    assert seen[0] is loader.snapshot
    unsubscribe()
    repo.change(PRICING, "USDC: 0.044", "USDC: 0.046")
    apply_commit(repo.path, "HEAD", applied)
    assert loader.reload() is True
    assert len(seen) == 1


def test_metrics_report_the_stats(
    applied: str, repo: ConfigRepo, loaders: list[ConfigLoader]
) -> None:
    """The Prometheus collector reports the same counters, source and commit as stats()."""
    loader = ConfigLoader(applied, listen=False).start(background=False)
    loaders.append(loader)
    registry = CollectorRegistry()
    loader.register_metrics(registry)
    loader.get_float("pricing", "base_rate_USDC", 0.0)
    loader.get_float("pricing", "missing", 0.0)
    assert registry.get_sample_value("tonsurance_config_hits_total") == 1
    assert registry.get_sample_value("tonsurance_config_misses_total") == 1
    assert registry.get_sample_value("tonsurance_config_reloads_total") == 1
    labels = {"mode": "listen", "source": "database", "commit": repo.head()}
    assert registry.get_sample_value("tonsurance_config_snapshot_info", labels) == 1
    age = registry.get_sample_value("tonsurance_config_snapshot_age_seconds")
    assert age is not None and 0 <= age < 60


def test_nothing_loaded_means_defaults(loaders: list[ConfigLoader]) -> None:
    """Before any load the accessors give the caller's default and the snapshot is unavailable."""
    loader = ConfigLoader(dead_dsn(), listen=False)
    assert loader.get_float("pricing", "base_rate_USDC", 0.5) == 0.5
    assert loader.stats()["source"] == "default"
    with pytest.raises(Unavailable, match="no configuration is loaded"):
        _ = loader.snapshot


def test_a_bad_interval_is_a_usage_error() -> None:
    """A reload interval that is not a positive number of seconds is refused."""
    with pytest.raises(UsageProblem, match="interval"):
        ConfigLoader("", interval=0)


def test_shipped_defaults_are_found() -> None:
    """The default root holds the shipped config/ that file defaults are read from."""
    assert (default_root() / "config" / "pricing.yaml").is_file()


@pytest.mark.slow
def test_database_outage_keeps_snapshot_and_recovers(
    tmp_path: Path, loaders: list[ConfigLoader]
) -> None:
    """A stopped database keeps the last snapshot and counts failures; recovery needs no help."""
    repo = make_config_repo(tmp_path / "repo")
    with throwaway_cluster() as cluster:
        migrate(cluster.dsn)
        apply_commit(repo.path, "HEAD", cluster.dsn)
        loader = ConfigLoader(cluster.dsn, interval=0.5).start()
        loaders.append(loader)
        wait_for(lambda: loader.stats()["listening"], 5)
        held = loader.snapshot

        cluster.stop()
        wait_for(lambda: loader.stats()["reload_failures"] >= 2, 10)
        assert loader.snapshot is held
        assert loader.stats()["source"] == "database"
        with pytest.raises(Unavailable):
            loader.reload()
        loader.stop()
        loader.start()
        assert loader.snapshot is held, "a restart during the outage must not fall back to files"

        cluster.start()
        wait_for(lambda: loader.stats()["consecutive_failures"] == 0, 30)
        wait_for(lambda: loader.stats()["listening"], 30)
        sha = repo.change(PRICING, "USDC: 0.04", "USDC: 0.041")
        apply_commit(repo.path, "HEAD", cluster.dsn)
        wait_for(lambda: loader.snapshot.commit == sha, 1.0)
        assert usdc_rate(loader) == 0.041
