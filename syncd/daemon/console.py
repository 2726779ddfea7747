"""The web console as `syncd run` serves it: the database's pages plus what only the daemon knows."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, generate_latest

from syncd.console.app import Console
from syncd.console.database import Reader
from syncd.console.pages import Live
from syncd.daemon.httplimits import HttpLimits, HttpStats
from syncd.daemon.httpserver import HttpServer
from syncd.daemon.mirror import Mirror
from syncd.daemon.resources import raise_descriptor_limit
from syncd.daemon.runstate import RunState


def live_of(state: RunState) -> Live:
    """The branch head, lag and faults the daemon publishes, as the front page shows them."""
    status = state.as_json()
    return Live(
        branch=status["branch"],
        branch_head=status["branch_head"],
        in_sync=bool(status["in_sync"]),
        lag_seconds=float(status["lag_seconds"]),
        lag_commits=status["lag_commits"],
        faults={name: str(info.get("error", "")) for name, info in status["faults"].items()},
        role=str(status["role"]),
    )


def daemon_console(dsn: str | None, state: RunState, mirror: Mirror) -> Console:
    """A console reading `dsn` (in read-only transactions) and the daemon's mirror for environments."""
    reader = Reader(dsn)
    reader.open()

    def repo_path() -> str | None:
        return str(mirror.path) if (mirror.path / "HEAD").is_file() else None

    return Console(reader, live=lambda: live_of(state), repo_path=repo_path)


class ConsoleOnly:
    """What `syncd console` answers on the daemon's other endpoints: no sync loop runs here."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry

    def status(self) -> dict[str, Any]:
        return {"role": "console", "console": "/ui/", "sync": "not run by this process"}

    def ready(self) -> tuple[bool, str]:
        return True, "console only: the pages are under /ui/"

    def metrics(self) -> bytes:
        return generate_latest(self.registry)

    def wake(self, reason: str) -> None:
        """Nothing to wake: this process applies nothing."""


class ConsoleServer:
    """`syncd console`: the console alone, on the same HTTP server and limits as `syncd run`."""

    def __init__(
        self, dsn: str | None, listen: str, repo: str | None = None, timeout: float = 5.0
    ) -> None:
        registry = CollectorRegistry()
        self.reader = Reader(dsn, timeout=timeout)
        self.console = Console(self.reader, repo_path=lambda: repo)
        self.http = HttpServer(
            listen,
            ConsoleOnly(registry),
            None,
            HttpLimits.for_descriptors(raise_descriptor_limit()),
            HttpStats(registry),
            self.console,
        )

    @property
    def address(self) -> str:
        return self.http.address

    def start(self) -> None:
        self.reader.open()
        self.http.start()

    def stop(self) -> None:
        self.http.stop()
        self.reader.close()
