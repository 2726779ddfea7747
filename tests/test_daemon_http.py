"""`syncd run`'s HTTP side under hostile clients: idle floods, slow clients, unsigned bodies."""

from __future__ import annotations

import os
import resource
import selectors
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from test_daemon import PRICING, Running, _answers, daemons, repo, wait_applied, wait_for

from syncd.daemon.httplimits import HttpLimits
from syncd.daemon.webhook import sign
from tests.support import ConfigRepo, free_port

__all__ = ["daemons", "repo"]

SECRET = "http-test-secret"


@pytest.fixture
def limited(tmp_path: Path) -> Iterator[Callable[..., Running]]:
    """Start `syncd run` with RLIMIT_NOFILE (soft and hard) set to `files`; killed afterwards."""
    started: list[Running] = []

    def start(repo: str, dsn: str, files: int) -> Running:
        port = free_port()
        log = tmp_path / "limited.log"
        command = [sys.executable, "-m", "syncd.cli.main", "run", "--repo", repo, "--dsn", dsn]
        command += ["--interval", "0.2", "--listen", f"127.0.0.1:{port}"]
        command += ["--state-dir", str(tmp_path / "state-limited")]

        def limit() -> None:
            resource.setrlimit(resource.RLIMIT_NOFILE, (files, files))

        with log.open("ab") as out:
            proc = subprocess.Popen(
                command, stdout=out, stderr=subprocess.STDOUT, preexec_fn=limit, env=os.environ
            )
        running = Running(proc, port, log)
        started.append(running)
        wait_for(lambda: _answers(running), what="syncd to listen", timeout=15)
        return running

    yield start
    for running in started:
        if running.proc.poll() is None:
            running.proc.kill()
            running.proc.wait()


def _connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.setblocking(False)
    return sock


def _answers_within(socks: list[socket.socket], seconds: float) -> dict[socket.socket, bytes]:
    """What each socket received (b"" once closed) before `seconds` passed without news."""
    got: dict[socket.socket, bytes] = {}
    with selectors.DefaultSelector() as sel:
        for sock in socks:
            sel.register(sock, selectors.EVENT_READ)
        deadline = time.monotonic() + seconds
        while sel.get_map() and time.monotonic() < deadline:
            for key, _ in sel.select(timeout=0.2):
                sock = key.fileobj
                assert isinstance(sock, socket.socket)
                try:
                    data = sock.recv(4096)
                except ConnectionResetError:
                    data = b""
                got[sock] = got.get(sock, b"") + data
                if not data or b"\r\n\r\n" in got[sock]:
                    sel.unregister(sock)
    return got


@pytest.mark.slow
def test_idle_connection_flood_is_capped_and_applies_go_on(
    repo: ConfigRepo, db_dsn: str, limited: Any
) -> None:
    """With 512 descriptors and 600 idle connections, the ones over the cap get 503 at once,
    pushes are still applied, the silent ones are closed to make room, and no disk or
    descriptor fault is reported."""
    files, flood = 512, 600
    cap = HttpLimits.for_descriptors(files).max_connections
    daemon = limited(str(repo.remote), db_dsn, files)
    wait_applied(db_dsn, repo.head())
    socks = [_connect(daemon.port) for _ in range(flood)]
    try:
        got = _answers_within(socks, 3.0)
        busy = [data for data in got.values() if data.startswith(b"HTTP/1.1 503")]
        assert len(busy) == flood - cap
        sha = repo.change(PRICING, "USDC: 0.04", "USDC: 0.045")
        wait_applied(db_dsn, sha, timeout=10)
        # Crowded, the daemon closes connections silent for longer than a request head may take.
        wait_for(lambda: daemon.request("/healthz")[0] == 200, what="/healthz during the flood")
        held = [sock for sock in socks if sock not in got]
        assert len(held) == cap and set(_answers_within(held, 3.0).values()) == {b""}
    finally:
        for sock in socks:
            sock.close()
    status = daemon.status()
    assert status["faults"] == {} and status["applied_commit"] == sha
    assert "disk_down" not in daemon.log and "descriptors_down" not in daemon.log
    assert daemon.proc.poll() is None


@pytest.mark.slow
def test_slow_client_is_cut_off(repo: ConfigRepo, db_dsn: str, daemons: Any) -> None:
    """A client sending its request head a byte every half second is answered 408 and closed
    long before the head is complete; a quick client is served meanwhile."""
    daemon = daemons(str(repo.remote), db_dsn)
    head = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: slow\r\n\r\n"
    limit = HttpLimits().header_timeout
    sock = socket.create_connection(("127.0.0.1", daemon.port), timeout=5)
    received, sent, started = b"", 0, time.monotonic()
    try:
        sock.settimeout(0.5)
        while sent < len(head) and time.monotonic() - started < limit + 5:
            try:
                sock.sendall(head[sent : sent + 1])
                sent += 1
                chunk = sock.recv(4096)
            except TimeoutError:
                continue
            except (BrokenPipeError, ConnectionResetError):
                break
            received += chunk
            if not chunk:
                break
        assert daemon.request("/healthz")[0] == 200
    finally:
        sock.close()
    assert sent < len(head)
    assert received.startswith(b"HTTP/1.1 408") or received == b""
    assert time.monotonic() - started < limit + 3


def _post_head(port: int, headers: dict[str, str]) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    lines = [f"POST /hooks/git HTTP/1.1", "Host: 127.0.0.1"] + [
        f"{k}: {v}" for k, v in headers.items()
    ]
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    return sock


@pytest.mark.slow
def test_webhook_is_refused_on_its_head(repo: ConfigRepo, db_dsn: str, daemons: Any) -> None:
    """An unsigned or oversized webhook is refused before its body is sent; a signed one that
    fits is read and accepted."""
    daemon = daemons(str(repo.remote), db_dsn, secret=SECRET)
    unsigned = _post_head(daemon.port, {"Content-Length": "1000000"})
    good_form = "sha256=" + "0" * 64
    limit = HttpLimits().max_body_bytes
    huge = _post_head(
        daemon.port, {"Content-Length": str(limit + 1), "X-Hub-Signature-256": good_form}
    )
    try:
        assert unsigned.recv(4096).startswith(b"HTTP/1.1 401")
        assert huge.recv(4096).startswith(b"HTTP/1.1 413")
    finally:
        unsigned.close()
        huge.close()
    body = b'{"ref": "refs/heads/main"}' * 1000
    signed = _post_head(
        daemon.port,
        {"Content-Length": str(len(body)), "X-Hub-Signature-256": sign(SECRET.encode(), body)},
    )
    try:
        signed.sendall(body)
        assert signed.recv(4096).startswith(b"HTTP/1.1 202")
    finally:
        signed.close()
    assert daemon.log.count("webhook_refused") == 1
