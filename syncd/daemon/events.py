"""What the daemon tells people about: applies, refusals, drift, and dependencies down and back.

The daemon publishes these events; a renderer (chosen by the command layer) turns each into a
message and the Notifier sends it. `Announcer` is the glue, `Outages` decides when a failing
dependency has been down long enough to be worth a message.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any, ClassVar

from syncd.daemon.logs import event as log_event
from syncd.daemon.notify import Message, Notifier

MAX_CHANGES = 50  # changes an event carries; the renderer shows fewer


class EventKind(StrEnum):
    """The kinds of message, as a URL's `syncd_events=` parameter names them."""

    APPLIED = "applied"
    REFUSED = "refused"
    DRIFT = "drift"
    OUTAGE = "outage"


TOPICS = tuple(kind.value for kind in EventKind)


@dataclass(frozen=True, slots=True)
class Change:
    """One changed parameter or table row: action add|change|remove, old and new in short."""

    action: str
    name: str
    old: str | None = None
    new: str | None = None


@dataclass(frozen=True, slots=True)
class CommitApplied:
    kind: ClassVar[EventKind] = EventKind.APPLIED
    sha: str
    author: str
    summary: str
    added: int
    changed: int
    removed: int
    changes: tuple[Change, ...]


@dataclass(frozen=True, slots=True)
class HeadRefused:
    kind: ClassVar[EventKind] = EventKind.REFUSED
    sha: str
    author: str
    summary: str
    reason: str
    applied: str | None


@dataclass(frozen=True, slots=True)
class Drift:
    """Rows changed outside git: put back to `commit`, or only found (--no-self-heal)."""

    commit: str
    rows: int
    names: tuple[str, ...]
    corrected: bool
    kind: ClassVar[EventKind] = EventKind.DRIFT


@dataclass(frozen=True, slots=True)
class DependencyDown:
    kind: ClassVar[EventKind] = EventKind.OUTAGE
    dependency: str
    error: str
    down_seconds: float


@dataclass(frozen=True, slots=True)
class DependencyUp:
    kind: ClassVar[EventKind] = EventKind.OUTAGE
    dependency: str
    down_seconds: float
    failed_tries: int


Event = CommitApplied | HeadRefused | Drift | DependencyDown | DependencyUp


def short_value(value: Any, limit: int = 40) -> str:
    """A value as one short line for a message."""
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def changes_of(diff: Any) -> tuple[int, int, int, tuple[Change, ...]]:
    """(added, changed, removed, the first MAX_CHANGES changes) of an engine Diff."""
    counts = diff.counts()
    found: list[Change] = []
    for p in diff.params[:MAX_CHANGES]:
        old = short_value(p.old.value) if p.old is not None else None
        new = short_value(p.new.value) if p.new is not None else None
        found.append(Change(p.action, p.name, old, new))
    for r in diff.rows[: MAX_CHANGES - len(found)]:
        found.append(Change(r.action, f"{r.table}.{r.id}", None, ", ".join(r.columns) or None))
    return counts["add"], counts["change"], counts["remove"], tuple(found)


class Announcer:
    """Renders events into messages and hands them to the notifier (which never blocks)."""

    def __init__(self, notifier: Notifier, render: Callable[[Event], Message]) -> None:
        self.notifier = notifier
        self.render = render

    def publish(self, event: Event) -> None:
        try:
            message = self.render(event)
        except Exception:  # a notification must never break the apply that caused it
            log_event(
                "notify_render_failed",
                f"cannot word the {event.kind} notification",
                logging.ERROR,
                exc_info=True,
            )
            return
        self.notifier.send(replace(message, topic=event.kind.value))


class Outages:
    """Announces a dependency once it has failed for `threshold` seconds, and when it is back
    (only then: a blip shorter than the threshold sends nothing)."""

    def __init__(self, announce: Callable[[Event], None], threshold: float) -> None:
        self.announce = announce
        self.threshold = threshold
        self._since: dict[str, float] = {}
        self._announced: set[str] = set()

    def down(self, dependency: str, error: str, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        since = self._since.setdefault(dependency, now)
        if dependency not in self._announced and now - since >= self.threshold:
            self._announced.add(dependency)
            self.announce(DependencyDown(dependency, error, round(now - since, 1)))

    def up(self, dependency: str, failed_tries: int, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        since = self._since.pop(dependency, None)
        if since is not None and dependency in self._announced:
            self._announced.discard(dependency)
            self.announce(DependencyUp(dependency, round(now - since, 1), failed_tries))
