"""One HTTP/1.1 connection: parse requests with h11 under deadlines, route them, answer."""

from __future__ import annotations

import asyncio
import json
import logging
import random
import socket
import struct
from concurrent.futures import Executor
from http import HTTPStatus
from typing import Any, Protocol

import h11
from prometheus_client import CONTENT_TYPE_LATEST

from syncd.daemon.httplimits import HttpLimits, HttpStats
from syncd.daemon.logs import event
from syncd.daemon.webhook import SECRET_ENV, SIGNATURE_HEADER, BodySignature, well_formed

_READ = 64 * 1024
_TEXT = "text/plain; charset=utf-8"
_TIMEOUT = b"HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
_NOT_FOUND = "not found; try {}/healthz, /readyz, /status, /metrics or POST /hooks/git"
CONSOLE_PREFIX = "/ui"


class DaemonView(Protocol):
    """What the endpoints read from the daemon, and the one thing they may ask of it."""

    def status(self) -> dict[str, Any]: ...
    def ready(self) -> tuple[bool, str]: ...
    def metrics(self) -> bytes: ...
    def wake(self, reason: str) -> None: ...


class ConsoleAnswer(Protocol):
    @property
    def status(self) -> int: ...
    @property
    def content_type(self) -> str: ...
    @property
    def body(self) -> bytes: ...
    @property
    def headers(self) -> tuple[tuple[str, str], ...]: ...


class ConsolePages(Protocol):
    """The web console under /ui/ (syncd.console.app.Console): blocking, so it runs off the loop."""

    def handle(self, method: str, target: str, accept: str = "") -> ConsoleAnswer: ...


class _Close(Exception):
    """The connection ends here (a response that closes it has been sent, or none can be)."""


class Exchange:
    """Requests on one connection, one at a time, until the client or a limit ends it."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        view: DaemonView,
        secret: bytes | None,
        limits: HttpLimits,
        stats: HttpStats,
        console: ConsolePages | None = None,
        console_pool: Executor | None = None,
        idle: dict[Exchange, float] | None = None,
    ) -> None:
        self.reader, self.writer = reader, writer
        self.view, self.secret = view, secret
        self.limits, self.stats = limits, stats
        self.console, self.console_pool = console, console_pool
        self.conn = h11.Connection(h11.SERVER, max_incomplete_event_size=limits.max_header_bytes)
        self.method = ""
        self.received = 0  # bytes of the request being read
        # Connections waiting for a request's first byte, and since when (loop time): the
        # server closes the older ones when it gets crowded.
        self.idle = idle if idle is not None else {}

    async def run(self) -> None:
        try:
            while True:
                request = await self._request()
                if request is None:
                    return
                await self._route(request)
                if self.conn.our_state is not h11.DONE or self.conn.their_state is not h11.DONE:
                    return
                self.conn.start_next_cycle()
        except _Close:
            return

    async def _next_event(self) -> Any:
        while True:
            found = self.conn.next_event()
            if found is not h11.NEED_DATA:
                return found
            data = await self.reader.read(_READ)
            self.received += len(data)
            self.conn.receive_data(data)

    async def _request(self) -> h11.Request | None:
        """The next request head, or None when the client is done or went quiet."""
        self.received = len(self.conn.trailing_data[0])
        if not self.received and not await self._first_bytes():
            return None
        try:
            async with asyncio.timeout(self.limits.header_timeout):
                found = await self._next_event()
        except TimeoutError:
            self.stats.refused("timeout")
            await self._raw(_TIMEOUT)
            return None
        except h11.RemoteProtocolError as exc:
            self.stats.refused("bad_request")
            status = exc.error_status_hint
            reason = b"Request Header Fields Too Large" if status == 431 else b"Bad Request"
            await self._raw(
                b"HTTP/1.1 %d %s\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                % (status, reason)
            )
            return None
        if not isinstance(found, h11.Request):
            return None
        self.method = found.method.decode("ascii", "replace")
        return found

    async def _first_bytes(self) -> bool:
        """Wait for the next request to begin; False when the client left or stayed silent."""
        self.idle[self] = asyncio.get_running_loop().time()
        try:
            # Spread over the last 40 % of the limit, so that connections opened together are
            # not all closed in the same turn of the loop (and a probe waits behind them all).
            async with asyncio.timeout(self.limits.idle_timeout * random.uniform(0.6, 1.0)):
                data = await self.reader.read(_READ)
        except TimeoutError:
            self._reset_on_close()
            return False
        finally:
            self.idle.pop(self, None)
        self.received = len(data)
        self.conn.receive_data(data)
        return bool(data)

    def drop_idle(self) -> None:
        """Close this silent connection now (the server is crowded)."""
        self._reset_on_close()
        self.writer.transport.abort()

    def _reset_on_close(self) -> None:
        """Close with a reset: a connection that said nothing gets no FIN handshake and leaves
        no TIME_WAIT socket behind (as nginx's reset_timedout_connection)."""
        sock = self.writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

    async def _raw(self, data: bytes) -> None:
        self.writer.write(data)
        async with asyncio.timeout(self.limits.write_timeout):
            await self.writer.drain()

    async def _send(
        self,
        code: int,
        body: bytes,
        content_type: str = _TEXT,
        *,
        close: bool = False,
        extra: tuple[tuple[str, str], ...] = (),
    ) -> None:
        headers = [("Content-Type", content_type), ("Content-Length", str(len(body))), *extra]
        if close:
            headers.append(("Connection", "close"))
        reason = HTTPStatus(code).phrase
        out = self.conn.send(h11.Response(status_code=code, headers=headers, reason=reason))
        if self.method != "HEAD" and body:
            out += self.conn.send(h11.Data(data=body))
        out += self.conn.send(h11.EndOfMessage())
        await self._raw(out)
        if close:
            raise _Close

    async def _text(self, code: int, text: str, *, close: bool = False) -> None:
        await self._send(code, (text + "\n").encode(), close=close)

    def _bodiless(self) -> bool:
        """Whether the request carried no body (the next event is its end, already parsed)."""
        return isinstance(self.conn.next_event(), h11.EndOfMessage)

    async def _route(self, request: h11.Request) -> None:
        path = request.target.decode("latin-1").split("?", 1)[0]
        if self.method == "POST" and path == "/hooks/git":
            await self._webhook(request)
            return
        close = not self._bodiless()
        if self.console is not None and (
            path == CONSOLE_PREFIX or path.startswith(CONSOLE_PREFIX + "/")
        ):
            await self._console(request, close)
        elif self.method not in ("GET", "HEAD"):
            await self._text(405 if path == "/hooks/git" else 404, "not found", close=True)
        elif path == "/healthz":
            await self._text(200, "ok", close=close)
        elif path == "/readyz":
            ok, reason = self.view.ready()
            await self._text(200 if ok else 503, reason, close=close)
        elif path == "/status":
            body = json.dumps(self.view.status(), indent=2, default=str).encode() + b"\n"
            await self._send(200, body, "application/json", close=close)
        elif path == "/metrics":
            await self._send(200, self.view.metrics(), CONTENT_TYPE_LATEST, close=close)
        elif path == "/hooks/git":
            await self._text(405, "use POST", close=close)
        else:
            pages = "/ui/, " if self.console is not None else ""
            await self._text(404, _NOT_FOUND.format(pages), close=close)

    async def _console(self, request: h11.Request, close: bool) -> None:
        """A console page, read from the database on the console's own threads."""
        assert self.console is not None
        accept = ", ".join(
            value.decode("latin-1") for name, value in request.headers if name.lower() == b"accept"
        )
        target = request.target.decode("latin-1")
        loop = asyncio.get_running_loop()
        try:
            answer = await loop.run_in_executor(
                self.console_pool, self.console.handle, self.method, target, accept
            )
        except Exception as exc:  # the console answers every request itself; this is a bug
            self.stats.loop_error("console page failed", exc)
            await self._text(500, "console page failed", close=close)
            return
        await self._send(
            answer.status, answer.body, answer.content_type, close=close, extra=answer.headers
        )

    async def _webhook(self, request: h11.Request) -> None:
        """Refuse on the head alone when it can; else hash the body as it arrives."""
        headers = {
            name.decode().lower(): value.decode("latin-1") for name, value in request.headers
        }
        if self.secret is None:
            await self._text(404, f"webhook disabled: {SECRET_ENV} is not set", close=True)
        signature = headers.get(SIGNATURE_HEADER.lower())
        if not well_formed(signature):
            self._refused("a missing or malformed signature")
            await self._text(401, f"bad or missing {SIGNATURE_HEADER}", close=True)
        length = headers.get("content-length", "")
        if length.isdigit() and int(length) > self.limits.max_body_bytes:
            self.stats.refused("too_large")
            await self._text(413, "payload too large", close=True)
        assert self.secret is not None and signature is not None
        check = BodySignature(self.secret)
        if self.conn.they_are_waiting_for_100_continue:
            await self._raw(self.conn.send(h11.InformationalResponse(status_code=100, headers=[])))
        size = 0
        try:
            async with asyncio.timeout(self.limits.body_timeout):
                while not isinstance(found := await self._next_event(), h11.EndOfMessage):
                    if isinstance(found, h11.Data):
                        size += len(found.data)
                        if size > self.limits.max_body_bytes:
                            self.stats.refused("too_large")
                            await self._text(413, "payload too large", close=True)
                        check.update(found.data)
        except TimeoutError:
            self.stats.refused("timeout")
            await self._text(408, "the body did not arrive in time", close=True)
        if not check.matches(signature):
            self._refused("a bad signature")
            await self._text(401, f"bad or missing {SIGNATURE_HEADER}")
            return
        if headers.get("x-github-event", "") == "ping":
            await self._text(200, "pong")
            return
        self.view.wake("webhook")
        await self._text(202, "fetch scheduled")

    def _refused(self, why: str) -> None:
        peer = self.writer.get_extra_info("peername")
        event(
            "webhook_refused",
            f"webhook with {why} refused",
            logging.WARNING,
            peer=peer[0] if peer else None,
        )
