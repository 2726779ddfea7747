"""The loader's read deadline: an overrunning read is cut off and cancelled on the server."""

from __future__ import annotations

import os
import time

import psycopg
import pytest

from tonsurance.config.deadline import WATCHDOG, ReadTimeout


def backend_gone(admin: str, pid: int, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    with psycopg.connect(admin, autocommit=True) as conn:
        while time.monotonic() < deadline:
            if not conn.execute("select 1 from pg_stat_activity where pid = %s", (pid,)).fetchone():
                return True
            time.sleep(0.05)
    return False


def test_an_overrunning_read_times_out_and_is_cancelled(postgres_server: str) -> None:
    """A read longer than its bound raises ReadTimeout at the bound, the connection is closed,
    and the server process stops running it."""
    conn = psycopg.connect(postgres_server, autocommit=True)
    pid = conn.info.backend_pid
    started = time.monotonic()
    with (
        pytest.raises(ReadTimeout, match="did not answer within 0.3 s"),
        WATCHDOG.bound(conn, 0.3),
    ):
        conn.execute("select pg_sleep(30)")
    assert time.monotonic() - started < 10
    assert conn.closed
    assert backend_gone(postgres_server, pid)


def test_reads_within_their_bound_are_untouched(postgres_server: str) -> None:
    """Many reads that finish in time leave the connection usable, long after their deadlines."""
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        for _ in range(50):
            with WATCHDOG.bound(conn, 0.05):
                assert conn.execute("select 1").fetchone() == (1,)
        time.sleep(0.2)
        assert conn.execute("select 2").fetchone() == (2,)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_bounds_its_reads(postgres_server: str) -> None:
    """After a fork (a pre-forking server), the child's reads are bounded too."""
    with psycopg.connect(postgres_server, autocommit=True) as conn, WATCHDOG.bound(conn, 1):
        conn.execute("select 1")
    child = os.fork()
    if child == 0:
        code = 1
        try:
            with (
                psycopg.connect(postgres_server, autocommit=True) as conn,
                WATCHDOG.bound(conn, 0.3),
            ):
                conn.execute("select pg_sleep(5)")
        except ReadTimeout:
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0
