"""The daemon's Prometheus metrics, in a registry of its own (several daemons fit one process)."""

from __future__ import annotations

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)

from syncd.daemon.faultkind import DEPENDENCIES

DELIVERIES = ("sent", "failed", "dropped")
CHANGE_ACTIONS = ("add", "change", "remove")
FAILURE_REASONS = ("invalid_commit", "database", "git", "disk", "descriptors", "apply_error")
APPLY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Metrics:
    """Counters, gauges and the apply-duration histogram that `/metrics` exposes."""

    def __init__(self, branch: str, environment: str = "dev") -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        reg = self.registry
        ProcessCollector(registry=reg)
        PlatformCollector(registry=reg)
        self.info = Gauge(
            "syncd_info",
            "Always 1; the branch this daemon follows and the environment it applies.",
            ["branch", "environment"],
            registry=reg,
        )
        self.info.labels(branch, environment).set(1)
        self.applies = Counter(
            "syncd_applies",
            "Commits handed to the sync engine, by outcome.",
            ["outcome"],
            registry=reg,
        )
        self.failures = Counter(
            "syncd_apply_failures",
            "Cycles that could not bring the database to the branch head, by reason.",
            ["reason"],
            registry=reg,
        )
        for reason in FAILURE_REASONS:
            self.failures.labels(reason)
        self.duration = Histogram(
            "syncd_apply_duration_seconds",
            "Time to apply one commit (or correct drift), transaction included.",
            buckets=APPLY_BUCKETS,
            registry=reg,
        )
        self.lag_seconds = Gauge(
            "syncd_lag_seconds",
            "Seconds since the branch head that is not applied yet was first seen; 0 when in sync.",
            registry=reg,
        )
        self.lag_commits = Gauge(
            "syncd_lag_commits",
            "Commits between the applied commit and the branch head.",
            registry=reg,
        )
        self.drift_rows = Gauge(
            "syncd_drift_rows",
            "Rows that differ from the applied commit at the last check.",
            registry=reg,
        )
        self.rewrites = Counter(
            "syncd_history_rewrites",
            "Commits applied that do not descend from the applied one (force push, reset).",
            registry=reg,
        )
        self.changes = Counter(
            "syncd_changes",
            "Parameters and table rows that applied commits added, changed or removed.",
            ["action"],
            registry=reg,
        )
        for action in CHANGE_ACTIONS:
            self.changes.labels(action)
        self.reverts = Counter(
            "syncd_reverts",
            'Applied commits made by `git revert` (their subject starts with `Revert "`).',
            registry=reg,
        )
        self.drift_corrections = Counter(
            "syncd_drift_corrections", "Times drift in the database was put back.", registry=reg
        )
        self.last_success = Gauge(
            "syncd_last_success_timestamp_seconds",
            "Unix time of the last cycle that found the database at the branch head (or at the"
            " newest valid commit).",
            registry=reg,
        )
        self.up = Gauge(
            "syncd_dependency_up",
            "1 when the dependency answered at the last try.",
            ["dependency"],
            registry=reg,
        )
        for dependency in DEPENDENCIES:
            self.up.labels(dependency).set(1)
        self.active = Gauge(
            "syncd_active",
            "1 when this daemon holds the leader lock and applies; 0 on standby.",
            registry=reg,
        )
        self.apply_blocked = Gauge(
            "syncd_apply_blocked",
            "1 while applies wait on locks held by other sessions for longer than one interval.",
            registry=reg,
        )
        self.head_refused = Gauge(
            "syncd_head_refused",
            "1 when the branch head failed validation and is not applied.",
            registry=reg,
        )

        self.notifications = Counter(
            "syncd_notifications",
            "Notifications by result, one per message and URL: sent, failed after its retries,"
            " or dropped because the URL's queue was full.",
            ["result"],
            registry=reg,
        )
        for result in DELIVERIES:
            self.notifications.labels(result)

    def render(self) -> bytes:
        return generate_latest(self.registry)
