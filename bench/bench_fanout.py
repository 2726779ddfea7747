"""Many services on one hot standby: N real `ConfigLoader`s in poll mode, through PgBouncer.

Starts the test topology (tests/topology.py: a primary, a streaming hot standby made with
`pg_basebackup -R`, PgBouncer in transaction pooling mode in front of the standby, all on
127.0.0.1 in temporary folders), with pg_stat_statements loaded. Worker processes each run
many real loaders in poll mode against PgBouncer. Then, in this order:

1. steady state, no changes, for `--steady` seconds: the loaders' CPU per poll (worker
   processes' user + system time divided by the version checks the standby executed), the
   standby backends' and PgBouncer's CPU per check (from /proc), and the check's execution
   time on the server (pg_stat_statements);
2. `--rounds` changes applied by syncd on the primary: the time from the apply's commit to
   each loader holding the new value (p50, p99, max over all loaders and rounds), and the
   cost of the full reads they cause;
3. throughout: the most server connections the standby had for the service role, and the
   most PgBouncer had open, sampled every 0.2 s;
4. with the loaders stopped, `--capacity` seconds of pgbench (8 clients) per read through the
   same PgBouncer: the version check with a new connection each time (as poll mode does), a
   full read, and the version check on kept connections; the rate sustained and the CPU per
   transaction of PgBouncer and of the standby backends.

    .venv/bin/python bench/bench_fanout.py [--services 1000] [--processes 4] [--interval 2]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import psycopg
from fanout_server import (
    Sampler,
    cpu_seconds,
    pgbench_capacity,
    pgbench_scripts,
    service_backends,
    statement_stats,
    version_check,
)

sys.path.insert(
    0, str(Path(__file__).resolve().parents[1])
)  # the repository root, for tests.topology

ASSET = "USDC"
VERSION_CHECK_LIKE = "%from config_version%"


# -- worker processes -------------------------------------------------------------------------


def worker(pipe: Connection, dsn: str, count: int, interval: float) -> None:
    """Run `count` loaders in poll mode; answer the parent's commands until told to stop."""
    from tonsurance.config import ConfigLoader

    arrivals: dict[float, dict[int, float]] = {}

    def recorder(index: int) -> Any:
        def record(snapshot: Any) -> None:
            value = snapshot.pricing.base_rate.get(ASSET)
            arrivals.setdefault(value, {}).setdefault(index, time.time())

        return record

    loaders = []
    try:
        for index in range(count):
            loader = ConfigLoader(dsn, mode="poll", poll_interval=interval)
            loader.subscribe(recorder(index))
            loaders.append(loader.start())
        pipe.send(("ready", count))
        while True:
            command, *args = pipe.recv()
            if command == "cpu":
                times = os.times()
                pipe.send(times.user + times.system)
            elif command == "failures":
                pipe.send(sum(loader.stats()["reload_failures"] for loader in loaders))
            elif command == "await":
                value, timeout = args
                deadline = time.monotonic() + timeout
                while len(arrivals.get(value, {})) < count and time.monotonic() < deadline:
                    time.sleep(0.01)
                pipe.send(dict(arrivals.get(value, {})))
            elif command == "stop":
                break
    finally:
        for loader in loaders:
            loader.stop(timeout=1.0)
        pipe.send(("stopped", len(loaders)))


def percentile(sorted_values: list[float], fraction: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(fraction * (len(sorted_values) - 1))))
    return sorted_values[index]


# -- the run ----------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--services", type=int, default=1000)
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--interval", type=float, default=2.0)
    parser.add_argument("--pool-size", type=int, default=4)
    parser.add_argument("--steady", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--capacity", type=float, default=8.0, help="seconds of pgbench per read (0: none)"
    )
    args = parser.parse_args()

    from tests.topology import running_topology

    settings = {"shared_preload_libraries": "pg_stat_statements"}
    started = time.monotonic()
    with running_topology(
        pool_size=args.pool_size,
        max_client_conn=args.services + 200,
        primary_settings=settings,
    ) as topo:
        with psycopg.connect(topo.primary_dsn, autocommit=True) as conn:
            conn.execute("create extension pg_stat_statements")
        topo.wait_for_replay()
        sampler = Sampler(topo.standby_admin_dsn, topo.bouncer)
        sampler.start()
        context = multiprocessing.get_context("spawn")
        shares = [args.services // args.processes] * args.processes
        for extra in range(args.services % args.processes):
            shares[extra] += 1
        pipes: list[Connection] = []
        processes = []
        try:
            for share in shares:
                parent, child = context.Pipe()
                process = context.Process(
                    target=worker, args=(child, topo.bouncer_service_dsn, share, args.interval)
                )
                process.start()
                pipes.append(parent)
                processes.append(process)
            for pipe in pipes:
                if not pipe.poll(300):
                    raise TimeoutError("a worker did not start its loaders within 300 s")
                message = pipe.recv()
                if message[0] != "ready":
                    raise RuntimeError(f"a worker failed to start: {message}")
            print(
                f"{args.services} loaders in {args.processes} processes started in"
                f" {time.monotonic() - started:.1f} s (topology included)",
                flush=True,
            )
            time.sleep(args.interval * 1.5)
            result = measure(topo, sampler, pipes, args)
        finally:
            for pipe in pipes:
                try:
                    pipe.send(("stop",))
                except OSError:
                    pass
            for process in processes:
                process.join(30)
                if process.is_alive():
                    process.kill()
            sampler.stop()
        capacities = []
        if args.capacity > 0:
            with (
                tempfile.TemporaryDirectory(prefix="tonsurance-bench-") as folder,
                psycopg.connect(topo.standby_admin_dsn, autocommit=True) as standby,
            ):
                scripts = pgbench_scripts(Path(folder))
                for name, script in scripts.items():
                    capacities.append(pgbench_capacity(topo, standby, script, name, args.capacity))
                capacities.append(
                    pgbench_capacity(
                        topo,
                        standby,
                        scripts["version check"],
                        "version check on kept connections",
                        args.capacity,
                        connect_each=False,
                    )
                )
    report(result, sampler, args)
    for capacity in capacities:
        print(
            f"{capacity.name} through PgBouncer: {capacity.tps:.0f}/s,"
            f" latency {capacity.latency_ms:.2f} ms; PgBouncer CPU {capacity.bouncer_cpu_us:.0f} µs"
            f" and standby backend CPU {capacity.backend_cpu_us:.0f} µs per transaction"
        )
    return 0


@dataclass
class Usage:
    """CPU seconds used so far by the loaders' processes, PgBouncer and the standby backends."""

    at: float
    workers: float
    bouncer: float
    backends: dict[int, float]

    @classmethod
    def now(cls, topo: Any, pipes: list[Connection], pids: set[int]) -> Usage:
        workers = sum(ask(pipe, ("cpu",)) for pipe in pipes)
        backends = {pid: cpu_seconds(pid) for pid in pids}
        return cls(time.monotonic(), workers, cpu_seconds(topo.bouncer.process.pid), backends)

    def since(self, before: Usage) -> tuple[float, float, float, float]:
        """Seconds elapsed, and the CPU seconds of workers, PgBouncer and backends in between."""
        backends = sum(cpu - before.backends.get(pid, 0.0) for pid, cpu in self.backends.items())
        return (
            self.at - before.at,
            self.workers - before.workers,
            self.bouncer - before.bouncer,
            backends,
        )


def window_stats(
    topo: Any,
    standby: psycopg.Connection[Any],
    pipes: list[Connection],
    sampler: Sampler,
    run: Any,
) -> tuple[tuple[float, float, float, float], dict[str, tuple[int, float]]]:
    """Run `run()` between two usage readings, with pg_stat_statements reset before it."""
    standby.execute("select pg_stat_statements_reset()")
    before = Usage.now(topo, pipes, set(service_backends(standby)))
    run()
    pids = sampler.backend_pids | set(before.backends) | set(service_backends(standby))
    after = Usage.now(topo, pipes, pids)
    return after.since(before), statement_stats(standby)


def measure(topo: Any, sampler: Sampler, pipes: list[Connection], args: Any) -> dict[str, Any]:
    """The steady-state window, then the propagation rounds."""
    delays: list[float] = []

    def rounds() -> None:
        for round_no in range(args.rounds):
            rate = round(0.041 + 0.001 * round_no, 4)
            topo.set_base_rate(ASSET, rate)
            applied = time.time()
            for pipe in pipes:
                pipe.send(("await", rate, args.interval * 3 + 20))
            for pipe in pipes:
                arrived: dict[int, float] = pipe.recv()
                delays.extend(moment - applied for moment in arrived.values())

    with psycopg.connect(topo.standby_admin_dsn, autocommit=True) as standby:
        steady, steady_stats = window_stats(
            topo, standby, pipes, sampler, lambda: time.sleep(args.steady)
        )
        changes, change_stats = window_stats(topo, standby, pipes, sampler, rounds)
        version = standby.execute("show server_version").fetchone()
    failures = sum(ask(pipe, ("failures",)) for pipe in pipes)
    return {
        "steady": steady,
        "steady_stats": steady_stats,
        "changes": changes,
        "change_stats": change_stats,
        "delays": sorted(delays),
        "expected": args.services * args.rounds,
        "failures": failures,
        "server": version[0] if version else "?",
    }


def pgbouncer_version() -> str:
    from tests.pgbouncer import pgbouncer_binary

    done = subprocess.run(
        [pgbouncer_binary(), "--version"], capture_output=True, text=True, check=False
    )
    return done.stdout.splitlines()[0] if done.stdout else "PgBouncer"


def ask(pipe: Connection, command: tuple[Any, ...]) -> Any:
    pipe.send(command)
    return pipe.recv()


def report(result: dict[str, Any], sampler: Sampler, args: Any) -> None:
    delays = result["delays"]
    elapsed, workers, bouncer, backends = result["steady"]
    checks, check_us = version_check(result["steady_stats"])
    per = 1e6 / max(checks, 1)
    print()
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    print(f"machine: {os.cpu_count()} cores, load average at the end {load}")
    print(f"PostgreSQL {result['server']}, {pgbouncer_version()}")
    print(
        f"services {args.services} in {args.processes} processes, poll interval"
        f" {args.interval:g} s, PgBouncer default_pool_size {args.pool_size}"
    )
    print(
        f"standby server connections of the service role, most seen: {sampler.most_backends}"
        f" ({len(sampler.backend_pids)} distinct backends in {sampler.samples} samples);"
        f" PgBouncer server connections, most seen: {sampler.most_pool}"
    )
    print(f"steady {elapsed:.1f} s, no change: {checks} version checks ({checks / elapsed:.0f}/s)")
    print(f"  version check, execution on the server (pg_stat_statements): {check_us:8.1f} µs")
    print(
        f"  standby backend CPU per check (/proc)                      : {backends * per:8.1f} µs"
    )
    print(f"  PgBouncer CPU per check (/proc)                            : {bouncer * per:8.1f} µs")
    print(f"  loader CPU per poll (worker processes)                     : {workers * per:8.1f} µs")
    print(
        f"  worker processes' CPU in cores                             : {workers / elapsed:8.2f}"
    )
    others = {q: v for q, v in result["steady_stats"].items() if "config_version" not in q}
    print(f"  other statements from the loaders: {sum(c for c, _ in others.values())}")
    elapsed, workers, bouncer, backends = result["changes"]
    reloads = len(delays)
    print(f"{args.rounds} changes applied on the primary, {elapsed:.1f} s:")
    for query, (calls, mean) in sorted(result["change_stats"].items()):
        print(f"  {calls:6d} x {mean:8.1f} µs  {' '.join(query.split())[:60]}")
    full = sum(
        calls * mean
        for query, (calls, mean) in result["change_stats"].items()
        if "config_version" not in query or "sync_state" in query
    )
    print(
        f"  server execution per full read (pg_stat_statements): {full / max(reloads, 1):8.1f} µs"
    )
    print(
        f"  standby backend CPU per full read, checks included  : {1e6 * backends / max(reloads, 1):8.1f} µs"
    )
    print(
        f"  loader CPU per full read, checks included           : {1e6 * workers / max(reloads, 1):8.1f} µs"
    )
    print(
        f"propagation, commit on the primary to a loader holding the value:"
        f" {reloads} of {result['expected']} arrivals;"
        f" p50 {percentile(delays, 0.5):.2f} s, p99 {percentile(delays, 0.99):.2f} s,"
        f" max {max(delays, default=float('nan')):.2f} s"
    )
    print(f"reload failures in all loaders: {result['failures']}")


if __name__ == "__main__":
    raise SystemExit(main())
