"""Time from `git push` to the new value committed in the database, for each way syncd hears of it.

    .venv/bin/python bench/bench_push_latency.py [--pushes 50] [--poll-interval 2]
        [--modes watch,webhook,poll] [--json]

For each mode a real `syncd run` process follows the bare remote of a fresh config repository
into a fresh database on the local server (TONSURANCE_TEST_ADMIN_DSN, default the postgres
user on 127.0.0.1:5432). Each push changes one value; the clock starts just before `git push`
and stops when this process receives the NOTIFY that the apply sends on `tonsurance_config`,
which PostgreSQL delivers only once the transaction has committed.

  watch    local remote, ref watched with inotify, polling every 60 s (never the one that fires)
  webhook  no watch, polling every 60 s; after the push a signed POST /hooks/git, as GitHub sends
  poll     no watch, no webhook, polling every --poll-interval seconds (with its ±10 % jitter)

Pushes are spaced by a random pause so that they land at random points of the poll cycle.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg

from syncd.daemon.webhook import sign
from syncd.sync.migrate import migrate
from tonsurance.db import NOTIFY_CHANNEL

sys.path.insert(
    0, str(Path(__file__).resolve().parents[1])
)  # the repository root, for tests.support
from tests.support import ConfigRepo, free_port, fresh_database, make_config_repo

PRICING = "config/pricing.yaml"
SECRET = "bench-secret"
TIMEOUT = 30.0


@contextmanager
def daemon(repo: ConfigRepo, dsn: str, mode: str, poll: float, folder: Path) -> Iterator[int]:
    """A `syncd run` process for `mode`; yields its HTTP port."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "SYNCD_WEBHOOK_SECRET"}
    args = ["--interval", str(poll) if mode == "poll" else "60"]
    if mode != "watch":
        args.append("--no-watch")
    if mode == "webhook":
        env["SYNCD_WEBHOOK_SECRET"] = SECRET
    command = [
        sys.executable,
        "-m",
        "syncd.cli.main",
        "run",
        "--repo",
        str(repo.remote),
        "--dsn",
        dsn,
        "--listen",
        f"127.0.0.1:{port}",
        "--state-dir",
        str(folder / f"state-{mode}"),
        *args,
    ]
    with (folder / f"{mode}.log").open("wb") as log:
        proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        yield port
    finally:
        proc.terminate()
        proc.wait(30)


def wait_notify(conn: psycopg.Connection[Any], sha: str) -> float:
    """Block until the NOTIFY for `sha` arrives; the time it arrived."""
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        for note in conn.notifies(timeout=deadline - time.monotonic(), stop_after=1):
            if note.payload == sha:
                return time.perf_counter()
    raise TimeoutError(f"{sha[:12]} was not applied within {TIMEOUT} s")


def webhook(port: int, sha: str) -> None:
    body = json.dumps({"ref": "refs/heads/main", "after": sha}).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/hooks/git",
        data=body,
        headers={
            "X-Hub-Signature-256": sign(SECRET.encode(), body),
            "X-GitHub-Event": "push",
            "Content-Type": "application/json",
        },
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.status == 202


def applied(dsn: str) -> str | None:
    with psycopg.connect(dsn) as conn:
        row = conn.execute("select applied_commit from sync_state").fetchone()
    return row[0] if row else None


def measure(mode: str, pushes: int, poll: float) -> dict[str, Any]:
    """Latencies (seconds) of `pushes` pushes in `mode`, and how long `git push` itself took."""
    with tempfile.TemporaryDirectory(prefix="bench-push-") as tmp, fresh_database() as dsn:
        folder = Path(tmp)
        migrate(dsn)
        repo = make_config_repo(folder / "repo")
        with (
            daemon(repo, dsn, mode, poll, folder) as port,
            psycopg.connect(dsn, autocommit=True) as listen,
        ):
            deadline = time.monotonic() + TIMEOUT
            while applied(dsn) != repo.head():
                if time.monotonic() > deadline:
                    raise TimeoutError(f"syncd did not apply the first commit ({mode})")
                time.sleep(0.05)
            listen.execute(f"listen {NOTIFY_CHANNEL}")
            latencies, push_times = [], []
            values = ("0.04", "0.041")
            for i in range(pushes):
                old, new = values[i % 2], values[(i + 1) % 2]
                sha = repo.change(PRICING, f"USDC: {old}", f"USDC: {new}", push=False)
                time.sleep(random.uniform(0, poll if mode == "poll" else 0.2))
                started = time.perf_counter()
                repo.push()
                pushed = time.perf_counter()
                if mode == "webhook":
                    webhook(port, sha)
                latencies.append(wait_notify(listen, sha) - started)
                push_times.append(pushed - started)
    push = statistics.median(push_times)
    return {"mode": mode, "pushes": pushes, "latencies": latencies, "push": push}


def percentile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--pushes", type=int, default=50)
    parser.add_argument("--poll-interval", type=float, default=2.0)
    parser.add_argument("--modes", default="watch,webhook,poll")
    parser.add_argument("--json", action="store_true", help="Print the raw latencies as JSON.")
    args = parser.parse_args()
    results = [measure(mode, args.pushes, args.poll_interval) for mode in args.modes.split(",")]
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print("| trigger | pushes | p50 | p90 | p99 | max | `git push` alone (median) |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in results:
        lat = r["latencies"]
        name = r["mode"] + (f" ({args.poll_interval:g} s)" if r["mode"] == "poll" else "")
        cells = [percentile(lat, 50), percentile(lat, 90), percentile(lat, 99), max(lat), r["push"]]
        print(
            f"| {name} | {r['pushes']} | " + " | ".join(f"{c * 1000:.0f} ms" for c in cells) + " |"
        )


if __name__ == "__main__":
    main()
