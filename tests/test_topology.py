"""Services read from a hot standby through PgBouncer; syncd writes only to the primary."""

from __future__ import annotations

import psycopg
import pytest
from click.testing import CliRunner, Result

from syncd.cli.main import main
from tests.topology import Topology

pytestmark = pytest.mark.slow

STANDBY_REFUSAL = "is a standby (read-only); syncd writes to the primary"


def syncd(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def runs_on_primary(topology: Topology) -> int:
    with psycopg.connect(topology.primary_dsn) as conn:
        row = conn.execute("select count(*) from sync_runs").fetchone()
        return int(row[0]) if row else 0


@pytest.mark.parametrize("command", ["migrate", "apply"])
def test_writer_refuses_a_standby_with_one_line(topology: Topology, command: str) -> None:
    """syncd migrate and apply given the standby's address fail with one line and change nothing."""
    before = runs_on_primary(topology)
    extra = ["--repo", str(topology.repo.path)] if command == "apply" else []
    result = syncd(command, *extra, "--dsn", topology.standby_admin_dsn)
    assert result.exit_code == 3
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert STANDBY_REFUSAL in lines[0]
    assert f"port={topology.standby.port}" in lines[0]
    assert runs_on_primary(topology) == before


def test_writer_finds_the_primary_in_a_multi_host_address(topology: Topology) -> None:
    """With the standby listed first, syncd apply skips it and writes to the primary."""
    before = runs_on_primary(topology)
    both = topology.multi_host_service_dsn(user="postgres", target_session_attrs="any")
    result = syncd("apply", "--repo", str(topology.repo.path), "--dsn", both)
    assert result.exit_code == 0, result.stderr
    assert runs_on_primary(topology) == before + 1


def test_writer_names_every_standby_when_no_server_accepts_writes(topology: Topology) -> None:
    """A multi-host address whose servers are all standbys is refused in one line, no write."""
    standbys = (
        f"host=127.0.0.1,127.0.0.1 port={topology.standby.port},{topology.standby.port}"
        " user=postgres dbname=tonsurance"
    )
    result = syncd("migrate", "--dsn", standbys)
    assert result.exit_code == 3
    assert "accepts writes (each one that answered is a standby)" in result.stderr
    assert "syncd writes to the primary" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("via", ["standby", "pgbouncer"])
def test_service_role_reads_the_standby_and_cannot_write(topology: Topology, via: str) -> None:
    """The service role reads the applied configuration on the standby and no write gets in."""
    topology.wait_for_replay()
    dsn = topology.standby_service_dsn if via == "standby" else topology.bouncer_service_dsn
    with psycopg.connect(topology.primary_dsn) as conn:
        applied = conn.execute("select applied_commit from sync_state").fetchone()
    with psycopg.connect(dsn, autocommit=True) as conn:
        assert conn.execute("select current_user").fetchone() == ("tonsurance_service",)
        assert conn.execute("select applied_commit from sync_state").fetchone() == applied
        count = conn.execute("select count(*) from config_parameters").fetchone()
        assert count is not None and count[0] > 0
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            conn.execute("update config_parameters set value = '0.5'")
        rights = conn.execute(
            "select has_table_privilege('config_parameters', 'select'),"
            " has_table_privilege('config_parameters', 'update'),"
            " has_table_privilege('sync_state', 'insert')"
        ).fetchone()
        assert rights == (True, False, False)


def test_pgbouncer_shows_a_server_held_by_an_open_transaction(topology: Topology) -> None:
    """The pool check sees a server connection while a client holds a transaction open."""
    with psycopg.connect(topology.bouncer_service_dsn) as conn:
        conn.execute("select 1 from sync_state")
        assert topology.bouncer.pool()["sv_active"] == 1
        conn.rollback()
        assert topology.bouncer.pool()["sv_active"] == 0


def test_prefer_standby_through_pgbouncer_skips_the_primary(topology: Topology) -> None:
    """libpq's prefer-standby recognises the standby behind PgBouncer, whichever host it tries first."""
    both = (
        f"host=127.0.0.1,127.0.0.1 port={topology.primary.port},{topology.bouncer.port}"
        " user=tonsurance_service dbname=tonsurance target_session_attrs=prefer-standby"
        " load_balance_hosts=random"
    )
    for _ in range(8):
        with psycopg.connect(both, autocommit=True) as conn:
            assert conn.info.port == topology.bouncer.port
            assert conn.execute("select pg_is_in_recovery()").fetchone() == (True,)


def test_writer_refusal_of_a_standby_never_shows_the_password(topology: Topology) -> None:
    """The standby refusal names the address with its password hidden, in both address forms."""
    secret = "s3cr#t/pw"
    port = topology.standby.port
    for dsn in (
        f"host=127.0.0.1 port={port} user=postgres dbname=tonsurance password='{secret}'",
        f"postgresql://postgres:s3cr%23t%2Fpw@127.0.0.1:{port}/tonsurance",
    ):
        result = syncd("migrate", "--dsn", dsn)
        assert result.exit_code == 3
        assert STANDBY_REFUSAL in result.stderr
        assert secret not in result.output + result.stderr
        assert "s3cr%23t" not in result.output + result.stderr
