"""What `syncd run` was asked to do: the daemon's options, with their defaults."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from syncd.daemon.mirror import DEFAULT_FETCH_TIMEOUT
from syncd.sync.pipeline import ApplyGate
from tonsurance.config.environments import DEFAULT_ENVIRONMENT

DEFAULT_LISTEN = "127.0.0.1:9187"


@dataclass
class RunOptions:
    repo: str
    branch: str = "main"
    dsn: str | None = None
    interval: float = 30.0
    listen: str | None = DEFAULT_LISTEN
    state_dir: Path | None = None
    self_heal: bool = True
    watch: bool = True
    fetch_timeout: float = DEFAULT_FETCH_TIMEOUT
    stop_timeout: float = 10.0
    once: bool = False
    notify: tuple[str, ...] = ()  # Apprise URLs
    notify_after: float = 60.0  # seconds a dependency must be down before a message says so
    gate: ApplyGate | None = None  # signatures and guardrails judged before each apply
    console: bool = True  # serve the read-only web console under /ui/
    console_dsn: str | None = None  # the console's database address; default `dsn`
    environment: str = DEFAULT_ENVIRONMENT
