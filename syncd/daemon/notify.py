"""Notifications through Apprise URLs (Slack, PagerDuty, Teams, e-mail, JSON webhooks, ...).

`Notifier.send` never blocks: each target has its own bounded queue drained by its own thread,
so a receiver that hangs or fails delays neither an apply nor the other targets. A message that
finds its queue full is dropped and counted; a failed send is retried with backoff, then counted
as failed. The first failure of a streak is logged, the rest are only counted, and the first
success after it is logged again.
"""

from __future__ import annotations

import logging
import queue
import random
import threading
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from enum import StrEnum

from syncd.daemon.logs import event
from syncd.daemon.notify_targets import Target, parse_targets

DEFAULT_QUEUE_SIZE = 100


class Level(StrEnum):
    """How a receiver should show a message (Apprise's notification types)."""

    INFO = "info"
    SUCCESS = "success"
    WARNING = "warning"
    FAILURE = "failure"


class Delivery(StrEnum):
    """What became of one message for one target: the label of syncd_notifications_total."""

    SENT = "sent"
    FAILED = "failed"
    DROPPED = "dropped"


@dataclass(frozen=True, slots=True)
class Message:
    """One notification; `topic` lets a URL take only some kinds (`?syncd_events=...`)."""

    title: str
    body: str
    level: Level = Level.INFO
    topic: str = ""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Tries per message, and the backoff between them (doubling, with jitter)."""

    attempts: int = 4
    first_delay: float = 1.0
    max_delay: float = 30.0


class _LastAppriseError(logging.Handler):
    """Keeps the last warning Apprise logged on each thread: the reason a send failed."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.last: dict[int, str] = {}

    def emit(self, record: logging.LogRecord) -> None:
        self.last[threading.get_ident()] = " ".join(record.getMessage().split())[:300]


_REASONS = _LastAppriseError()
_REASONS_LOCK = threading.Lock()


def _watch_apprise_log() -> None:
    with _REASONS_LOCK:
        log = logging.getLogger("apprise")
        if _REASONS not in log.handlers:
            log.addHandler(_REASONS)


class _Sender:
    """The queue and thread of one target."""

    def __init__(
        self,
        target: Target,
        queue_size: int,
        retry: RetryPolicy,
        record: Callable[[Delivery], None],
        closing: threading.Event,
    ) -> None:
        self.target = target
        self.queue: queue.Queue[Message] = queue.Queue(queue_size)
        self.retry = retry
        self.record = record
        self.closing = closing
        self.failed_in_a_row = 0
        self.dropping = False
        self.thread = threading.Thread(
            target=self._drain, name=f"notify {target.name}", daemon=True
        )

    def offer(self, message: Message) -> None:
        if self.target.topics is not None and message.topic not in self.target.topics:
            return
        try:
            self.queue.put_nowait(message)
            self.dropping = False
        except queue.Full:
            self.record(Delivery.DROPPED)
            if not self.dropping:
                self.dropping = True
                event(
                    "notify_dropped",
                    f"notifications to {self.target.name} are {self.queue.maxsize} behind;"
                    " new ones are dropped (and counted) until the queue drains",
                    logging.WARNING,
                    target=self.target.name,
                )

    def _drain(self) -> None:
        while True:
            try:
                message = self.queue.get(timeout=0.1)
            except queue.Empty:
                if self.closing.is_set():
                    return
                continue
            self._deliver(message)

    def _deliver(self, message: Message) -> None:
        delay, reason = self.retry.first_delay, ""
        for attempt in range(1, self.retry.attempts + 1):
            ok, reason = self._try(message)
            if ok:
                self.record(Delivery.SENT)
                if self.failed_in_a_row:
                    event(
                        "notify_recovered",
                        f"notifications to {self.target.name} are sent again after"
                        f" {self.failed_in_a_row} failed",
                        target=self.target.name,
                        failed=self.failed_in_a_row,
                    )
                self.failed_in_a_row = 0
                return
            if attempt == self.retry.attempts or self.closing.wait(
                delay * random.uniform(0.5, 1.0)
            ):
                break
            delay = min(delay * 2, self.retry.max_delay)
        self.record(Delivery.FAILED)
        self.failed_in_a_row += 1
        if self.failed_in_a_row == 1:
            event(
                "notify_failed",
                f"a notification to {self.target.name} failed: {reason}; further failures"
                " are counted in syncd_notifications_total until one is sent",
                logging.WARNING,
                target=self.target.name,
                error=reason,
            )

    def _try(self, message: Message) -> tuple[bool, str]:
        _REASONS.last.pop(threading.get_ident(), None)
        try:
            ok = bool(
                self.target.plugin.notify(
                    body=message.body, title=message.title, notify_type=message.level.value
                )
            )
        except Exception as exc:  # a plugin bug must not kill the sender thread
            text = self.target.hide(" ".join(str(exc).split()))
            return False, f"{type(exc).__name__}: {text[:300]}"
        why = _REASONS.last.pop(threading.get_ident(), "the receiver did not accept it")
        return ok, self.target.hide(why)


class Notifier:
    """Sends messages to Apprise URLs in the background; see the module docstring."""

    def __init__(
        self,
        urls: Sequence[str],
        *,
        queue_size: int = DEFAULT_QUEUE_SIZE,
        retry: RetryPolicy = RetryPolicy(),
        on_result: Callable[[Delivery], None] | None = None,
        topics: Collection[str] = (),
    ) -> None:
        self.targets = parse_targets(urls, topics)
        _watch_apprise_log()
        self._on_result = on_result
        self._counts = {delivery: 0 for delivery in Delivery}
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._senders = [
            _Sender(target, queue_size, retry, self._record, self._closing)
            for target in self.targets
        ]

    def _record(self, delivery: Delivery) -> None:
        with self._lock:
            self._counts[delivery] += 1
        if self._on_result is not None:
            self._on_result(delivery)

    def counts(self) -> dict[Delivery, int]:
        """Deliveries so far, per outcome (each message counts once per target)."""
        with self._lock:
            return dict(self._counts)

    def start(self) -> None:
        for sender in self._senders:
            sender.thread.start()

    def send(self, message: Message) -> None:
        """Queue `message` for every target; never waits."""
        if self._closing.is_set():
            return
        for sender in self._senders:
            sender.offer(message)

    def close(self, timeout: float = 5.0) -> None:
        """Stop taking messages; queued ones get one try each within `timeout` seconds."""
        self._closing.set()
        deadline = time.monotonic() + timeout
        for sender in self._senders:
            if sender.thread.is_alive():
                sender.thread.join(max(0.0, deadline - time.monotonic()))
