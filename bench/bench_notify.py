"""Does a notification receiver slow applies? Push-to-database latency of `syncd run` with no
--notify, with a JSON webhook that answers at once, and with one that never answers.

    .venv/bin/python bench/bench_notify.py [--pushes 40] [--json]

Each mode has its own real `syncd run` (ref watch on a local bare remote, polling at 60 s), fresh
database on the local server and repository; the modes take turns push by push, in a random
order each round. Each push changes one value; the clock starts just before `git push` and
stops when this process receives the NOTIFY that the apply sends, after commit.
The hanging receiver holds every request open (read timeout 60 s), so each apply's message
waits in the queue behind it. The figure is each mode's p50 and p90 against `none`, measured in
the same run. A second table times `Notifier.send()` itself in this process: the call an apply
makes, with the queue of a hanging receiver filling and then dropping.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import psycopg

from syncd.daemon.notify import Delivery, Message, Notifier
from syncd.sync.migrate import migrate
from tonsurance.db import NOTIFY_CHANNEL

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root, for tests/
from tests.support import ConfigRepo, free_port, fresh_database, make_config_repo
from tests.webhook_receiver import Receiver

PRICING = "config/pricing.yaml"
TIMEOUT = 30.0
MODES = ("none", "answering", "hanging")


@contextmanager
def daemon(repo: ConfigRepo, dsn: str, notify: list[str], folder: Path) -> Iterator[None]:
    command = [
        sys.executable, "-m", "syncd.cli.main", "run", "--repo", str(repo.remote), "--dsn", dsn,
        "--listen", f"127.0.0.1:{free_port()}", "--state-dir", str(folder / "state"),
        "--interval", "60", *notify,
    ]  # fmt: skip
    with (folder / "syncd.log").open("wb") as log:
        proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        yield
    finally:
        proc.terminate()
        proc.wait(30)


def wait_notify(conn: psycopg.Connection[Any], sha: str) -> float:
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        for note in conn.notifies(timeout=deadline - time.monotonic(), stop_after=1):
            if note.payload == sha:
                return time.perf_counter()
    raise TimeoutError(f"{sha[:12]} was not applied within {TIMEOUT} s")


def applied(dsn: str) -> str | None:
    with psycopg.connect(dsn) as conn:
        row = conn.execute("select applied_commit from sync_state").fetchone()
    return row[0] if row else None


@contextmanager
def setup(
    mode: str, folder: Path
) -> Iterator[tuple[ConfigRepo, psycopg.Connection[Any], Receiver]]:
    """A fresh database, repository and daemon for `mode`, the first commit applied; yields
    the repository, a connection listening for the apply NOTIFY, and the receiver."""
    receiver = Receiver()
    if mode == "hanging":
        receiver.hold.set()
    notify = [] if mode == "none" else ["--notify", receiver.url(rto="60")]
    folder.mkdir()
    try:
        with fresh_database() as dsn:
            migrate(dsn)
            repo = make_config_repo(folder / "repo")
            with daemon(repo, dsn, notify, folder), psycopg.connect(dsn, autocommit=True) as conn:
                deadline = time.monotonic() + TIMEOUT
                while applied(dsn) != repo.head():
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"syncd did not apply the first commit ({mode})")
                    time.sleep(0.05)
                conn.execute(f"listen {NOTIFY_CHANNEL}")
                yield repo, conn, receiver
    finally:
        receiver.close()


def measure(pushes: int) -> list[dict[str, Any]]:
    """Latencies per mode; the modes take turns, in a random order each round, so that a change
    in the machine's load falls on all of them alike."""
    latencies: dict[str, list[float]] = {mode: [] for mode in MODES}
    with tempfile.TemporaryDirectory(prefix="bench-notify-") as tmp, ExitStack() as stack:
        setups = {mode: stack.enter_context(setup(mode, Path(tmp) / mode)) for mode in MODES}
        for i in range(pushes):
            old, new = ("0.04", "0.041") if i % 2 == 0 else ("0.041", "0.04")
            for mode in random.sample(MODES, len(MODES)):
                repo, conn, _ = setups[mode]
                sha = repo.change(PRICING, f"USDC: {old}", f"USDC: {new}", push=False)
                time.sleep(random.uniform(0, 0.2))
                started = time.perf_counter()
                repo.push()
                latencies[mode].append(wait_notify(conn, sha) - started)
        posts = {mode: len(setups[mode][2].posts) for mode in MODES}
    return [
        {"mode": m, "pushes": pushes, "latencies": latencies[m], "posts": posts[m]} for m in MODES
    ]


def send_cost(calls: int) -> dict[str, float]:
    """Mean seconds per `Notifier.send()` while a hanging receiver holds the first message."""
    receiver = Receiver()
    receiver.hold.set()
    notifier = Notifier([receiver.url(rto="60")], queue_size=100)
    notifier.start()
    try:
        message = Message("syncd main: applied 0123456789ab", "1 changed\n~ pricing.x: 1 -> 2")
        notifier.send(message)
        receiver.wait_posts(1)
        started = time.perf_counter()
        for _ in range(calls):
            notifier.send(message)
        took = time.perf_counter() - started
        counts = notifier.counts()
    finally:
        receiver.close()
        notifier.close(1)
    return {"per_call": took / calls, "calls": calls, "dropped": counts[Delivery.DROPPED]}


def percentile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--pushes", type=int, default=40)
    parser.add_argument("--calls", type=int, default=100_000)
    parser.add_argument("--json", action="store_true", help="Print the raw figures as JSON.")
    args = parser.parse_args()
    results = measure(args.pushes)
    cost = send_cost(args.calls)
    if args.json:
        print(json.dumps({"push": results, "send": cost}, indent=2))
        return
    base = results[0]["latencies"]
    print("| receiver | pushes | p50 | p90 | max | p50 vs none | p90 vs none | requests received |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in results:
        lat = r["latencies"]
        p50, p90 = percentile(lat, 50), percentile(lat, 90)
        ratios = f"{p50 / percentile(base, 50):.2f} | {p90 / percentile(base, 90):.2f}"
        print(
            f"| {r['mode']} | {r['pushes']} | {p50 * 1000:.0f} ms | {p90 * 1000:.0f} ms"
            f" | {max(lat) * 1000:.0f} ms | {ratios} | {r['posts']} |"
        )
    print()
    print(
        f"Notifier.send(): {cost['per_call'] * 1e6:.2f} us per call over {cost['calls']:,} calls"
        f" to a hanging receiver ({cost['dropped']:,} dropped once its queue of 100 was full)"
    )


if __name__ == "__main__":
    main()
