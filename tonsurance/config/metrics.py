"""The loader's stats as Prometheus metrics, read from `loader.stats()` at each scrape."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol

from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector


class HasStats(Protocol):
    def stats(self) -> dict[str, Any]: ...


COUNTERS = {
    "hits": "Typed reads answered from the snapshot.",
    "misses": "Typed reads that fell back to the caller's default (missing key or wrong type).",
    "reloads": "Reloads that reached the database, changed or not.",
    "changes": "Reloads that swapped in a new snapshot.",
    "reload_failures": "Reloads that failed; the previous snapshot stayed in use.",
}


class LoaderCollector(Collector):
    """Counters, snapshot age, and an info gauge naming the source and commit."""

    def __init__(self, loader: HasStats, prefix: str = "tonsurance_config") -> None:
        self._loader = loader
        self._prefix = prefix

    def collect(self) -> Iterator[Metric]:
        stats = self._loader.stats()
        for name, doc in COUNTERS.items():
            yield CounterMetricFamily(f"{self._prefix}_{name}", doc, value=stats[name])
        age = stats["age_seconds"]
        yield GaugeMetricFamily(
            f"{self._prefix}_snapshot_age_seconds",
            "Seconds since the current snapshot was loaded (NaN when none is).",
            value=float("nan") if age is None else age,
        )
        checked = stats["checked_seconds_ago"]
        yield GaugeMetricFamily(
            f"{self._prefix}_checked_age_seconds",
            "Seconds since the database last confirmed the snapshot current (NaN if never).",
            value=float("nan") if checked is None else checked,
        )
        yield GaugeMetricFamily(
            f"{self._prefix}_consecutive_failures",
            "Reloads failed in a row; 0 when the last one succeeded.",
            value=stats["consecutive_failures"],
        )
        info = GaugeMetricFamily(
            f"{self._prefix}_snapshot_info",
            "Always 1; the labels name where the snapshot came from and its commit.",
            labels=["source", "commit"],
        )
        info.add_metric([stats["source"], stats["commit"] or ""], 1.0)
        yield info


def register(loader: HasStats, registry: CollectorRegistry | None, prefix: str) -> LoaderCollector:
    """Register a collector for `loader` on `registry` (default: the global registry)."""
    collector = LoaderCollector(loader, prefix)
    (REGISTRY if registry is None else registry).register(collector)
    return collector
