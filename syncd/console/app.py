"""Route a console request to its page and render it as HTML or as its JSON twin.

`Console.handle(method, target, accept)` is all a server calls; it never raises for a request
(an unknown page is a 404 page, a database that is down a 503 page) and answers GET and HEAD
only. Every response carries a strict Content-Security-Policy: the pages load nothing but the
console's own stylesheet and script, and no inline script runs.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
from collections.abc import Callable
from importlib import resources
from typing import Any
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

from jinja2 import Environment, PackageLoader, select_autoescape

from syncd.console.audit import audit_page, parameter_page, tables_page
from syncd.console.catalog import parameters
from syncd.console.database import Reader
from syncd.console.environments import commit_words, environments_page
from syncd.console.pages import CommitView, FrontPage, Live, to_json
from syncd.console.queries import applied_and_environment, front
from tonsurance.errors import Unavailable

PREFIX = "/ui"
CSP = (
    "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:;"
    " form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = (
    ("Content-Security-Policy", CSP),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("X-Frame-Options", "DENY"),
    ("Cache-Control", "no-store"),
)
HTML = "text/html; charset=utf-8"
JSON = "application/json"
_STATIC = {"console.css": "text/css; charset=utf-8", "console.js": "text/javascript; charset=utf-8"}
MAX_DAYS = 31
log = logging.getLogger("syncd.console")


@dataclasses.dataclass(frozen=True)
class Response:
    status: int
    content_type: str
    body: bytes
    headers: tuple[tuple[str, str], ...] = SECURITY_HEADERS


class NotFound(Exception):
    """The page or the thing it names does not exist."""


class BadRequest(Exception):
    """A query parameter is malformed."""


def _wants_json(accept: str) -> bool:
    """Whether the client asked for JSON before HTML in its Accept header."""
    kinds = [part.split(";")[0].strip().lower() for part in accept.split(",")]
    if "application/json" not in kinds:
        return False
    return "text/html" not in kinds or kinds.index("application/json") < kinds.index("text/html")


def _short(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True)


def _when(value: dt.datetime | None) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if value else "—"


def _integer(query: dict[str, list[str]], name: str, default: int | None) -> int | None:
    raw = query.get(name, [""])[-1]
    if not raw:
        return default
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 18:
        raise BadRequest(f"{name} must be a whole number, not {raw[:40]!r}")
    return int(raw)


class Console:
    """The console's pages over one database (and, for environments, one repository)."""

    def __init__(
        self,
        reader: Reader,
        *,
        live: Callable[[], Live | None] | None = None,
        repo_path: Callable[[], str | None] | None = None,
        title: str = "tonsurance-config",
    ) -> None:
        self.reader = reader
        self.commits: dict[str, CommitView] = {}  # what each applied commit says, by sha
        self.live = live or (lambda: None)
        self.repo_path = repo_path or (lambda: None)
        self.templates = Environment(
            loader=PackageLoader("syncd.console", "templates"),
            autoescape=select_autoescape(default=True, default_for_string=True),
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.templates.filters["short"] = _short
        self.templates.filters["when"] = _when
        self.templates.globals.update(prefix=PREFIX, title=title, urlencode=urlencode)
        self.static = {
            name: resources.files("syncd.console").joinpath("static", name).read_bytes()
            for name in _STATIC
        }

    def handle(self, method: str, target: str, accept: str = "") -> Response:
        """The response to one request; never raises."""
        parts = urlsplit(target)
        path = unquote(parts.path)
        query = parse_qs(parts.query, keep_blank_values=True)
        as_json = path.endswith(".json") or _wants_json(accept)
        path = path.removesuffix(".json")
        if method not in ("GET", "HEAD"):
            return self._error(
                405,
                "the console is read-only: use GET or HEAD",
                as_json,
                extra=(("Allow", "GET, HEAD"),),
            )
        try:
            if any("\x00" in v for values in query.values() for v in values) or "\x00" in path:
                raise BadRequest("a NUL character cannot be part of a name or a filter")
            if path.startswith(f"{PREFIX}/static/"):
                return self._static(path.rsplit("/", 1)[-1])
            name, page = self._page(path.rstrip("/") or PREFIX, query)
            if as_json:
                body = json.dumps(to_json(page), indent=2, sort_keys=True).encode() + b"\n"
                return Response(200, JSON, body)
            return Response(200, HTML, self._html(name, page=page, query=query))
        except NotFound as exc:
            return self._error(404, str(exc), as_json)
        except BadRequest as exc:
            return self._error(400, str(exc), as_json)
        except Unavailable as exc:
            return self._error(503, str(exc), as_json)
        except Exception:  # a page must never turn into a traceback for the client
            log.exception("console page %s failed", path)
            return self._error(500, "this page failed; the server's log has the details", as_json)

    def _page(self, path: str, query: dict[str, list[str]]) -> tuple[str, Any]:
        if path in (PREFIX, f"{PREFIX}/index"):
            live = self.live()
            page = self.reader.run(lambda conn, caps: front(conn, caps, live, self.commits))
            if page.applied is not None and page.applied.message is None:
                page = self._words_from_git(page)
            return "front", page
        if path == f"{PREFIX}/parameters":
            text = query.get("q", [""])[-1].strip()[:200]
            cursor = query.get("after", [""])[-1]
            after = tuple(cursor.split("\t", 1)) if "\t" in cursor else None
            return "parameters", self.reader.run(
                lambda conn, caps: parameters(conn, text, after)  # type: ignore[arg-type]
            )
        if path == f"{PREFIX}/parameter":
            category = query.get("category", [""])[-1]
            key = query.get("key", [""])[-1]
            if not category or not key:
                raise BadRequest("name the parameter: ?category=CATEGORY&key=KEY")
            found = self.reader.run(lambda conn, caps: parameter_page(conn, caps, category, key))
            if found is None:
                raise NotFound(f"no parameter {category}.{key} in this database, now or before")
            return "parameter", found
        if path == f"{PREFIX}/audit":
            before = _integer(query, "before", None)
            days = min(MAX_DAYS, max(1, _integer(query, "days", 7) or 7))
            return "audit", self.reader.run(lambda conn, caps: audit_page(conn, caps, before, days))
        if path == f"{PREFIX}/tables":
            return "tables", self.reader.run(tables_page)
        if path == f"{PREFIX}/environments":
            every = query.get("all", [""])[-1] in ("1", "yes", "on")
            sha, environment = self.reader.run(applied_and_environment)
            return "environments", environments_page(self.repo_path(), sha, environment, every)
        raise NotFound(f"no console page at {path}")

    def _words_from_git(self, page: FrontPage) -> FrontPage:
        """The applied commit's author and message from the repository, when the database holds
        none (a commit that changed no row) and a repository is at hand."""
        assert page.applied is not None
        words = commit_words(self.repo_path(), page.applied.sha)
        if words is None:
            return page
        applied = dataclasses.replace(
            page.applied, author=page.applied.author or words[0], message=words[1]
        )
        self.commits[applied.sha] = applied
        return dataclasses.replace(page, applied=applied)

    def _static(self, name: str) -> Response:
        if name not in self.static:
            raise NotFound(f"no static file {name}")
        headers = tuple(h for h in SECURITY_HEADERS if h[0] != "Cache-Control")
        return Response(
            200, _STATIC[name], self.static[name], headers + (("Cache-Control", "max-age=300"),)
        )

    def _html(self, name: str, **values: Any) -> bytes:
        return self.templates.get_template(f"{name}.html").render(page_name=name, **values).encode()

    def _error(
        self, status: int, message: str, as_json: bool, extra: tuple[tuple[str, str], ...] = ()
    ) -> Response:
        headers = SECURITY_HEADERS + extra
        if as_json:
            body = json.dumps({"status": status, "error": message}).encode() + b"\n"
            return Response(status, JSON, body, headers)
        body = self._html("error", status=status, message=message, page=None, query={})
        return Response(status, HTML, body, headers)
