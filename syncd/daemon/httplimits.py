"""The HTTP side's limits, and what it counts and logs when a limit is hit."""

from __future__ import annotations

import errno
import logging
import time
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge

from syncd.daemon.logs import event
from syncd.daemon.webhook import MAX_BODY_BYTES

MAX_CONNECTIONS = 2048
# Descriptors kept for the sync loop (git and its pipes, PostgreSQL, the mirror, the logs).
RESERVED_DESCRIPTORS = 256
REFUSAL_REASONS = ("busy", "timeout", "too_large", "bad_request", "descriptors")
_LOG_EVERY = 60.0


@dataclass(frozen=True)
class HttpLimits:
    """How much one client, and all of them together, may take."""

    max_connections: int = MAX_CONNECTIONS
    # A connection that sends nothing (new, or kept alive after an answer) is closed after
    # 36 to 60 s; once more than 3/4 of max_connections are open, after header_timeout.
    idle_timeout: float = 60.0
    # From the first byte of a request to the end of its head: a client trickling it is cut off.
    header_timeout: float = 5.0
    body_timeout: float = 30.0  # to receive a whole webhook body
    write_timeout: float = 10.0  # for a client to take a response
    max_header_bytes: int = 16 * 1024
    max_body_bytes: int = MAX_BODY_BYTES

    @classmethod
    def for_descriptors(cls, soft_limit: int) -> HttpLimits:
        """At most MAX_CONNECTIONS, always leaving RESERVED_DESCRIPTORS to the sync loop."""
        return cls(max_connections=max(8, min(MAX_CONNECTIONS, soft_limit - RESERVED_DESCRIPTORS)))


class HttpStats:
    """Connection gauge and refusal counter; one log line a minute at most per kind of trouble."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        reg = registry or CollectorRegistry()
        self.connections = Gauge(
            "syncd_http_connections", "Open connections to the HTTP endpoints.", registry=reg
        )
        self.refusals = Counter(
            "syncd_http_refused",
            "HTTP connections or requests refused by a limit, by reason.",
            ["reason"],
            registry=reg,
        )
        for reason in REFUSAL_REASONS:
            self.refusals.labels(reason)
        self._logged: dict[str, float] = {}

    def _once_a_minute(self, kind: str) -> bool:
        now = time.monotonic()
        if now - self._logged.get(kind, -_LOG_EVERY) < _LOG_EVERY:
            return False
        self._logged[kind] = now
        return True

    def refused(self, reason: str) -> None:
        self.refusals.labels(reason).inc()
        if reason == "busy" and self._once_a_minute(reason):
            event(
                "http_busy",
                "HTTP connection limit reached: new connections get 503 and are closed",
                logging.WARNING,
            )

    def accept_failed(self, exc: OSError) -> None:
        """accept() failed for want of descriptors or memory; it is tried again in a second."""
        self.refusals.labels("descriptors").inc()
        if self._once_a_minute("descriptors"):
            event(
                "descriptors_exhausted",
                f"cannot accept HTTP connections: {exc.strerror or exc}; accepting again in 1 s",
                logging.ERROR,
                errno=errno.errorcode.get(exc.errno or 0),
            )

    def loop_error(self, message: str, exc: BaseException | None) -> None:
        if self._once_a_minute("loop"):
            detail = f": {type(exc).__name__}: {exc}" if exc else ""
            event("http_error", f"{message}{detail}", logging.WARNING)
