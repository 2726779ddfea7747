"""Loaders in poll mode on a hot standby, through PgBouncer and over a multi-host address."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from tests.topology import Topology
from tonsurance.config import ConfigLoader

pytestmark = pytest.mark.slow

ASSET = "USDC"
WAIT = 20.0


def wait_until(condition: Callable[[], bool], what: str, timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        time.sleep(0.05)


@contextmanager
def poll_loader(dsn: str, poll_interval: float) -> Iterator[ConfigLoader]:
    loader = ConfigLoader(dsn, mode="poll", poll_interval=poll_interval).start()
    try:
        yield loader
    finally:
        loader.stop()


def rate(loader: ConfigLoader) -> float:
    return loader.get_float("pricing", f"base_rate_{ASSET}", -1.0)


def next_rate(loader: ConfigLoader) -> float:
    """A rate different from the loaded one: the next of 0.040, 0.041, ..., 0.049, 0.040."""
    return round(0.04 + (round(rate(loader) * 1000) - 39) % 10 / 1000, 3)


def test_poll_loader_behind_pgbouncer_sees_an_applied_change(topology: Topology) -> None:
    """A poll-mode loader reading the standby through PgBouncer gets a change applied on the primary."""
    with poll_loader(topology.bouncer_service_dsn, 0.2) as loader:
        assert loader.stats()["source"] == "database"
        assert loader.stats()["standby"] is True
        wanted = next_rate(loader)
        sha = topology.set_base_rate(ASSET, wanted)
        wait_until(lambda: rate(loader) == wanted, f"the loader holds {ASSET} = {wanted}")
        assert loader.snapshot.commit == sha
        assert loader.stats()["reload_failures"] == 0


def test_multi_host_loader_survives_the_standby_stopping(topology: Topology) -> None:
    """A loader on `standby,primary` keeps its values, follows changes while the standby is down,
    and reads the standby again once it is back."""
    dsn = topology.multi_host_service_dsn(connect_timeout="2", load_balance_hosts="random")
    topology.wait_for_replay()
    with poll_loader(dsn, 0.2) as loader:
        wait_until(lambda: loader.stats()["standby"] is True, "a check answered by the standby")
        try:
            topology.standby.stop("fast")
            held = rate(loader)
            wait_until(
                lambda: loader.stats()["standby"] is False, "a check answered by the primary"
            )
            assert rate(loader) == held
            during = next_rate(loader)
            topology.set_base_rate(ASSET, during)
            wait_until(lambda: rate(loader) == during, "the change made while the standby is down")
        finally:
            if not topology.standby.running():
                topology.standby.start()
        topology.wait_for_replay()
        wait_until(lambda: loader.stats()["standby"] is True, "a check answered by the standby")
        after = next_rate(loader)
        topology.set_base_rate(ASSET, after)
        wait_until(lambda: rate(loader) == after, "the change made after the standby is back")
        assert loader.stats()["consecutive_failures"] == 0


def test_idle_poll_loader_holds_no_pgbouncer_connection(topology: Topology) -> None:
    """Between polls a loader holds neither a client nor a server connection of PgBouncer."""
    with poll_loader(topology.bouncer_service_dsn, 60.0) as loader:
        assert loader.stats()["source"] == "database"
        pool = topology.bouncer.pool()
        assert (pool["cl_active"], pool["cl_waiting"], pool["sv_active"]) == (0, 0, 0)
        held = [server for server in topology.bouncer.show("servers") if server["link"]]
        assert held == []
