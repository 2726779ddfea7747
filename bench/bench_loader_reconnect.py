"""How soon a change applied while a LISTEN-mode loader reconnects reaches it.

    .venv/bin/python bench/bench_loader_reconnect.py [--trials 30] [--json]

A loader (LISTEN mode, periodic reload once an hour, so it never helps) follows a fresh database
on the local server (TONSURANCE_TEST_ADMIN_DSN, default the postgres user on 127.0.0.1:5432)
that syncd filled from a real git repository. Each trial commits a new value, terminates both of
the loader's connections with `pg_terminate_backend`, waits a random 0 to 100 ms (so the apply
lands before or after the reconnect), and applies the commit, read and validated beforehand,
with syncd's own apply function. Clocks: from the apply's commit, and from the moment the loader
listens again, to the moment its subscriber receives the new snapshot. Trials are split by whether the change was
committed while the loader was away (then the catch-up after the reconnect must bring it) or after
it listened again (then NOTIFY does). The baseline row is the same change applied with no
reconnect, measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root, for tests
from syncd.sync.gitsource import open_repo
from syncd.sync.migrate import migrate
from syncd.sync.pipeline import apply_commit, apply_prepared, prepare
from tests.support import ConfigRepo, fresh_database, make_config_repo
from tonsurance.config import ConfigLoader, Snapshot
from tonsurance.config.dbread import APPLICATION_NAME
from tonsurance.db import connect_primary

PRICING = "config/pricing.yaml"
TIMEOUT = 30.0


class Arrivals:
    """The time each commit's snapshot reached the loader's subscriber."""

    def __init__(self) -> None:
        self.seen: dict[str, float] = {}
        self.event = threading.Condition()

    def __call__(self, snapshot: Snapshot) -> None:
        with self.event:
            self.seen[snapshot.commit or ""] = time.monotonic()
            self.event.notify_all()

    def wait(self, sha: str) -> float:
        with self.event:
            if not self.event.wait_for(lambda: sha in self.seen, TIMEOUT):
                raise SystemExit(f"commit {sha[:12]} did not reach the loader in {TIMEOUT} s")
            return self.seen[sha]


def terminate(dsn: str) -> int:
    with psycopg.connect(dsn, autocommit=True) as conn:
        rows = conn.execute(
            "select pg_terminate_backend(pid) from pg_stat_activity"
            " where datname = current_database() and application_name = %s",
            (APPLICATION_NAME,),
        ).fetchall()
    return len(rows)


def listening_again(loader: ConfigLoader) -> float:
    """When the loader listened again (polled every millisecond), after losing its connection."""
    deadline = time.monotonic() + TIMEOUT
    while loader.stats()["listening"]:
        if time.monotonic() > deadline:
            raise SystemExit("the loader never noticed its connection was gone")
        time.sleep(0.001)
    while not loader.stats()["listening"]:
        if time.monotonic() > deadline:
            raise SystemExit("the loader did not listen again")
        time.sleep(0.001)
    return time.monotonic()


def trial(
    repo: ConfigRepo, dsn: str, loader: ConfigLoader, arrivals: Arrivals, n: int, reconnect: bool
) -> tuple[float, float | None, float | None, bool]:
    """(commit to arrival, later of commit and listening again to arrival, terminate to
    listening again, committed before listening again); the last three only with a reconnect."""
    old = "USDC: 0.04" if n % 2 == 0 else "USDC: 0.041"
    new = "USDC: 0.041" if n % 2 == 0 else "USDC: 0.04"
    sha = repo.change(PRICING, old, new, push=False)
    git_repo = open_repo(repo.path)
    prepared = prepare(git_repo, "HEAD")  # read and validated before the clock starts
    writer = connect_primary(dsn)
    listened: list[float] = []
    watcher = None
    start = time.monotonic()
    if reconnect:
        watcher = threading.Thread(target=lambda: listened.append(listening_again(loader)))
        watcher.start()
        if terminate(dsn) != 2:
            raise SystemExit("expected the loader's two connections")
        time.sleep(random.uniform(0.0, 0.1))
    with writer:
        apply_prepared(writer, git_repo, prepared)
    committed = time.monotonic()
    arrived = arrivals.wait(sha)
    if watcher is not None:
        watcher.join(TIMEOUT)
    if not listened:
        return arrived - committed, None, None, False
    return (
        arrived - committed,
        arrived - max(committed, listened[0]),
        listened[0] - start,
        committed < listened[0],
    )


def summary(values: list[float]) -> str:
    ms = sorted(v * 1000 for v in values)
    p90 = ms[min(len(ms) - 1, round(0.9 * (len(ms) - 1)))]
    return f"{statistics.median(ms):8.0f} {p90:8.0f} {ms[-1]:8.0f}"


def main() -> int:
    logging.getLogger("tonsurance.config").setLevel(logging.ERROR)  # each trial loses a LISTEN
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--json", action="store_true")
    options = parser.parse_args()
    with fresh_database() as dsn, tempfile.TemporaryDirectory() as folder:
        migrate(dsn)
        repo = make_config_repo(Path(folder) / "repo")
        apply_commit(repo.path, "HEAD", dsn)
        arrivals = Arrivals()
        loader = ConfigLoader(dsn, interval=3600).start()
        loader.subscribe(arrivals)
        try:
            while not loader.stats()["listening"]:
                time.sleep(0.01)
            results: dict[str, list[tuple[float, float | None, float | None, bool]]] = {
                "notify": [],
                "reconnect": [],
            }
            for n in range(2 * options.trials):
                kind = "reconnect" if n % 2 else "notify"
                results[kind].append(trial(repo, dsn, loader, arrivals, n, kind == "reconnect"))
                time.sleep(random.uniform(0.05, 0.2))
            failures = loader.stats()["reload_failures"]
        finally:
            loader.stop()
    reconnects = results["reconnect"]
    away = [r for r in reconnects if r[3]]
    back = [r for r in reconnects if not r[3]]
    figures = {
        "no reconnect: commit to loader": [r[0] for r in results["notify"]],
        "terminate to listening again": [r[2] for r in reconnects if r[2] is not None],
        "applied while away: listening to loader": [r[1] for r in away if r[1] is not None],
        "applied after: commit to loader": [r[0] for r in back],
    }
    if options.json:
        print(json.dumps({"reload_failures": failures, **figures}))
        return 0
    print(f"loader reload failures during the run: {failures}")
    print(f"{'':40} {'trials':>6} {'p50 ms':>8} {'p90 ms':>8} {'max ms':>8}")
    for name, values in figures.items():
        print(f"{name:40} {len(values):6d} {summary(values) if values else ''}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
