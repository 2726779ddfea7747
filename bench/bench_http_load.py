"""syncd's HTTP side under a bounded hostile load on 127.0.0.1, against the same daemon unloaded.

    .venv/bin/python bench/bench_http_load.py [--seconds 30] [--idle 1000] [--slow 50]
        [--rate 200] [--files 8192] [--json]

A real `syncd run` process (RLIMIT_NOFILE --files, the unit's LimitNOFILE) follows the bare
remote of a fresh config repository into a fresh database on the local server
(TONSURANCE_TEST_ADMIN_DSN). Two phases of --seconds each, in this process:

  baseline  GET /healthz at --rate requests a second, one new connection each, and a push of
            one changed value every 3 s
  load      the same, while --idle connections stay open and send nothing (each is opened
            again as soon as syncd closes it) and --slow clients send a request head one byte
            a second (each reconnects when cut off)

A push's latency runs from just before `git push` to the NOTIFY that the apply sends once
committed; /healthz latency from connecting to the end of the answer. Every loop is bounded by
--seconds and every wait by a timeout; nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root
from bench_push_latency import PRICING, applied, wait_notify

from syncd.sync.migrate import migrate
from tests.support import ConfigRepo, free_port, fresh_database, make_config_repo
from tonsurance.db import NOTIFY_CHANNEL

HEALTH = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
SLOW_HEAD = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: slow-client\r\n\r\n" * 4
TIMEOUT = 5.0
PUSH_EVERY = 3.0


@contextmanager
def daemon_process(
    dsn: str, files: int
) -> Iterator[tuple[ConfigRepo, int, Path, subprocess.Popen[bytes]]]:
    """A config repository and a `syncd run` following it with RLIMIT_NOFILE `files`."""
    with tempfile.TemporaryDirectory(prefix="bench-http-") as tmp:
        folder = Path(tmp)
        repo = make_config_repo(folder / "repo")
        port, log = free_port(), folder / "syncd.log"
        command = [sys.executable, "-m", "syncd.cli.main", "run", "--repo", str(repo.remote)]
        command += ["--dsn", dsn, "--interval", "30", "--listen", f"127.0.0.1:{port}"]
        command += ["--state-dir", str(folder / "state")]

        def limit() -> None:
            resource.setrlimit(resource.RLIMIT_NOFILE, (files, files))

        with log.open("wb") as out:
            proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, preexec_fn=limit)
        try:
            yield repo, port, log, proc
        finally:
            proc.terminate()
            proc.wait(30)


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if values else 0.0


class Pusher(threading.Thread):
    """Pushes a one-value change every PUSH_EVERY seconds and times it to its NOTIFY."""

    def __init__(self, repo: ConfigRepo, dsn: str, seconds: float) -> None:
        super().__init__(daemon=True)
        self.repo, self.dsn, self.seconds = repo, dsn, seconds
        self.latencies: list[float] = []
        self.missed = 0

    def run(self) -> None:
        end = time.monotonic() + self.seconds - PUSH_EVERY
        with psycopg.connect(self.dsn, autocommit=True) as listen:
            listen.execute(f"listen {NOTIFY_CHANNEL}")
            while time.monotonic() < end:
                old = "0.04" if "USDC: 0.04\n" in self.repo.file(PRICING).read_text() else "0.041"
                new = "0.041" if old == "0.04" else "0.04"
                sha = self.repo.change(PRICING, f"USDC: {old}", f"USDC: {new}", push=False)
                started = time.perf_counter()
                self.repo.push()
                try:
                    self.latencies.append(wait_notify(listen, sha) - started)
                except TimeoutError:
                    self.missed += 1
                time.sleep(max(0.0, PUSH_EVERY - (time.perf_counter() - started)))


class Load:
    """The clients of one phase, on this thread's event loop."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.health: list[float] = []
        self.codes: dict[str, int] = {}
        self.idle_opened = 0
        self.slow_lifetimes: list[float] = []

    async def probe(self) -> None:
        started = time.perf_counter()
        try:
            async with asyncio.timeout(TIMEOUT):
                reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
                writer.write(HEALTH)
                answer = await reader.read()
                writer.close()
            code = answer[9:12].decode() or "closed"
        except (OSError, TimeoutError) as exc:
            code = type(exc).__name__
        self.codes[code] = self.codes.get(code, 0) + 1
        if code == "200":
            self.health.append(time.perf_counter() - started)

    async def idle(self) -> None:
        while True:
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
            except OSError:
                await asyncio.sleep(0.1)
                continue
            self.idle_opened += 1
            try:
                await reader.read()  # until syncd closes it (or answers 503 and closes)
            except OSError:
                pass
            writer.close()

    async def slow(self) -> None:
        while True:
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", self.port)
            except OSError:
                await asyncio.sleep(0.1)
                continue
            opened = time.perf_counter()
            try:
                for byte in SLOW_HEAD:
                    writer.write(bytes([byte]))
                    await writer.drain()
                    await asyncio.sleep(1.0)
            except OSError:
                self.slow_lifetimes.append(time.perf_counter() - opened)
            writer.close()

    async def flood(self, seconds: float, idle: int, slow: int) -> None:
        """Hold `idle` silent and `slow` trickling connections for `seconds`."""
        background = [asyncio.create_task(self.idle()) for _ in range(idle)]
        background += [asyncio.create_task(self.slow()) for _ in range(slow)]
        await asyncio.sleep(seconds)
        for task in background:
            task.cancel()
        await asyncio.gather(*background, return_exceptions=True)

    async def probes(self, seconds: float, rate: float) -> None:
        tasks = []
        start = time.perf_counter()
        for i in range(int(seconds * rate)):
            await asyncio.sleep(max(0.0, start + i / rate - time.perf_counter()))
            tasks.append(asyncio.create_task(self.probe()))
        await asyncio.gather(*tasks)


def flood_process(port: int, seconds: float, idle: int, slow: int, out: Any) -> None:
    """The flood, in a process of its own so that its clients do not slow the probes'."""
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    load = Load(port)
    asyncio.run(load.flood(seconds, idle, slow))
    out.send((load.idle_opened, load.slow_lifetimes))


def phase(
    repo: ConfigRepo,
    dsn: str,
    pid: int,
    port: int,
    seconds: float,
    rate: float,
    idle: int,
    slow: int,
) -> dict[str, Any]:
    load = Load(port)
    cpu = cpu_seconds(pid)
    flood = None
    if idle or slow:
        receive, send = multiprocessing.Pipe(duplex=False)
        flood = multiprocessing.Process(
            target=flood_process, args=(port, seconds + 2.0, idle, slow, send)
        )
        flood.start()
        time.sleep(2.0)  # let the flood build up before measuring
    pusher = Pusher(repo, dsn, seconds)
    pusher.start()
    asyncio.run(load.probes(seconds, rate))
    pusher.join(60)
    cpu = cpu_seconds(pid) - cpu
    if flood is not None:
        load.idle_opened, load.slow_lifetimes = receive.recv()
        flood.join(30)
    return {
        "health_p50_ms": percentile(load.health, 50) * 1000,
        "health_p99_ms": percentile(load.health, 99) * 1000,
        "health_max_ms": max(load.health, default=0.0) * 1000,
        "answers": load.codes,
        "pushes": len(pusher.latencies),
        "pushes_missed": pusher.missed,
        "push_max_s": max(pusher.latencies, default=0.0),
        "push_median_s": statistics.median(pusher.latencies) if pusher.latencies else 0.0,
        "idle_connections_opened": load.idle_opened,
        "syncd_cpu_share": cpu / seconds,
        "slow_cut_off_median_s": statistics.median(load.slow_lifetimes)
        if load.slow_lifetimes
        else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--idle", type=int, default=1000)
    parser.add_argument("--slow", type=int, default=50)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--files", type=int, default=8192)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # this process holds the flood
    with fresh_database() as dsn:
        migrate(dsn)
        results = run(dsn, args)
    if args.json:
        print(json.dumps(results, indent=2))
        return
    report(results, args)


def run(dsn: str, args: argparse.Namespace) -> dict[str, Any]:
    with daemon_process(dsn, args.files) as (repo, port, log, proc):
        deadline = time.monotonic() + 30
        while applied(dsn) != repo.head() and time.monotonic() < deadline:
            time.sleep(0.05)
        results = {
            "baseline": phase(repo, dsn, proc.pid, port, args.seconds, args.rate, 0, 0),
            "load": phase(repo, dsn, proc.pid, port, args.seconds, args.rate, args.idle, args.slow),
        }
        faults = [line for line in log.read_text().splitlines() if "_down:" in line]
    return {**results, "faults_logged": faults}


def report(results: dict[str, Any], args: argparse.Namespace) -> None:
    faults = results["faults_logged"]
    base, load = results["baseline"], results["load"]
    print(f"{args.seconds:g} s per phase, /healthz at {args.rate:g}/s, RLIMIT_NOFILE {args.files}")
    print(
        "phase      health p50  health p99  health max  pushes  push median  push max  syncd CPU"
        "  answers"
    )
    for name, r in (("baseline", base), ("load", load)):
        print(
            f"{name:<9} {r['health_p50_ms']:9.1f}ms {r['health_p99_ms']:9.1f}ms"
            f" {r['health_max_ms']:9.1f}ms {r['pushes']:5d}/{r['pushes'] + r['pushes_missed']}"
            f" {r['push_median_s']:10.2f}s {r['push_max_s']:8.2f}s {r['syncd_cpu_share']:9.0%}"
            f"  {r['answers']}"
        )
    ratio = load["health_p99_ms"] / base["health_p99_ms"] if base["health_p99_ms"] else 0.0
    print(f"p99 ratio load/baseline: {ratio:.2f}")
    print(
        f"idle connections opened: {load['idle_connections_opened']}; slow clients cut off"
        f" after {load['slow_cut_off_median_s']} s (median); faults logged: {len(faults)}"
    )


if __name__ == "__main__":
    main()
