"""Missing keys, the source document's accessor and metric names, and the freshness metrics."""

from __future__ import annotations

import logging
import math
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from syncd.sync.pipeline import apply_commit
from tonsurance.config import ConfigLoader
from tests.support import make_config_repo


@pytest.fixture
def loader(db_dsn: str, tmp_path: Path) -> ConfigLoader:
    """A started loader (no background threads) over a database synced from the shipped config."""
    repo = make_config_repo(tmp_path / "repo")
    apply_commit(repo.path, "HEAD", db_dsn)
    return ConfigLoader(db_dsn, listen=False).start(background=False)


def test_a_missing_key_warns_once_and_is_counted_per_key(
    loader: ConfigLoader, caplog: pytest.LogCaptureFixture
) -> None:
    """Reads of keys the configuration lacks give the default, warn once per key, and are
    counted per key in stats(); a key of another type is a miss but not a missing key."""
    caplog.set_level(logging.WARNING, "tonsurance.config")
    for _ in range(3):
        assert loader.get_float("pricing", "base_rate_XYZ", 0.07) == 0.07
    assert loader.get_str("risk", "region", "eu") == "eu"
    assert loader.get_str("pricing", "base_rate_USDC", "x") == "x"
    missing = [r.getMessage() for r in caplog.records if "is missing" in r.getMessage()]
    assert len(missing) == 2
    assert "pricing.base_rate_XYZ is missing; using the default 0.07" in missing[0]
    stats = loader.stats()
    assert stats["missing_keys"] == {"pricing.base_rate_XYZ": 3, "risk.region": 1}
    assert stats["misses"] == 5


def test_get_string_is_get_str(loader: ConfigLoader) -> None:
    """The source document's `get_string` reads string parameters exactly as `get_str` does."""
    key = next(k for k, v in loader.snapshot.values.items() if isinstance(v, str))
    assert loader.get_string(*key, "") == loader.get_str(*key, "") == loader.snapshot.values[key]
    assert loader.get_string("pricing", "nothing", "fallback") == "fallback"


def test_metrics_carry_the_source_document_names(loader: ConfigLoader) -> None:
    """The source document's cache metrics and the query-duration histogram are exported under
    their own names, with values that follow the reads and reloads."""
    registry = CollectorRegistry()
    loader.register_metrics(registry)
    for _ in range(4):
        loader.get_float("pricing", "base_rate_USDC", 0.0)
    loader.get_float("pricing", "base_rate_XYZ", 0.0)
    loader.reload()
    get = registry.get_sample_value
    assert get("config_cache_hits") == 4
    assert get("config_cache_requests") == 5
    assert get("config_cache_entries") == len(loader.snapshot.values)
    assert get("config_db_query_duration_seconds_count", {"query": "version"}) == 2
    assert get("config_db_query_duration_seconds_count", {"query": "full"}) == 1
    inf = get("config_db_query_duration_seconds_bucket", {"query": "version", "le": "+Inf"})
    assert inf == 2
    seconds = get("config_db_query_duration_seconds_sum", {"query": "version"})
    assert seconds is not None and 0 < seconds < 10
    assert get("tonsurance_config_missing_key_reads_total", {"key": "pricing.base_rate_XYZ"}) == 1


def test_freshness_metrics_follow_stats(loader: ConfigLoader) -> None:
    """The version, staleness and standby gauges show what stats() says; replay lag is NaN on a
    primary."""
    registry = CollectorRegistry()
    loader.register_metrics(registry, prefix="svc_config")
    stats = loader.stats()
    get = registry.get_sample_value
    assert get("svc_config_version") == stats["version"]
    assert get("svc_config_stale") == 0.0
    assert get("svc_config_standby") == 0.0
    lag = get("svc_config_replay_lag_seconds")
    assert lag is not None and math.isnan(lag)
    since = get("svc_config_checked_age_seconds")
    assert since is not None and 0 <= since < stats["stale_after_s"]
