"""`syncd run --notify`: a real daemon, a real git remote and database, and a real JSON webhook
receive one message per applied commit, refused head, drift correction and long outage; a
receiver that hangs or fails never holds up an apply."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from click.testing import CliRunner
from prometheus_client.parser import text_string_to_metric_families

from syncd.cli.main import main
from tests.support import ConfigRepo, free_port, git, make_config_repo
from tests.webhook_receiver import Receiver

PRICING = "config/pricing.yaml"
SYNCD = str(Path(sys.executable).parent / "syncd")


def wait_for(check: Callable[[], Any], *, what: str, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def applied(dsn: str) -> str | None:
    with psycopg.connect(dsn, connect_timeout=3) as conn:
        row = conn.execute("select applied_commit from sync_state").fetchone()
    return row[0] if row else None


def notifications(port: int) -> dict[str, float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
        text = resp.read().decode()
    return {
        sample.labels["result"]: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "syncd_notifications_total"
    }


@pytest.fixture
def repo(tmp_path: Path) -> ConfigRepo:
    return make_config_repo(tmp_path / "repo")


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    made = Receiver()
    yield made
    made.close()


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[Callable[..., tuple[subprocess.Popen[bytes], int]]]:
    """Start `syncd run` in the background; it is stopped after the test."""
    started: list[subprocess.Popen[bytes]] = []

    def start(*args: str) -> tuple[subprocess.Popen[bytes], int]:
        port = free_port()
        log = (tmp_path / f"syncd-{port}.log").open("ab")
        proc = subprocess.Popen(
            [SYNCD, "run", "--listen", f"127.0.0.1:{port}", "--interval", "0.2", *args],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        started.append(proc)
        return proc, port

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def run_once(
    repo: ConfigRepo, dsn: str, state: Path, *args: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            SYNCD,
            "run",
            "--once",
            "--repo",
            str(repo.remote),
            "--dsn",
            dsn,
            "--state-dir",
            str(state),
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_applied_refused_and_drift_each_send_one_message(
    repo: ConfigRepo, db_dsn: str, tmp_path: Path, receiver: Receiver
) -> None:
    """Each applied commit, refused head and drift correction sends one message that says what
    happened, with the sha, the author and the console link; the commit after a refused head is
    announced even when it changes nothing."""
    notify = ("--notify", receiver.url("/syncd"), "--public-url", "https://config.example.test")
    state = tmp_path / "state"
    assert run_once(repo, db_dsn, state, *notify).returncode == 0
    first = receiver.wait_posts(1)[0]
    assert first["title"] == f"syncd main: applied {repo.head()[:12]}"
    assert "Test Analyst" in first["message"] and " added, 0 removed" in first["message"]
    assert first["message"].endswith("Console: https://config.example.test/ui/")

    sha = repo.change(PRICING, "USDC: 0.04", "USDC: 0.045", "Raise the USDC base rate")
    assert run_once(repo, db_dsn, state, *notify).returncode == 0
    second = receiver.wait_posts(2)[1]
    assert second["title"] == f"syncd main: applied {sha[:12]}" and second["type"] == "success"
    author = git(repo.path, "log", "-1", "--format=%an <%ae>")
    assert second["message"].splitlines()[:3] == [
        f"{author}: Raise the USDC base rate",
        "1 changed, 0 added, 0 removed",
        "~ pricing.base_rate_USDC: 0.04 -> 0.045",
    ]

    bad = repo.change(PRICING, "USDC: 0.045", "USDC: -1", "A negative rate")
    assert run_once(repo, db_dsn, state, *notify).returncode == 1
    third = receiver.wait_posts(3)[2]
    assert third["title"] == f"syncd main: refused {bad[:12]}" and third["type"] == "failure"
    assert "Why: " in third["message"] and "pricing.yaml" in third["message"]
    assert f"{sha[:12]} stays applied" in third["message"]

    good = repo.change(PRICING, "USDC: -1", "USDC: 0.045", "Back to 4.5%")
    assert run_once(repo, db_dsn, state, *notify).returncode == 0
    fourth = receiver.wait_posts(4)[3]
    assert fourth["title"] == f"syncd main: applied {good[:12]}"
    assert "no change: the database already held this configuration" in fourth["message"]
    with psycopg.connect(db_dsn) as conn:
        conn.execute(
            "update config_parameters set value = '0.5'"
            " where category = 'pricing' and key = 'base_rate_USDT'"
        )
    assert run_once(repo, db_dsn, state, *notify).returncode == 0
    fifth = receiver.wait_posts(5)[4]
    assert fifth["title"] == "syncd main: put back 1 rows changed outside git"
    assert "pricing.base_rate_USDT" in fifth["message"]
    assert run_once(repo, db_dsn, state, *notify).returncode == 0
    assert len(receiver.posts) == 5, "a cycle with nothing to do sends nothing"


def test_a_hanging_receiver_does_not_hold_up_applies(
    repo: ConfigRepo, db_dsn: str, tmp_path: Path, receiver: Receiver, daemon: Any
) -> None:
    """While the receiver holds the first notification unanswered, the next commit is applied;
    its message follows once the receiver answers."""
    receiver.hold.set()
    _, port = daemon(
        "--repo", str(repo.remote), "--dsn", db_dsn, "--state-dir", str(tmp_path / "s"),
        "--notify", receiver.url(rto="60"),
    )  # fmt: skip
    receiver.wait_posts(1)
    sha = repo.change(PRICING, "USDC: 0.04", "USDC: 0.046")
    wait_for(lambda: applied(db_dsn) == sha, what="the second commit to be applied")
    assert receiver.answered == 0 and len(receiver.posts) == 1
    receiver.release.set()
    receiver.hold.clear()
    assert receiver.wait_posts(2)[1]["title"] == f"syncd main: applied {sha[:12]}"
    wait_for(lambda: notifications(port).get("sent") == 2, what="two sent notifications")


def test_a_failing_receiver_is_counted_and_applies_go_on(
    repo: ConfigRepo, db_dsn: str, tmp_path: Path, receiver: Receiver, daemon: Any
) -> None:
    """A receiver answering 500 gets four tries, then the message counts as failed in
    syncd_notifications_total and is logged; applies carry on meanwhile."""
    receiver.status = 500
    proc, port = daemon(
        "--repo", str(repo.remote), "--dsn", db_dsn, "--state-dir", str(tmp_path / "s"),
        "--notify", receiver.url(),
    )  # fmt: skip
    wait_for(lambda: applied(db_dsn) == repo.head(), what="the first apply")
    sha = repo.change(PRICING, "USDC: 0.04", "USDC: 0.047")
    wait_for(lambda: applied(db_dsn) == sha, what="the second apply")
    wait_for(lambda: notifications(port).get("failed", 0) >= 1, what="a failed notification")
    assert notifications(port)["sent"] == 0 and len(receiver.posts) >= 4
    log = next(tmp_path.glob("syncd-*.log")).read_text()
    assert log.count("notify_failed") == 1 and "500" in log


def test_a_long_git_outage_is_announced_and_so_is_its_end(
    repo: ConfigRepo, db_dsn: str, tmp_path: Path, receiver: Receiver, daemon: Any
) -> None:
    """A git remote gone for longer than --notify-after sends 'git down', and 'git back' when it
    returns; nothing is sent before the threshold."""
    _, port = daemon(
        "--repo", str(repo.remote), "--dsn", db_dsn, "--state-dir", str(tmp_path / "s"),
        "--notify", receiver.url(), "--notify-after", "1", "--no-watch",
    )  # fmt: skip
    receiver.wait_posts(1)
    moved = repo.remote.with_name("gone.git")
    os.rename(repo.remote, moved)
    try:
        down = wait_for(
            lambda: [p for p in receiver.posts if " git down for " in p["title"]],
            what="the git down message",
        )
    finally:
        os.rename(moved, repo.remote)
    assert down[0]["type"] == "failure" and "syncd on " in down[0]["message"]
    back = wait_for(
        lambda: [p for p in receiver.posts if " git back after " in p["title"]],
        what="the git back message",
    )
    assert "failed tries" in back[0]["message"]
    assert receiver.titles().index(down[0]["title"]) < receiver.titles().index(back[0]["title"])


def test_a_notification_url_that_does_not_parse_stops_the_start(
    repo: ConfigRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bad --notify or SYNCD_NOTIFY URL is one line and exit 2, without its secret, before
    anything is touched."""
    state = tmp_path / "state"
    args = ["run", "--once", "--repo", str(repo.remote), "--state-dir", str(state)]
    bad = ["--notify", "json://127.0.0.1:1/ok", "--notify", "nosuch://me:s3cret@host"]
    done = CliRunner().invoke(main, [*args, *bad], catch_exceptions=False)
    assert done.exit_code == 2
    assert done.stderr.splitlines() == [
        "syncd: error: notification URL 2 (nosuch://...) is not one Apprise can send to;"
        " check --notify or SYNCD_NOTIFY (for example slack://..., pagerduty://...,"
        " json://host/path)"
    ]
    monkeypatch.setenv("SYNCD_NOTIFY", "json://127.0.0.1:1/a, not-a-url")
    from_env = CliRunner().invoke(main, args, catch_exceptions=False)
    assert from_env.exit_code == 2 and "notification URL 2 ((no scheme))" in from_env.stderr
    assert not state.exists(), "a start refused for its options creates no state folder"
