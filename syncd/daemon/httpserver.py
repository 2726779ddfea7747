"""The daemon's HTTP side: health, readiness, status, metrics and the git webhook.

One thread runs an asyncio event loop and h11 parses HTTP/1.1, so an idle connection costs a
descriptor and a few kB, never a thread, and the sync loop keeps its descriptors: connections
beyond `HttpLimits.max_connections` get a 503 at once and are closed. Each request must arrive
whole within its deadlines (a client sending a byte a second is cut off), the webhook's
signature header is checked before a byte of its body is read, and the body is capped. The
handlers only read the daemon's published state, so they answer while the sync loop backs off
from a fault or waits inside a transaction.
"""

from __future__ import annotations

import asyncio
import errno
import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from syncd.daemon.httplimits import HttpLimits, HttpStats
from syncd.daemon.httprequest import ConsolePages, DaemonView, Exchange
from tonsurance.errors import UsageProblem

__all__ = ["ConsolePages", "DaemonView", "HttpServer", "parse_listen"]

_BACKLOG = 1024
CONSOLE_THREADS = 4  # console pages read the database; at most this many at once
_ACCEPT_BATCH = 64
_READ_LIMIT = 64 * 1024
_OUT_OF_RESOURCES = (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM)
_BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n"
    b"Content-Length: 27\r\nConnection: close\r\n\r\ntoo many connections; retry\n"
)


def parse_listen(text: str) -> tuple[str, int]:
    """`HOST:PORT` (or `[v6]:PORT`, or `:PORT` for all interfaces) into a bind address."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise UsageProblem(f"--listen {text!r} is not HOST:PORT (for example 127.0.0.1:9187)")
    return host.strip("[]") or "0.0.0.0", int(port)


def _bind(listen: str) -> socket.socket:
    host, port = parse_listen(listen)
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(_BACKLOG)
        sock.setblocking(False)
    except OSError as exc:
        sock.close()
        raise UsageProblem(f"cannot listen on {listen}: {exc.strerror or exc}") from None
    return sock


class HttpServer:
    """The endpoints on `listen`, served by an event loop in a daemon thread."""

    def __init__(
        self,
        listen: str,
        view: DaemonView,
        secret: bytes | None,
        limits: HttpLimits | None = None,
        stats: HttpStats | None = None,
        console: ConsolePages | None = None,
    ) -> None:
        self.sock = _bind(listen)
        self.view, self.secret = view, secret
        self.console = console
        self.console_pool = (
            ThreadPoolExecutor(CONSOLE_THREADS, thread_name_prefix="syncd-console")
            if console is not None
            else None
        )
        self.limits = limits or HttpLimits()
        self.stats = stats or HttpStats()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._run, name="syncd-http", daemon=True)
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._open = 0
        self._idle: dict[Exchange, float] = {}

    @property
    def address(self) -> str:
        host, port = self.sock.getsockname()[:2]
        return f"{host!s}:{port}"

    def start(self) -> None:
        self.thread.start()
        self._ready.wait(10)

    def stop(self) -> None:
        if self.thread.is_alive():
            self.loop.call_soon_threadsafe(self._request_stop)
            self.thread.join(10)
        self.sock.close()
        if self.console_pool is not None:
            self.console_pool.shutdown(wait=False, cancel_futures=True)

    def _request_stop(self) -> None:
        if self._stop is not None:
            self._stop.set()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.set_exception_handler(self._loop_error)
        try:
            self.loop.run_until_complete(self._main())
        finally:
            self._ready.set()
            self.loop.close()

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        self.loop.add_reader(self.sock, self._accept)
        sweeper = self.loop.create_task(self._sweep())
        self._ready.set()
        try:
            await self._stop.wait()
        finally:
            sweeper.cancel()
            self.loop.remove_reader(self.sock)
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _sweep(self) -> None:
        """Once a second, when more than three quarters of the connections allowed are open,
        close those that have waited silently for longer than a request head may take."""
        while True:
            await asyncio.sleep(1.0)
            if self._open <= self.limits.max_connections * 3 // 4:
                continue
            cutoff = self.loop.time() - self.limits.header_timeout
            for exchange, since in list(self._idle.items()):
                if since < cutoff:
                    self.stats.refused("timeout")
                    exchange.drop_idle()

    def _loop_error(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        exc = context.get("exception")
        self.stats.loop_error(str(context.get("message", "")), exc)

    def _resume(self) -> None:
        if self._stop is not None and not self._stop.is_set():
            self.loop.add_reader(self.sock, self._accept)

    def _accept(self) -> None:
        """Accept what is waiting, one at a time: a connection over the limit is answered 503
        and closed at once, so it never holds a descriptor."""
        for _ in range(_ACCEPT_BATCH):
            try:
                conn, _ = self.sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                if exc.errno in _OUT_OF_RESOURCES:  # try again in a second, without spinning
                    self.stats.accept_failed(exc)
                    self.loop.remove_reader(self.sock)
                    self.loop.call_later(1.0, self._resume)
                    return
                continue  # the client gave up before it was accepted
            if self._open >= self.limits.max_connections:
                self.stats.refused("busy")
                conn.setblocking(False)
                try:
                    conn.send(_BUSY)
                except OSError:
                    pass
                conn.close()
                continue
            self._open += 1
            self.stats.connections.set(self._open)
            task = self.loop.create_task(self._serve(conn))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _serve(self, conn: socket.socket) -> None:
        writer: asyncio.StreamWriter | None = None
        try:
            reader, writer = await asyncio.open_connection(sock=conn, limit=_READ_LIMIT)
            await Exchange(
                reader,
                writer,
                self.view,
                self.secret,
                self.limits,
                self.stats,
                self.console,
                self.console_pool,
                self._idle,
            ).run()
        except (ConnectionError, TimeoutError, OSError):
            pass
        except Exception as exc:  # one bad connection must not stop the server
            self.stats.loop_error("request handler failed", exc)
        finally:
            self._open -= 1
            self.stats.connections.set(self._open)
            if writer is not None:
                writer.transport.abort()
            else:
                conn.close()
