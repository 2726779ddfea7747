"""The text of a notification: a title and a few short lines for each daemon event."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from syncd.daemon.events import (
    Change,
    CommitApplied,
    DependencyDown,
    DependencyUp,
    Drift,
    Event,
    HeadRefused,
)
from syncd.daemon.notify import Level, Message
from tonsurance.errors import UsageProblem

DEFAULT_MAX_KEYS = 10
_MARK = {"add": "+", "change": "~", "remove": "-"}


@dataclass(frozen=True, slots=True)
class NotifyContext:
    """What every message says besides the event: the branch, the host, the console link."""

    branch: str
    host: str
    public_url: str | None = None
    max_keys: int = DEFAULT_MAX_KEYS

    @property
    def console(self) -> str | None:
        return f"{self.public_url.rstrip('/')}/ui/" if self.public_url else None


def check_public_url(url: str | None) -> str | None:
    """`url` when it is an http(s) address with a host; UsageProblem otherwise."""
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query:
        raise UsageProblem(
            f"--public-url {parts.scheme or '(no scheme)'}://...: give the http:// or https://"
            " address people reach this daemon at, for example https://config.example.com"
        )
    return url


def duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _change(change: Change) -> str:
    mark = _MARK.get(change.action, "?")
    if change.action == "change" and change.old is not None:
        return f"{mark} {change.name}: {change.old} -> {change.new}"
    if change.action == "change":
        return f"{mark} {change.name}" + (f": {change.new}" if change.new else "")
    if change.action == "add":
        return f"{mark} {change.name}" + (f": {change.new}" if change.new else "")
    return f"{mark} {change.name}" + (f" (was {change.old})" if change.old else "")


def _listed(lines: list[str], names: list[str], total: int, limit: int) -> None:
    lines.extend(names[:limit])
    if total > min(limit, len(names)):
        lines.append(f"... and {total - min(limit, len(names))} more")


def _applied(e: CommitApplied, ctx: NotifyContext) -> Message:
    total = e.added + e.changed + e.removed
    counts = f"{e.changed} changed, {e.added} added, {e.removed} removed"
    if not total:
        counts = "no change: the database already held this configuration"
    lines = [f"{e.author}: {e.summary}", counts]
    _listed(lines, [_change(c) for c in e.changes], total, ctx.max_keys)
    return Message(f"{ctx.branch}: applied {e.sha[:12]}", "\n".join(lines), Level.SUCCESS)


def _refused(e: HeadRefused, ctx: NotifyContext) -> Message:
    stays = e.applied[:12] if e.applied else "nothing"
    lines = [
        f"{e.author}: {e.summary}",
        f"Why: {e.reason}",
        f"{stays} stays applied until a newer commit arrives: fix forward or revert.",
    ]
    return Message(f"{ctx.branch}: refused {e.sha[:12]}", "\n".join(lines), Level.FAILURE)


def _drift(e: Drift, ctx: NotifyContext) -> Message:
    if e.corrected:
        title = f"{ctx.branch}: put back {e.rows} rows changed outside git"
        first = f"Restored to the applied commit {e.commit[:12]} (audit reason: drift correction):"
    else:
        title = f"{ctx.branch}: {e.rows} rows differ from the applied commit"
        first = f"Left as they are (--no-self-heal); the applied commit is {e.commit[:12]}:"
    lines = [first]
    _listed(lines, list(e.names), e.rows, ctx.max_keys)
    return Message(title, "\n".join(lines), Level.WARNING)


def _down(e: DependencyDown, ctx: NotifyContext) -> Message:
    body = (
        f"syncd on {ctx.host}: {e.error}\n"
        "Commits wait until it is back; syncd retries with backoff and carries on by itself."
    )
    title = f"{ctx.branch}: {e.dependency} down for {duration(e.down_seconds)}"
    return Message(title, body, Level.FAILURE)


def _up(e: DependencyUp, ctx: NotifyContext) -> Message:
    body = f"syncd on {ctx.host}: back after {e.failed_tries} failed tries."
    title = f"{ctx.branch}: {e.dependency} back after {duration(e.down_seconds)}"
    return Message(title, body, Level.SUCCESS)


def render(event: Event, ctx: NotifyContext) -> Message:
    """The message for `event`, with the console link when a public URL is set."""
    if isinstance(event, CommitApplied):
        message = _applied(event, ctx)
    elif isinstance(event, HeadRefused):
        message = _refused(event, ctx)
    elif isinstance(event, Drift):
        message = _drift(event, ctx)
    elif isinstance(event, DependencyDown):
        message = _down(event, ctx)
    else:
        message = _up(event, ctx)
    title = f"syncd {message.title}"
    if ctx.console and not isinstance(event, (DependencyDown, DependencyUp)):
        return Message(title, f"{message.body}\nConsole: {ctx.console}", message.level)
    return Message(title, message.body, message.level)
