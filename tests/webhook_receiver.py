"""A real JSON webhook on 127.0.0.1 for the notification tests (Apprise's `json://` kind)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Receiver:
    """A JSON webhook on 127.0.0.1: records each POST; answers `status`, or holds the request
    open while `hold` is set (until released, or until the client gives up)."""

    def __init__(self) -> None:
        self.posts: list[dict[str, Any]] = []
        self.answered = 0
        self.status = 200
        self.hold = threading.Event()
        self.release = threading.Event()
        self.arrived = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.arrived:
                    receiver.posts.append({"path": self.path, **json.loads(body)})
                    receiver.arrived.notify_all()
                if receiver.hold.is_set():
                    receiver.release.wait(30)
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()
                with receiver.arrived:
                    receiver.answered += 1

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str = "/hook", **params: str) -> str:
        query = "&".join(f"{k}={v}" for k, v in params.items())
        return f"json://127.0.0.1:{self.server.server_port}{path}" + (f"?{query}" if query else "")

    def titles(self) -> list[str]:
        with self.arrived:
            return [post["title"] for post in self.posts]

    def wait_posts(self, count: int, timeout: float = 20.0) -> list[dict[str, Any]]:
        with self.arrived:
            ok = self.arrived.wait_for(lambda: len(self.posts) >= count, timeout)
        assert ok, f"{len(self.posts)} of {count} posts arrived"
        return list(self.posts)

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
