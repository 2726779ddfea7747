"""Server-side measurements for bench_fanout.py: CPU from /proc, PgBouncer's and the
standby's connections, pg_stat_statements, and pgbench runs of the loader's two reads."""

from __future__ import annotations

import os
import re
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from syncd.local.server import postgres_bindir

TICKS = os.sysconf("SC_CLK_TCK")
SERVICE_ROLE = "tonsurance_service"


def _figure(pattern: str, text: str) -> float:
    found = re.search(pattern, text, re.MULTILINE)
    if found is None:
        raise RuntimeError(f"pgbench printed no {pattern!r}: {text[-300:]}")
    return float(found.group(1))


def cpu_seconds(pid: int) -> float:
    """User + system CPU of one process, from /proc (0 when it has gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS


def service_backends(conn: psycopg.Connection[Any]) -> list[int]:
    rows = conn.execute(
        "select pid from pg_stat_activity where usename = %s", (SERVICE_ROLE,)
    ).fetchall()
    return [int(row[0]) for row in rows]


@dataclass
class Sampler:
    """Samples, every 0.2 s, the standby's service connections and PgBouncer's server ones."""

    standby_dsn: str
    bouncer: Any
    most_backends: int = 0
    most_pool: int = 0
    backend_pids: set[int] = field(default_factory=set)
    samples: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)

    def _run(self) -> None:
        with psycopg.connect(self.standby_dsn, autocommit=True) as conn:
            while not self._stop.wait(0.2):
                pids = service_backends(conn)
                self.backend_pids.update(pids)
                pool = self.bouncer.pool()
                servers = sum(
                    int(pool.get(name, 0))
                    for name in ("sv_active", "sv_idle", "sv_used", "sv_tested", "sv_login")
                )
                self.most_backends = max(self.most_backends, len(pids))
                self.most_pool = max(self.most_pool, servers)
                self.samples += 1


def statement_stats(conn: psycopg.Connection[Any]) -> dict[str, tuple[int, float]]:
    """Calls and mean execution time (µs) of the loaders' statements on this server."""
    rows = conn.execute(
        "select query, calls, mean_exec_time * 1000 from pg_stat_statements s"
        " join pg_roles r on r.oid = s.userid where r.rolname = 'tonsurance_service'"
    ).fetchall()
    return {str(query): (int(calls), float(mean)) for query, calls, mean in rows}


def version_check(stats: dict[str, tuple[int, float]]) -> tuple[int, float]:
    """The version check's calls and µs: the most-called statement reading config_version."""
    checks = [value for query, value in stats.items() if "config_version" in query]
    return max(checks, default=(0, 0.0))


def pgbench_scripts(folder: Path) -> dict[str, Path]:
    """The loader's two reads as pgbench scripts: the version check, and one full read."""
    from tonsurance.config.dbread import HEAD_SQL, PARAMETERS_SQL, VERSION_SQL
    from tonsurance.config.state import TABLE_COLUMNS

    tables = [
        f"select {', '.join(columns)} from {table} order by id;"
        for table, columns in TABLE_COLUMNS.items()
    ]
    texts = {
        "version check": f"{VERSION_SQL};\n",
        "full read": "\n".join(
            [
                "begin isolation level repeatable read read only;",
                f"{HEAD_SQL};",
                f"{PARAMETERS_SQL};",
                *tables,
                "commit;",
            ]
        )
        + "\n",
    }
    scripts = {}
    for name, text in texts.items():
        path = folder / f"{name.replace(' ', '_')}.sql"
        path.write_text(text)
        scripts[name] = path
    return scripts


@dataclass(frozen=True)
class Capacity:
    """What pgbench sustained through PgBouncer, one new connection per transaction (-C)."""

    name: str
    tps: float
    latency_ms: float
    bouncer_cpu_us: float
    backend_cpu_us: float


def pgbench_capacity(
    topo: Any,
    standby: psycopg.Connection[Any],
    script: Path,
    name: str,
    seconds: float,
    *,
    connect_each: bool = True,
) -> Capacity:
    """Run pgbench with 8 clients for `seconds`; CPU per transaction from /proc.

    `connect_each` (-C): a new connection per transaction, as a poll-mode loader does."""
    pids = set(service_backends(standby))
    bouncer_before = cpu_seconds(topo.bouncer.process.pid)
    backends_before = {pid: cpu_seconds(pid) for pid in pids}
    done = subprocess.run(
        [
            str(postgres_bindir() / "pgbench"),
            "-n",
            *(["-C"] if connect_each else []),
            "-c",
            "8",
            "-j",
            "2",
            "-T",
            str(round(seconds)),
            "-f",
            str(script),
            "-h",
            "127.0.0.1",
            "-p",
            str(topo.bouncer.port),
            "-U",
            "tonsurance_service",
            "tonsurance",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 60,
    )
    pids |= set(service_backends(standby))
    bouncer = cpu_seconds(topo.bouncer.process.pid) - bouncer_before
    backends = sum(cpu_seconds(pid) - backends_before.get(pid, 0.0) for pid in pids)
    tps = _figure(r"^tps = ([0-9.]+)", done.stdout)
    latency = _figure(r"^latency average = ([0-9.]+) ms", done.stdout)
    count = tps * seconds
    label = f"pgbench{' -C' if connect_each else ''} -c 8, {name}"
    return Capacity(label, tps, latency, 1e6 * bouncer / count, 1e6 * backends / count)
