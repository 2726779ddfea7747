"""Helpers for the console tests: a console served in this process, and plain HTTP requests."""

from __future__ import annotations

import http.client
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from syncd.daemon.console import ConsoleServer
from tests.support import free_port


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode()


@contextmanager
def console_server(dsn: str, repo: str | None = None, timeout: float = 5.0) -> Iterator[str]:
    """Serve `syncd console` for `dsn` on a free localhost port; yield its base URL."""
    server = ConsoleServer(dsn, f"127.0.0.1:{free_port()}", repo, timeout=timeout)
    server.start()
    try:
        yield f"http://{server.address}"
    finally:
        server.stop()


def request(base: str, target: str, *, method: str = "GET", accept: str | None = None) -> Answer:
    """One HTTP request to the console at `base` (http://host:port)."""
    host = base.removeprefix("http://")
    conn = http.client.HTTPConnection(host, timeout=15)
    try:
        headers = {"Accept": accept} if accept else {}
        conn.request(method, target, headers=headers)
        response = conn.getresponse()
        body = response.read()
        return Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, body)
    finally:
        conn.close()
