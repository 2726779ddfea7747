"""Console response times: the shipped configuration with 10,000 audit rows, and a 100k-parameter
apply, including while that apply runs.

    .venv/bin/python bench/bench_console.py [--requests 500] [--large 100000]

A `syncd console` server runs in this process over a fresh database on the local server; a
client on one keep-alive connection asks each page in turn. The baseline is /healthz on the same
server (the HTTP round trip, no database): ratios are against its median in the same run.
The 10,000 audit rows are written as an analyst's week would: one apply of the shipped
configuration, then hourly commits of a few values and the odd hand edit, spread over 7 days
(inserted directly, with the apply's columns, for speed).
"""

from __future__ import annotations

import argparse
import http.client
import logging
import statistics
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root
sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench_apply

from bench_apply import info, synthetic_state

from syncd.daemon.console import ConsoleServer
from syncd.sync.migrate import migrate
from syncd.sync.transaction import apply_state
from tests.support import free_port, fresh_database
from tonsurance.config.state import ConfigState

AUDIT_ROWS = 10_000
PAGES = {
    "front page": "/ui/",
    "front page, JSON": "/ui/index.json",
    "parameters": "/ui/parameters",
    "parameters, filtered": "/ui/parameters?q=tier1",
    "one parameter": "/ui/parameter?category=pricing&key=base_rate_USDC",
    "audit log": "/ui/audit",
    "depegs and stress": "/ui/tables",
}
_HISTORY = """
insert into config_audit_log (table_name, category, key, action, old_value, new_value,
                              commit_sha, commit_author, commit_message, is_drift, reason,
                              changed_at)
select 'config_parameters', p.category, p.key, 'UPDATE', p.value, p.value,
       case when i %% 50 = 0 then null else lpad(to_hex(i / 8), 40, '0') end,
       case when i %% 50 = 0 then null else 'Analyst <analyst@tonsurance.test>' end,
       case when i %% 50 = 0 then null else 'Tune ' || p.key end,
       i %% 50 = 0, case when i %% 50 = 0 then 'drift' else 'commit' end,
       now() - make_interval(secs => (%(rows)s - i) * 604800.0 / %(rows)s)
  from generate_series(1, %(rows)s) i
  join lateral (select category, key, value from config_parameters
                 order by category, key offset (i %% 81) limit 1) p on true
"""


def timings(base: str, target: str, count: int) -> list[float]:
    """Seconds per request for `count` GETs of `target` on one keep-alive connection."""
    conn = http.client.HTTPConnection(base, timeout=30)
    out = []
    try:
        for _ in range(count):
            start = time.perf_counter()
            conn.request("GET", target)
            response = conn.getresponse()
            response.read()
            out.append(time.perf_counter() - start)
            assert response.status == 200, (target, response.status)
    finally:
        conn.close()
    return out


def p99(values: list[float]) -> float:
    return sorted(values)[min(len(values) - 1, int(len(values) * 0.99))]


def report(base: str, count: int, pages: dict[str, str]) -> None:
    timings(base, "/healthz", 20)  # warm up the connection and the pool
    baseline = statistics.median(timings(base, "/healthz", count))
    print(f"{'page':<24} {'median ms':>9} {'p99 ms':>7} {'x /healthz':>10}")
    print(f"{'/healthz (baseline)':<24} {baseline * 1e3:9.2f} {'':>7} {1:10.1f}")
    for name, target in pages.items():
        timings(base, target, 5)
        times = timings(base, target, count)
        median = statistics.median(times)
        print(f"{name:<24} {median * 1e3:9.2f} {p99(times) * 1e3:7.2f} {median / baseline:10.1f}")


def shipped(count: int) -> None:
    with fresh_database() as dsn:
        migrate(dsn)
        state = synthetic_state(0)
        with psycopg.connect(dsn) as conn:
            apply_state(conn, info(1), state)
            existing = conn.execute("select count(*) from config_audit_log").fetchone()
            conn.execute(_HISTORY, {"rows": AUDIT_ROWS - (existing[0] if existing else 0)})
            conn.commit()
            rows = conn.execute("select count(*) from config_audit_log").fetchone()
        server = ConsoleServer(dsn, f"127.0.0.1:{free_port()}")
        server.start()
        try:
            print(
                f"\nshipped configuration ({len(state.parameters)} parameters),"
                f" {rows[0] if rows else 0} audit rows, {count} requests per page"
            )
            report(server.address, count, PAGES)
        finally:
            server.stop()


def changed(state: ConfigState) -> ConfigState:
    params = {
        k: replace(p, value=round(p.value + 0.0001, 6)) if p.value_type == "float" else p
        for k, p in state.parameters.items()
    }
    return ConfigState(params, state.tables)


def large(size: int, count: int) -> None:
    with fresh_database() as dsn:
        migrate(dsn)
        state = synthetic_state(size)
        with psycopg.connect(dsn) as conn:
            start = time.perf_counter()
            apply_state(conn, info(1), state)
            took = time.perf_counter() - start
        server = ConsoleServer(dsn, f"127.0.0.1:{free_port()}")
        server.start()
        try:
            print(f"\n{size} parameters applied in one commit ({took:.1f} s), {count} requests")
            pages = dict(PAGES)
            pages["parameters, filtered"] = "/ui/parameters?q=SYN0999"
            report(server.address, count, pages)
            during: list[float] = []
            done = threading.Event()

            def apply_again() -> None:
                with psycopg.connect(dsn) as conn:
                    apply_state(conn, info(2), changed(state))
                done.set()

            worker = threading.Thread(target=apply_again)
            worker.start()
            while not done.is_set():
                during += timings(server.address, "/ui/", 1)
            worker.join()
            print(
                f"front page during a {size}-row apply: {len(during)} requests, median"
                f" {statistics.median(during) * 1e3:.1f} ms, max {max(during) * 1e3:.1f} ms"
            )
        finally:
            server.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--large", type=int, default=100_000)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)  # the server's own complaints, should any come
    shipped(args.requests)
    if args.large:
        large(args.large, max(10, args.requests // 10))


if __name__ == "__main__":
    main()
