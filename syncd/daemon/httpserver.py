"""The daemon's HTTP side: health, readiness, status, metrics and the git webhook.

It runs in its own threads and only reads the daemon's published state, so it keeps answering
while the sync loop is backing off from a fault or waiting inside a transaction.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol

from prometheus_client import CONTENT_TYPE_LATEST

from syncd.daemon.logs import event
from syncd.daemon.webhook import MAX_BODY_BYTES, SECRET_ENV, SIGNATURE_HEADER, verify_signature
from tonsurance.errors import UsageProblem


class DaemonView(Protocol):
    def status(self) -> dict[str, Any]: ...
    def ready(self) -> tuple[bool, str]: ...
    def metrics(self) -> bytes: ...
    def wake(self, reason: str) -> None: ...


def parse_listen(text: str) -> tuple[str, int]:
    """`HOST:PORT` (or `[v6]:PORT`, or `:PORT` for all interfaces) into a bind address."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise UsageProblem(f"--listen {text!r} is not HOST:PORT (for example 127.0.0.1:9187)")
    return host.strip("[]") or "0.0.0.0", int(port)


def _handler(view: DaemonView, secret: bytes | None) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "syncd"
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            return

        def _send(
            self, code: int, body: bytes, content_type: str = "text/plain; charset=utf-8"
        ) -> None:
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _text(self, code: int, text: str) -> None:
            self._send(code, (text + "\n").encode())

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/healthz":
                self._text(200, "ok")
            elif path == "/readyz":
                ok, reason = view.ready()
                self._text(200 if ok else 503, reason)
            elif path == "/status":
                body = json.dumps(view.status(), indent=2, default=str).encode() + b"\n"
                self._send(200, body, "application/json")
            elif path == "/metrics":
                self._send(200, view.metrics(), CONTENT_TYPE_LATEST)
            elif path == "/hooks/git":
                self._text(405, "use POST")
            else:
                self._text(
                    404, "not found; try /healthz, /readyz, /status, /metrics or POST /hooks/git"
                )

        do_HEAD = do_GET

        def do_POST(self) -> None:
            if self.path.split("?", 1)[0] != "/hooks/git":
                self._text(404, "not found")
                return
            if secret is None:
                self._text(404, f"webhook disabled: {SECRET_ENV} is not set")
                return
            length = self.headers.get("Content-Length", "")
            if not length.isdigit():
                self._text(411, "Content-Length required")
                return
            if int(length) > MAX_BODY_BYTES:
                self.close_connection = True
                self._text(413, "payload too large")
                return
            body = self.rfile.read(int(length))
            if not verify_signature(secret, body, self.headers.get(SIGNATURE_HEADER)):
                event(
                    "webhook_refused",
                    "webhook with a missing or bad signature refused",
                    logging.WARNING,
                    peer=self.client_address[0],
                )
                self._text(401, f"bad or missing {SIGNATURE_HEADER}")
                return
            kind = self.headers.get("X-GitHub-Event", "")
            if kind == "ping":
                self._text(200, "pong")
                return
            view.wake("webhook")
            self._text(202, "fetch scheduled")

    return Handler


class _Server(ThreadingHTTPServer):
    daemon_threads = True


class _Server6(_Server):
    address_family = socket.AF_INET6


class HttpServer:
    """A ThreadingHTTPServer on `listen`, served from a daemon thread."""

    def __init__(self, listen: str, view: DaemonView, secret: bytes | None) -> None:
        host, port = parse_listen(listen)
        server_class = _Server6 if ":" in host else _Server
        try:
            self.server: ThreadingHTTPServer = server_class((host, port), _handler(view, secret))
        except OSError as exc:
            raise UsageProblem(f"cannot listen on {listen}: {exc.strerror or exc}") from None
        self.thread = threading.Thread(
            target=self.server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name="syncd-http",
            daemon=True,
        )

    @property
    def address(self) -> str:
        host, port = self.server.server_address[:2]
        return f"{host!s}:{port}"

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
