"""The loader's stats as Prometheus metrics, read from `loader.stats()` at each scrape.

Two families of names. `<prefix>_*` (default `tonsurance_config_*`) are this project's own. The
source document's dashboard names are kept where they mean the same thing, so its queries work
as written: `config_cache_hits` and `config_cache_requests` (untyped, so that the sample names
carry no `_total` suffix; both only ever grow, so `rate()` applies), `config_cache_entries`, and
the histogram `config_db_query_duration_seconds` of the loader's database reads, labelled
`query="version"` (the version check of every reload) or `query="full"` (a read of everything).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
    UnknownMetricFamily,
)
from prometheus_client.registry import Collector

from tonsurance.config.stats import Durations

COUNTERS = {
    "hits": "Typed reads answered from the snapshot.",
    "misses": "Typed reads that fell back to the caller's default (missing key or wrong type).",
    "reloads": "Reloads that reached the database, changed or not.",
    "changes": "Reloads that swapped in a new snapshot.",
    "reload_failures": "Reloads that failed; the previous snapshot stayed in use.",
}


def _number(value: float | None) -> float:
    return math.nan if value is None else float(value)


class LoaderCollector(Collector):
    """Counters, freshness gauges, an info gauge naming source and commit, and the source
    document's cache metrics."""

    def __init__(
        self,
        stats: Callable[[], dict[str, Any]],
        durations: Durations,
        prefix: str = "tonsurance_config",
    ) -> None:
        self._stats = stats
        self._durations = durations
        self._prefix = prefix

    def collect(self) -> Iterator[Metric]:
        stats = self._stats()
        p = self._prefix
        for name, doc in COUNTERS.items():
            yield CounterMetricFamily(f"{p}_{name}", doc, value=stats[name])
        missing = CounterMetricFamily(
            f"{p}_missing_key_reads",
            "Typed reads of a key the configuration does not hold, per key (category.key).",
            labels=["key"],
        )
        for key, count in sorted(stats["missing_keys"].items()):
            missing.add_metric([key], count)
        yield missing
        gauges = {
            "snapshot_age_seconds": ("age_seconds", "Seconds since the snapshot was loaded."),
            "checked_age_seconds": (
                "since_last_poll_s",
                "Seconds since the database last answered a reload (NaN if never).",
            ),
            "version": ("version", "Configuration version of the snapshot (NaN if not from it)."),
            "stale": ("stale", "1 when the database has not answered within stale_after_s."),
            "stale_after_seconds": ("stale_after_s", "The bound that makes the loader stale."),
            "standby": ("standby", "1 when the last answer came from a hot standby."),
            "replay_lag_seconds": (
                "replay_lag_s",
                "Standby only: now() - pg_last_xact_replay_timestamp() at the last check.",
            ),
            "consecutive_failures": (
                "consecutive_failures",
                "Reloads failed in a row; 0 when the last one succeeded.",
            ),
        }
        for name, (key, doc) in gauges.items():
            yield GaugeMetricFamily(f"{p}_{name}", doc, value=_number(stats[key]))
        info = GaugeMetricFamily(
            f"{p}_snapshot_info",
            "Always 1; the labels name the loader's mode, where the snapshot came from, its commit.",
            labels=["mode", "source", "commit"],
        )
        info.add_metric([stats["mode"], stats["source"], stats["commit"] or ""], 1.0)
        yield info
        yield from self._source_document_metrics(stats)

    def _source_document_metrics(self, stats: dict[str, Any]) -> Iterator[Metric]:
        yield UnknownMetricFamily(
            "config_cache_hits", "Typed reads answered from the snapshot.", value=stats["hits"]
        )
        yield UnknownMetricFamily(
            "config_cache_requests",
            "Typed reads, answered or not (hits + misses).",
            value=stats["hits"] + stats["misses"],
        )
        yield GaugeMetricFamily(
            "config_cache_entries", "Parameters in the snapshot.", value=stats["entries"]
        )
        histogram = HistogramMetricFamily(
            "config_db_query_duration_seconds",
            "Seconds each database read of the loader took: query=version or query=full.",
            labels=["query"],
        )
        for kind, (buckets, total) in self._durations.snapshot().items():
            histogram.add_metric([kind], buckets, total)
        yield histogram


def register(
    stats: Callable[[], dict[str, Any]],
    durations: Durations,
    registry: CollectorRegistry | None,
    prefix: str,
) -> LoaderCollector:
    """Register a collector on `registry` (default: the global registry)."""
    collector = LoaderCollector(stats, durations, prefix)
    (REGISTRY if registry is None else registry).register(collector)
    return collector
