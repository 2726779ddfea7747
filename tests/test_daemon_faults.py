"""`syncd run` under faults: signals, kills, a database that goes away, two daemons, git, disk."""

from __future__ import annotations

import shutil
import signal
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest
from test_daemon import (
    PRICING,
    applied,
    audit_rows,
    daemons,
    lock_waiters,
    repo,
    runs,
    usdc,
    wait_applied,
    wait_for,
)

from syncd.daemon.httpserver import parse_listen
from syncd.daemon.mirror import Mirror, local_path, redact_url
from syncd.daemon.webhook import sign, verify_signature
from syncd.errors import GitUnavailable
from syncd.sync.migrate import migrate
from tests.support import ConfigRepo, git, throwaway_cluster
from tonsurance.errors import UsageProblem

__all__ = ["daemons", "repo"]

LOCK_USDC = (
    "select * from config_parameters"
    " where category = 'pricing' and key = 'base_rate_USDC' for update"
)


@pytest.mark.slow
def test_sigterm_mid_apply_rolls_back_and_exits_zero(
    repo: ConfigRepo, db_dsn: str, daemons: Any
) -> None:
    """SIGTERM while an apply waits in its transaction rolls back after --stop-timeout, exit 0."""
    daemon = daemons(str(repo.remote), db_dsn, "--stop-timeout", "0.5")
    first = repo.head()
    wait_applied(db_dsn, first)
    with psycopg.connect(db_dsn) as blocker:
        blocker.execute(LOCK_USDC)
        sha = repo.change(PRICING, "USDC: 0.04", "USDC: 0.045")
        wait_for(lambda: lock_waiters(db_dsn) == 1, what="the apply to wait on the row lock")
        assert daemon.stop(signal.SIGTERM) == 0
        blocker.rollback()
    assert "rolled back on shutdown" in daemon.log
    assert applied(db_dsn) == first and usdc(db_dsn) == 0.04
    assert audit_rows(db_dsn, sha) == 0 and runs(db_dsn, sha, "applied") == 0


@pytest.mark.slow
def test_sigterm_mid_apply_lets_the_transaction_finish(
    repo: ConfigRepo, db_dsn: str, daemons: Any
) -> None:
    """SIGTERM while an apply waits lets it commit if it can within --stop-timeout, then exits 0."""
    daemon = daemons(str(repo.remote), db_dsn, "--stop-timeout", "10")
    wait_applied(db_dsn, repo.head())
    with psycopg.connect(db_dsn) as blocker:
        blocker.execute(LOCK_USDC)
        sha = repo.change(PRICING, "USDC: 0.04", "USDC: 0.045")
        wait_for(lambda: lock_waiters(db_dsn) == 1, what="the apply to wait on the row lock")
        daemon.proc.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        blocker.rollback()
    assert daemon.proc.wait(30) == 0
    assert applied(db_dsn) == sha and usdc(db_dsn) == 0.045 and runs(db_dsn, sha, "applied") == 1


@pytest.mark.slow
def test_sigkill_mid_apply_then_restart_carries_on(
    repo: ConfigRepo, db_dsn: str, daemons: Any
) -> None:
    """A daemon killed in its transaction leaves the database whole; the next start applies."""
    daemon = daemons(str(repo.remote), db_dsn)
    first = repo.head()
    wait_applied(db_dsn, first)
    with psycopg.connect(db_dsn) as blocker:
        blocker.execute(LOCK_USDC)
        sha = repo.change(PRICING, "USDC: 0.04", "USDC: 0.045")
        wait_for(lambda: lock_waiters(db_dsn) == 1, what="the apply to wait on the row lock")
        assert daemon.stop(signal.SIGKILL) == -signal.SIGKILL
        assert applied(db_dsn) == first and usdc(db_dsn) == 0.04
        blocker.rollback()
    daemons(str(repo.remote), db_dsn)
    wait_applied(db_dsn, sha)
    assert usdc(db_dsn) == 0.045
    assert audit_rows(db_dsn, sha) == 1 and runs(db_dsn, sha, "applied") == 1


@pytest.mark.slow
def test_database_stopped_mid_apply_recovers_without_restart(
    repo: ConfigRepo, daemons: Any
) -> None:
    """A database gone mid-apply leaves no partial state; the daemon applies when it is back."""
    with throwaway_cluster() as cluster:
        dsn = cluster.dsn
        migrate(dsn)
        daemon = daemons(str(repo.remote), dsn)
        wait_applied(dsn, repo.head())
        blocker = psycopg.connect(dsn)
        blocker.execute(LOCK_USDC)
        sha = repo.change(PRICING, "USDC: 0.04", "USDC: 0.045")
        wait_for(lambda: lock_waiters(dsn) == 1, what="the apply to wait on the row lock")
        cluster.stop("fast")
        blocker.close()
        wait_for(
            lambda: "database" in daemon.status()["faults"], what="/status to report the database"
        )
        assert daemon.request("/healthz")[0] == 200 and daemon.request("/readyz")[0] == 503
        time.sleep(1.5)
        cluster.start()
        wait_applied(dsn, sha, timeout=20)
        assert usdc(dsn) == 0.045
        assert audit_rows(dsn, sha) == 1 and runs(dsn, sha, "applied") == 1
        wait_for(lambda: daemon.status()["faults"] == {}, what="the fault to clear")
        assert daemon.proc.poll() is None
        assert daemon.log.count("database_down:") == 1 and daemon.log.count("database_up:") == 1


@pytest.mark.slow
def test_two_daemons_apply_each_commit_once(repo: ConfigRepo, db_dsn: str, daemons: Any) -> None:
    """Of two daemons exactly one applies each commit; the other stands by and takes over."""
    one = daemons(str(repo.remote), db_dsn, name="one")
    two = daemons(str(repo.remote), db_dsn, name="two")
    shas = [repo.head()]
    wait_applied(db_dsn, shas[0])
    for old, new in (("0.04", "0.041"), ("0.041", "0.042"), ("0.042", "0.043")):
        shas.append(repo.change(PRICING, f"USDC: {old}", f"USDC: {new}"))
        wait_applied(db_dsn, shas[-1])
    for sha in shas:
        assert runs(db_dsn, sha, "applied") == 1
    wait_for(
        lambda: {one.status()["role"], two.status()["role"]} == {"active", "standby"},
        what="the roles",
    )
    active, standby = (one, two) if one.status()["role"] == "active" else (two, one)
    assert active.stop() == 0
    wait_for(lambda: standby.status()["role"] == "active", what="the standby to take over")
    sha = repo.change(PRICING, "USDC: 0.043", "USDC: 0.044")
    wait_applied(db_dsn, sha)
    assert runs(db_dsn, sha, "applied") == 1


@pytest.mark.slow
def test_git_remote_unavailable_then_back(repo: ConfigRepo, db_dsn: str, daemons: Any) -> None:
    """A vanished remote is one logged fault, health is still served, and syncd resumes after it."""
    daemon = daemons(str(repo.remote), db_dsn)
    wait_applied(db_dsn, repo.head())
    away = repo.remote.with_name("away.git")
    repo.remote.rename(away)
    wait_for(lambda: "git" in daemon.status()["faults"], what="/status to report git")
    assert daemon.request("/healthz")[0] == 200
    time.sleep(1.0)
    away.rename(repo.remote)
    sha = repo.change(PRICING, "USDC: 0.04", "USDC: 0.045")
    wait_applied(db_dsn, sha)
    assert daemon.log.count("git_down:") == 1 and daemon.log.count("git_up:") == 1


@pytest.mark.slow
def test_disk_error_in_the_state_dir_is_survived(
    repo: ConfigRepo, db_dsn: str, daemons: Any, tmp_path: Path
) -> None:
    """A state folder that cannot hold the mirror is a logged fault; the mirror is rebuilt later."""
    daemon = daemons(str(repo.remote), db_dsn)
    wait_applied(db_dsn, repo.head())
    mirrors = tmp_path / "state-syncd" / "mirrors"
    shutil.rmtree(mirrors)
    mirrors.write_text("not a folder")
    wait_for(lambda: "disk" in daemon.status()["faults"], what="/status to report the disk")
    mirrors.unlink()
    sha = repo.change(PRICING, "USDC: 0.04", "USDC: 0.045")
    wait_applied(db_dsn, sha)
    assert daemon.log.count("disk_down:") == 1 and daemon.log.count("disk_up:") == 1


def test_slow_fetch_is_cut_off_by_the_timeout(repo: ConfigRepo, tmp_path: Path) -> None:
    """A fetch that hangs is killed after the fetch timeout and reported as git unavailable."""
    mirror = Mirror(str(repo.remote), "main", tmp_path / "state", timeout=0.5)
    mirror.open()
    try:
        git(mirror.path, "config", "remote.origin.uploadpack", "sleep 5; git-upload-pack")
        started = time.monotonic()
        with pytest.raises(GitUnavailable, match="timed out after 0.5 s"):
            mirror.fetch()
        assert time.monotonic() - started < 2
        git(mirror.path, "config", "--unset", "remote.origin.uploadpack")
        assert mirror.fetch().head == repo.head()
    finally:
        mirror.close()


def test_mirror_that_git_cannot_create_is_not_put_in_place(
    repo: ConfigRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When `git init` fails (here on an unreadable global config), opening the mirror raises
    GitUnavailable with git's reason and leaves no half-made mirror behind."""
    broken = tmp_path / "gitconfig"
    broken.write_text("[core\nbad")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(broken))
    mirror = Mirror(str(repo.remote), "main", tmp_path / "state")
    try:
        with pytest.raises(GitUnavailable, match="git init failed: bad config line 1"):
            mirror.open()
        assert not mirror.path.exists()
        assert [p.name for p in mirror.path.parent.iterdir()] == [f"{mirror.path.name}.lock"]
    finally:
        mirror.close()


def test_one_daemon_per_mirror(repo: ConfigRepo, tmp_path: Path) -> None:
    """A second daemon on the same state folder and repository is refused with a clear message."""
    first = Mirror(str(repo.remote), "main", tmp_path / "state")
    first.open()
    try:
        with pytest.raises(UsageProblem, match="own --state-dir"):
            Mirror(str(repo.remote), "main", tmp_path / "state").open()
    finally:
        first.close()


def test_webhook_signature_check() -> None:
    """Only `sha256=` + the HMAC of the exact body under the shared secret is accepted."""
    body = b'{"ref": "refs/heads/main"}'
    good = sign(b"secret", body)
    assert verify_signature(b"secret", body, good)
    assert not verify_signature(b"secret", body + b" ", good)
    assert not verify_signature(b"other", body, good)
    assert not verify_signature(b"secret", body, None)
    assert not verify_signature(b"secret", body, good.removeprefix("sha256="))
    assert not verify_signature(b"secret", body, "sha256=\u00e9")


def test_listen_addresses() -> None:
    """--listen takes HOST:PORT, [v6]:PORT or :PORT and refuses anything else."""
    assert parse_listen("127.0.0.1:9187") == ("127.0.0.1", 9187)
    assert parse_listen("[::1]:80") == ("::1", 80)
    assert parse_listen(":9187") == ("0.0.0.0", 9187)
    for bad in ("9187", "host:", "host:99999", "host:http"):
        with pytest.raises(UsageProblem):
            parse_listen(bad)


def test_repository_addresses() -> None:
    """Local paths and file:// URLs are watched as folders; credentials never reach a message."""
    assert local_path("file:///srv/config.git") == Path("/srv/config.git")
    assert local_path("relative/repo") == Path("relative/repo").resolve()
    assert local_path("git@github.com:org/repo.git") is None
    assert local_path("https://github.com/org/repo.git") is None
    text = "fatal: unable to access 'https://bot:ghp_token@github.com/org/repo.git/'"
    assert "ghp_token" not in redact_url(text) and "https://***@github.com" in redact_url(text)
