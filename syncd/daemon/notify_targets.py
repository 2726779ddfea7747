"""Notification URLs: `SYNCD_NOTIFY` split into URLs, each parsed by Apprise into a target.

A URL may end in `syncd_events=a,b` to take only those kinds of message; that parameter is
removed before Apprise sees the URL. Errors never show more of a URL than its scheme.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from tonsurance.errors import UsageProblem

TOPICS_PARAM = "syncd_events"


def split_urls(text: str | None) -> list[str]:
    """The URLs of a `SYNCD_NOTIFY` value: separated by whitespace, or by a comma before the
    next `scheme://` (a comma inside a URL, as in `mailto://...?to=a@x,b@y`, stays)."""
    parts = re.split(r"\s+|,(?=\s*[A-Za-z][\w+.-]*://)", text or "")
    return [part.strip(",") for part in parts if part.strip(",")]


def _scheme_only(url: str) -> str:
    """What may be shown of a URL that did not parse: its scheme, never its secrets."""
    scheme, sep, _ = url.partition("://")
    return f"{scheme}://..." if sep and re.fullmatch(r"[A-Za-z][\w+.-]*", scheme) else "(no scheme)"


def _apprise() -> Any:
    import apprise  # loaded only when notifications are configured: it registers ~100 plugins

    return apprise


@dataclass(frozen=True)
class Target:
    """One parsed notification URL; `name` is its address with the secrets masked, `topics`
    the kinds of message it takes (None: all), `secrets` the parts of the URL Apprise masks."""

    name: str
    plugin: Any
    topics: frozenset[str] | None = None
    secrets: tuple[str, ...] = ()

    def hide(self, text: str) -> str:
        """`text` with every secret of this URL masked: Apprise's own failure messages can name
        a key (its PagerDuty plugin says which API key it could not reach)."""
        for secret in self.secrets:
            text = re.sub(rf"(?<!\w){re.escape(secret)}(?!\w)", "***", text)
        return text


_URL_PIECES = re.compile(r"[/:@?&=#,+\s]+")
MIN_SECRET_LENGTH = 4


def _secrets(url: str, shown: str) -> tuple[str, ...]:
    """The pieces of `url` (and their percent-decoded forms) that its masked form `shown` hides."""
    pieces = {piece for piece in _URL_PIECES.split(url) if len(piece) >= MIN_SECRET_LENGTH}
    pieces |= {unquote(piece) for piece in pieces}
    hidden = {piece for piece in pieces if piece not in shown}
    return tuple(sorted(hidden, key=len, reverse=True))


_TOPICS_PARAM = re.compile(r"([?&])" + TOPICS_PARAM + r"=([^&#]*)&?")


def _take_topics(url: str) -> tuple[str, list[str] | None]:
    """The URL without its `syncd_events=` parameter, and the topics that parameter named."""
    found = _TOPICS_PARAM.search(url)
    if found is None:
        return url, None
    rest = url[: found.start()] + found.group(1) + url[found.end() :]
    return rest.rstrip("?&"), [t for t in re.split(r"[\s,+]+", found.group(2)) if t]


def parse_targets(urls: Sequence[str], topics: Collection[str] = ()) -> list[Target]:
    """Parse every URL with Apprise; UsageProblem (one line, no secret) for the first bad one.

    A URL may end in `syncd_events=a,b` to take only those of `topics`.
    """
    apprise = _apprise()
    targets = []
    for number, raw in enumerate(urls, 1):
        url, chosen = _take_topics(raw.strip())
        where = f"notification URL {number} ({_scheme_only(url)})"
        if chosen is not None:
            unknown = sorted(set(chosen) - set(topics)) or ([] if chosen else ["(none)"])
            if unknown:
                raise UsageProblem(
                    f"{where}: {TOPICS_PARAM}={','.join(unknown)} is not a kind of message;"
                    f" choose from {', '.join(topics)}"
                )
        plugin = apprise.Apprise.instantiate(url) if url else None
        if plugin is None:
            raise UsageProblem(
                f"{where} is not one Apprise can send to; check --notify or SYNCD_NOTIFY"
                " (for example slack://..., pagerduty://..., json://host/path)"
            )
        shown = plugin.url(privacy=True)
        name = shown.split("?", 1)[0]
        topics_taken = None if chosen is None else frozenset(chosen)
        targets.append(Target(name, plugin, topics_taken, _secrets(url, shown)))
    return targets
