"""`syncd run` and its own state: the state folder, the mirror's locks and leftovers, readiness."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from test_daemon import PRICING, applied, daemons, repo, wait_applied, wait_for

from tests.support import ConfigRepo

__all__ = ["daemons", "repo"]


def _run_once(repo: ConfigRepo, dsn: str, cwd: Path, *extra: str, **env: str) -> int:
    command = [sys.executable, "-m", "syncd.cli.main", "run", "--once", "--repo", str(repo.remote)]
    done = subprocess.run(
        [*command, "--dsn", dsn, *extra],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(Path.cwd()), **env},
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
