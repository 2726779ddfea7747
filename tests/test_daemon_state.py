"""`syncd run` and its own state: the state folder, the mirror's locks and leftovers, readiness."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from test_daemon import PRICING, Running, applied, daemons, repo, wait_applied, wait_for

from syncd.daemon.leftovers import stale_files

from tests.support import ConfigRepo, git

__all__ = ["daemons", "repo"]


def _run_once(repo: ConfigRepo, dsn: str, cwd: Path, *extra: str, **env: str) -> int:
    command = [sys.executable, "-m", "syncd.cli.main", "run", "--once", "--repo", str(repo.remote)]
    done = subprocess.run(
        [*command, "--dsn", dsn, *extra],
        cwd=cwd,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    return done.returncode


def test_relative_state_dir_is_resolved_once(repo: ConfigRepo, db_dsn: str, tmp_path: Path) -> None:
    """A relative --state-dir or SYNCD_STATE_DIR holds the mirror under the start folder and
    leaves no half-made `.new-*` folder behind."""
    cwd = tmp_path / "start"
    cwd.mkdir()
    assert _run_once(repo, db_dsn, cwd, "--state-dir", "state") == 0
    assert applied(db_dsn) == repo.head()
    sha = repo.change(PRICING, "USDC: 0.04", "USDC: 0.045")
    assert _run_once(repo, db_dsn, cwd, SYNCD_STATE_DIR="from-env") == 0
    assert applied(db_dsn) == sha
    for folder in ("state", "from-env"):
        mirrors = cwd / folder / "mirrors"
        made = sorted(p.name for p in mirrors.iterdir())
        assert len(made) == 2 and made[0].endswith(".git") and made[1].endswith(".git.lock")
        assert (mirrors / made[0] / "HEAD").is_file()
    assert not [p for p in cwd.rglob(".new-*")]


@pytest.mark.slow
def test_readiness_follows_the_remote(repo: ConfigRepo, db_dsn: str, daemons: Any) -> None:
    """With the remote unreachable, /readyz answers 503 naming git and /status is not in sync;
    when the remote is back, both recover."""
    daemon = daemons(str(repo.remote), db_dsn)
    wait_applied(db_dsn, repo.head())
    wait_for(lambda: daemon.request("/readyz")[0] == 200, what="/readyz to be ready")
    away = repo.remote.with_name("away.git")
    repo.remote.rename(away)
    try:
        wait_for(lambda: daemon.request("/readyz")[0] == 503, what="/readyz to say 503")
        code, reason = daemon.request("/readyz")
        assert code == 503 and reason.startswith("git unavailable:")
        status = daemon.status()
        assert "git" in status["faults"] and status["in_sync"] is False
        assert status["applied_commit"] == status["branch_head"]
    finally:
        away.rename(repo.remote)
    wait_for(lambda: daemon.request("/readyz")[0] == 200, what="/readyz to recover")
    assert daemon.status()["in_sync"] is True


def _mirror(tmp_path: Path) -> Path:
    found = list((tmp_path / "state-syncd" / "mirrors").glob("*.git"))
    assert len(found) == 1
    return found[0]


STALE_LOCKS = (
    "refs/remotes/origin/main.lock",
    "packed-refs.lock",
    "shallow.lock",
    "index.lock",
    "config.lock",
)


@pytest.mark.slow
def test_stale_git_locks_are_removed(
    repo: ConfigRepo, db_dsn: str, daemons: Any, tmp_path: Path
) -> None:
    """Lock files a killed git left in the mirror no longer block fetches: the daemon removes
    them and a half-made mirror, says so once, and applies the next push."""
    daemon = daemons(str(repo.remote), db_dsn)
    wait_applied(db_dsn, repo.head())
    mirror = _mirror(tmp_path)
    for name in STALE_LOCKS:
        (mirror / name).write_text("")
    half_made = mirror.parent / f".new-{mirror.name}-killed"
    (half_made / "objects").mkdir(parents=True)
    sha = repo.change(PRICING, "USDC: 0.04", "USDC: 0.045")
    wait_applied(db_dsn, sha)
    assert not [name for name in STALE_LOCKS if (mirror / name).exists()]
    assert not half_made.exists()
    assert daemon.log.count("mirror_tidied:") == 1 and "git_down" not in daemon.log


@pytest.mark.slow
@pytest.mark.parametrize("damage", ["config", "head", "ref", "packs"])
def test_damaged_mirror_is_made_again(
    repo: ConfigRepo, db_dsn: str, daemons: Any, tmp_path: Path, damage: str
) -> None:
    """A mirror git cannot read any more (a bad config, HEAD or ref, truncated packs) is
    created again by the daemon, which then applies the next push."""
    daemon = daemons(str(repo.remote), db_dsn, "--stop-timeout", "1")
    wait_applied(db_dsn, repo.head())
    assert daemon.stop() == 0
    mirror = _mirror(tmp_path)
    if damage == "config":
        (mirror / "config").write_text("[core\nbad")
    elif damage == "head":
        (mirror / "HEAD").write_text("garbage\n")
    elif damage == "ref":
        (mirror / "refs/remotes/origin/main").write_text("garbage\n")
    else:
        git(mirror, "repack", "-q", "-a", "-d")
        for pack in (mirror / "objects" / "pack").glob("*.pack"):
            os.truncate(pack, 100)
    sha = repo.change(PRICING, "USDC: 0.04", "USDC: 0.045")
    again = daemons(str(repo.remote), db_dsn, name="syncd")
    wait_applied(db_dsn, sha)
    assert "mirror_rebuilt:" in again.log
    assert git(mirror, "rev-parse", "refs/remotes/origin/main") == sha


def _dependency_up(daemon: Running) -> dict[str, float]:
    code, text = daemon.request("/metrics")
    assert code == 200
    return {
        sample.labels["dependency"]: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "syncd_dependency_up"
    }


@pytest.mark.slow
@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small tmpfs needs root")
def test_full_disk_is_a_disk_fault_and_its_leftovers_go(
    repo: ConfigRepo, db_dsn: str, daemons: Any, tmp_path: Path
) -> None:
    """A state folder on a full 2 MB filesystem is a disk fault (not git; /readyz 503); when
    there is room again the daemon applies the head and leaves no temporary object behind."""
    state = tmp_path / "state-syncd"
    state.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(state)], check=True)
    try:
        daemon = daemons(str(repo.remote), db_dsn)
        wait_applied(db_dsn, repo.head())
        (repo.path / "large.bin").write_bytes(os.urandom(3_000_000))
        sha = repo.commit("A large file outside config/")
        wait_for(lambda: "disk" in daemon.status()["faults"], what="/status to report the disk")
        faults = daemon.status()["faults"]
        assert "No space left on device" in faults["disk"]["error"] and "git" not in faults
        code, reason = daemon.request("/readyz")
        assert code == 503 and reason.startswith("disk unavailable:")
        assert _dependency_up(daemon) == {
            "database": 1,
            "git": 1,
            "disk": 0,
            "descriptors": 1,
        }
        subprocess.run(["mount", "-o", "remount,size=16m", str(state)], check=True)
        wait_applied(db_dsn, sha, timeout=20)
        wait_for(lambda: daemon.status()["faults"] == {}, what="the disk fault to clear")
        assert _dependency_up(daemon)["disk"] == 1
        mirror = _mirror(tmp_path)
        assert not list(stale_files(mirror))
        assert "tmp_obj_" in daemon.log.split("mirror_tidied:", 1)[1].split("\n", 1)[0]
        assert daemon.log.count("disk_down:") == 1 and "git_down" not in daemon.log
        assert daemon.stop() == 0
    finally:
        subprocess.run(["umount", "-l", str(state)], check=False)


_EXHAUST = """
import json, os, resource, sys
from pathlib import Path
from syncd.daemon.logs import setup_logging
from syncd.daemon.loop import Daemon, RunOptions
setup_logging()
resource.setrlimit(resource.RLIMIT_NOFILE, (256, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
repo, dsn, state = sys.argv[1:4]
daemon = Daemon(RunOptions(repo=repo, dsn=dsn, state_dir=Path(state), listen=None, once=True))
daemon.mirror.open()
hog = []
try:
    while True:
        hog.append(open(os.devnull))
except OSError:
    pass
starved = daemon.cycle(), sorted(daemon.state.faults)
for f in hog:
    f.close()
fed = daemon.cycle(), sorted(daemon.state.faults)
print(json.dumps({"starved": starved, "fed": fed}))
"""


def test_out_of_descriptors_is_its_own_fault(repo: ConfigRepo, db_dsn: str, tmp_path: Path) -> None:
    """A process that has used up its file descriptors reports a `descriptors` fault (not disk,
    not git) and carries on once descriptors are free again."""
    done = subprocess.run(
        [sys.executable, "-c", _EXHAUST, str(repo.remote), db_dsn, str(tmp_path / "state")],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    found = json.loads(done.stdout.splitlines()[-1])
    assert found["starved"] == ["fault", ["descriptors"]]
    assert found["fed"] == ["done", []]
    assert applied(db_dsn) == repo.head()
    assert "descriptors_down:" in done.stderr and "disk_down" not in done.stderr
