"""`syncd run` as a real process against real git remotes and a real PostgreSQL database."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from prometheus_client.parser import text_string_to_metric_families

from syncd.daemon.webhook import sign
from tests.support import ConfigRepo, free_port, git, make_config_repo

PRICING = "config/pricing.yaml"
SECRET = "webhook-test-secret"


class Running:
    """One `syncd run` subprocess, its HTTP address and its log."""

    def __init__(self, proc: subprocess.Popen[bytes], port: int, log: Path) -> None:
        self.proc, self.port, self.log_path = proc, port, log

    @property
    def log(self) -> str:
        return self.log_path.read_text()

    def request(
        self, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, str]:
        req = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}", data=body, headers=headers or {}
        )
        try:
            with urllib.request.urlopen(req, timeout=5) as resp:
                return resp.status, resp.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    def status(self) -> dict[str, Any]:
        code, text = self.request("/status")
        assert code == 200
        return dict(json.loads(text))

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.proc.wait(timeout)


@pytest.fixture
def daemons(tmp_path: Path) -> Iterator[Callable[..., Running]]:
    """Start `syncd run` processes; every one still running is killed after the test."""
    started: list[Running] = []

    def start(
        repo: str,
        dsn: str,
        *extra: str,
        name: str = "syncd",
        secret: str | None = None,
        interval: str = "0.2",
        wait: bool = True,
    ) -> Running:
        port = free_port()
        env = {k: v for k, v in os.environ.items() if k != "SYNCD_WEBHOOK_SECRET"}
        if secret:
            env["SYNCD_WEBHOOK_SECRET"] = secret
        log = tmp_path / f"{name}.log"
        command = [
            sys.executable,
            "-m",
            "syncd.cli.main",
            "run",
            "--repo",
            repo,
            "--dsn",
            dsn,
            "--interval",
            interval,
            "--listen",
            f"127.0.0.1:{port}",
            "--state-dir",
            str(tmp_path / f"state-{name}"),
            *extra,
        ]
        with log.open("ab") as out:
            proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
        running = Running(proc, port, log)
        started.append(running)
        if wait:
            wait_for(lambda: _answers(running), what=f"{name} to listen", timeout=15)
        return running

    yield start
    for running in started:
        if running.proc.poll() is None:
            running.proc.kill()
            running.proc.wait()


def _answers(running: Running) -> bool:
    assert running.proc.poll() is None, f"syncd exited early:\n{running.log}"
    try:
        return running.request("/healthz")[0] == 200
    except OSError:
        return False


def wait_for(check: Callable[[], Any], *, what: str, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def query(dsn: str, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn, connect_timeout=3) as conn:
        return conn.execute(sql, args).fetchall()


def execute(dsn: str, sql: str, *args: Any) -> None:
    with psycopg.connect(dsn, connect_timeout=3) as conn:
        conn.execute(sql, args)


def applied(dsn: str) -> str | None:
    try:
        return query(dsn, "select applied_commit from sync_state")[0][0]  # type: ignore[no-any-return]
    except psycopg.OperationalError:
        return None


def usdc(dsn: str) -> Any:
    return query(
        dsn,
        "select value from config_parameters where category = 'pricing' and key = 'base_rate_USDC'",
    )[0][0]


def wait_applied(dsn: str, sha: str, timeout: float = 10.0) -> None:
    wait_for(lambda: applied(dsn) == sha, what=f"{sha[:12]} to be applied", timeout=timeout)


def runs(dsn: str, sha: str, outcome: str) -> int:
    return int(
        query(
            dsn, "select count(*) from sync_runs where commit = %s and outcome = %s", sha, outcome
        )[0][0]
    )


def audit_rows(dsn: str, sha: str) -> int:
    return int(query(dsn, "select count(*) from config_audit_log where commit_sha = %s", sha)[0][0])


def lock_waiters(dsn: str) -> int:
    return int(
        query(
            dsn,
            "select count(*) from pg_stat_activity where application_name = 'syncd'"
            " and wait_event_type = 'Lock'",
        )[0][0]
    )


@pytest.fixture
def repo(tmp_path: Path) -> ConfigRepo:
    return make_config_repo(tmp_path / "repo")


def test_new_commit_on_the_remote_is_applied_and_reported(
    repo: ConfigRepo, db_dsn: str, daemons: Any
) -> None:
    """A commit pushed to the remote reaches the database, and /readyz and /status say so."""
    daemon = daemons(str(repo.remote), db_dsn)
    wait_applied(db_dsn, repo.head())
    sha = repo.change(PRICING, "USDC: 0.04", "USDC: 0.045")
    wait_applied(db_dsn, sha, timeout=3)
    assert usdc(db_dsn) == 0.045
    wait_for(lambda: daemon.status()["applied_commit"] == sha, what="/status to show the commit")
    status = daemon.status()
    assert (
        status["branch_head"] == sha and status["role"] == "active" and status["lag_commits"] == 0
    )
    assert status["last_attempt"]["outcome"] == "applied" and status["faults"] == {}
    assert daemon.request("/readyz")[0] == 200
    assert daemon.request("/hooks/git", b"{}")[0] == 404
    assert "webhook disabled" in daemon.log


def test_polling_alone_picks_up_a_push(repo: ConfigRepo, db_dsn: str, daemons: Any) -> None:
    """Without the ref watch, the next fetch of the interval applies a pushed commit."""
    daemons(str(repo.remote), db_dsn, "--no-watch", interval="0.3")
    wait_applied(db_dsn, repo.head())
    sha = repo.change(PRICING, "USDC: 0.04", "USDC: 0.046")
    wait_applied(db_dsn, sha, timeout=3)


def test_webhook_good_signature_fetches_bad_one_is_refused(
    repo: ConfigRepo, db_dsn: str, daemons: Any
) -> None:
    """A signed POST /hooks/git starts a fetch at once; a bad signature gets 401 and no change."""
    daemon = daemons(str(repo.remote), db_dsn, "--no-watch", secret=SECRET, interval="60")
    wait_applied(db_dsn, repo.head())
    sha = repo.change(PRICING, "USDC: 0.04", "USDC: 0.047")
    body = json.dumps({"ref": "refs/heads/main", "after": sha}).encode()
    assert (
        daemon.request("/hooks/git", body, {"X-Hub-Signature-256": sign(b"wrong", body)})[0] == 401
    )
    assert daemon.request("/hooks/git", body)[0] == 401
    time.sleep(0.5)
    assert applied(db_dsn) != sha and usdc(db_dsn) == 0.04
    code, _ = daemon.request(
        "/hooks/git", body, {"X-Hub-Signature-256": sign(SECRET.encode(), body)}
    )
    assert code == 202
    wait_applied(db_dsn, sha, timeout=3)


def test_invalid_commit_is_refused_once_and_the_next_good_one_applied(
    repo: ConfigRepo, db_dsn: str, daemons: Any
) -> None:
    """An invalid commit is recorded as refused once, never retried, and does not block the next."""
    daemon = daemons(str(repo.remote), db_dsn)
    good = repo.head()
    wait_applied(db_dsn, good)
    bad = repo.change(PRICING, "USDC: 0.04", "USDC: -0.04")
    wait_for(lambda: runs(db_dsn, bad, "refused") == 1, what="the refusal")
    time.sleep(1.0)
    assert runs(db_dsn, bad, "refused") == 1 and applied(db_dsn) == good
    wait_for(lambda: daemon.status()["head_refused"], what="/status to report the refused head")
    code, reason = daemon.request("/readyz")
    assert code == 503 and "failed validation" in reason
    assert daemon.log.count("refused ") == 1
    fixed = repo.change(PRICING, "USDC: -0.04", "USDC: 0.05")
    wait_applied(db_dsn, fixed, timeout=3)
    assert usdc(db_dsn) == 0.05


def test_force_pushed_branch_is_followed_and_said_loudly(
    repo: ConfigRepo, db_dsn: str, daemons: Any
) -> None:
    """After a force push the rewritten head is applied, even an older commit, with a warning."""
    daemon = daemons(str(repo.remote), db_dsn)
    first = repo.head()
    wait_applied(db_dsn, first)
    wait_applied(db_dsn, repo.change(PRICING, "USDC: 0.04", "USDC: 0.05"))
    git(repo.path, "reset", "-q", "--hard", first)
    other = repo.change(PRICING, "USDT: 0.06", "USDT: 0.065", push=False)
    repo.push(force=True)
    wait_applied(db_dsn, other)
    assert usdc(db_dsn) == 0.04
    git(repo.path, "reset", "-q", "--hard", first)
    repo.push(force=True)
    wait_applied(db_dsn, first)
    assert daemon.log.count("history was rewritten") == 2
    assert "syncd_history_rewrites_total 2.0" in daemon.request("/metrics")[1]


def test_drift_is_put_back_or_only_reported(repo: ConfigRepo, db_dsn: str, tmp_path: Path) -> None:
    """Hand edits are put back to the applied commit; with --no-self-heal they are only reported."""

    def once(*extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                sys.executable,
                "-m",
                "syncd.cli.main",
                "run",
                "--once",
                "--repo",
                str(repo.remote),
                "--dsn",
                db_dsn,
                "--state-dir",
                str(tmp_path / "state"),
                *extra,
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )

    assert once().returncode == 0
    execute(
        db_dsn,
        "update config_parameters set value = '0.5'"
        " where category = 'pricing' and key = 'base_rate_USDC'",
    )
    reported = once("--no-self-heal")
    assert reported.returncode == 0 and "pricing.base_rate_USDC" in reported.stderr
    assert usdc(db_dsn) == 0.5
    healed = once()
    assert healed.returncode == 0 and "put back 1 rows" in healed.stderr
    assert usdc(db_dsn) == 0.04
    reasons = query(
        db_dsn, "select reason from config_audit_log where key = 'base_rate_USDC' order by id"
    )
    assert [r[0] for r in reasons][-2:] == ["drift", "drift correction"]


def test_metrics_parse_with_the_prometheus_parser(
    repo: ConfigRepo, db_dsn: str, daemons: Any
) -> None:
    """/metrics is valid Prometheus text with the apply, failure, lag, drift and success metrics."""
    daemon = daemons(str(repo.remote), db_dsn)
    wait_applied(db_dsn, repo.head())
    wait_for(lambda: daemon.status()["last_success_at"], what="a successful cycle")
    code, text = daemon.request("/metrics")
    assert code == 200
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    names = {name for name, _ in samples}
    for name in (
        "syncd_apply_failures_total",
        "syncd_apply_duration_seconds_count",
        "syncd_lag_seconds",
        "syncd_lag_commits",
        "syncd_drift_corrections_total",
        "syncd_last_success_timestamp_seconds",
        "syncd_dependency_up",
        "syncd_active",
    ):
        assert name in names, name
    assert samples[("syncd_applies_total", (("outcome", "applied"),))] == 1
    assert samples[("syncd_last_success_timestamp_seconds", ())] > time.time() - 60
    assert samples[("syncd_dependency_up", (("dependency", "database"),))] == 1


def test_changed_rows_and_reverts_are_counted(repo: ConfigRepo, db_dsn: str, daemons: Any) -> None:
    """syncd_changes_total counts the rows applied commits add, change and remove, and
    syncd_reverts_total the applied commits that `git revert` made."""
    daemon = daemons(str(repo.remote), db_dsn)
    wait_applied(db_dsn, repo.head())
    sha = repo.change(PRICING, "USDC: 0.04", "USDC: 0.045")
    wait_applied(db_dsn, sha)
    wait_applied(db_dsn, repo.revert(sha))
    rows = query(db_dsn, "select count(*) from config_parameters")[0][0]
    tables = query(
        db_dsn,
        "select (select count(*) from historical_depegs) + (select count(*) from stress_scenarios)",
    )[0][0]

    def counted() -> dict[str, float]:
        text = daemon.request("/metrics")[1]
        return {
            s.labels.get("action", s.name): s.value
            for family in text_string_to_metric_families(text)
            for s in family.samples
            if s.name in ("syncd_changes_total", "syncd_reverts_total")
        }

    wait_for(lambda: counted().get("syncd_reverts_total") == 1, what="the revert to be counted")
    assert counted() == {"add": rows + tables, "change": 2, "remove": 0, "syncd_reverts_total": 1}


def test_json_logs_are_one_object_per_line(repo: ConfigRepo, db_dsn: str, tmp_path: Path) -> None:
    """With --log-format json every line on stderr is a JSON object with an event name."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "syncd.cli.main",
            "run",
            "--once",
            "--log-format",
            "json",
            "--repo",
            str(repo.remote),
            "--dsn",
            db_dsn,
            "--state-dir",
            str(tmp_path / "state"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    events = [json.loads(line)["event"] for line in done.stderr.splitlines()]
    assert events[0] == "started" and "applied" in events and events[-1] == "stopped"


def test_once_exit_codes_name_the_problem(repo: ConfigRepo, db_dsn: str, tmp_path: Path) -> None:
    """--once exits 1 when the head is refused and 3 when the database is unreachable."""
    repo.change(PRICING, "USDC: 0.04", "USDC: -0.04")
    base = [
        sys.executable,
        "-m",
        "syncd.cli.main",
        "run",
        "--once",
        "--repo",
        str(repo.remote),
        "--state-dir",
        str(tmp_path / "state"),
    ]
    refused = subprocess.run([*base, "--dsn", db_dsn], capture_output=True, text=True, timeout=60)
    assert refused.returncode == 1, refused.stderr
    down = f"postgresql://postgres@127.0.0.1:{free_port()}/postgres"
    unavailable = subprocess.run([*base, "--dsn", down], capture_output=True, text=True, timeout=60)
    assert unavailable.returncode == 3 and "database unavailable" in unavailable.stderr


def test_once_exits_1_when_applying_fails(
    repo: ConfigRepo, empty_db_dsn: str, tmp_path: Path
) -> None:
    """--once against a reachable database without the tables is an apply fault: exit 1, not 3."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "syncd.cli.main",
            "run",
            "--once",
            "--repo",
            str(repo.remote),
            "--dsn",
            empty_db_dsn,
            "--state-dir",
            str(tmp_path / "state"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1, done.stderr
    assert "applying failed" in done.stderr and "syncd migrate" in done.stderr
