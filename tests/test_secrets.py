"""No database password is ever printed: every command, the daemon's HTTP answers and logs, the loader.

The commands run in this process (click's runner), each as a fresh process would: the module that
remembers passwords is emptied before each. The daemon runs as a real process."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import click
import pytest
from click.testing import CliRunner
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from test_daemon import daemons, wait_for

from syncd.cli.main import main as syncd_main
from syncd.sync.pipeline import apply_commit
from tests.support import ConfigRepo, free_port, make_config_repo
from tonsurance import redaction
from tonsurance.cli.main import main as tonsurance_main
from tonsurance.config import ConfigLoader
from tonsurance.redaction import describe, scrub

__all__ = ["daemons"]

# A password with every character that needs care: # / @ : % space ' ", and tokens to grep for
# at its start, middle and end, so a password printed only in part is caught too.
PASSWORD = "Zq7#sec/ret@Vk9:pa%ss wo'rd\"Xy3"
# What a URL may carry without percent-encoding (libpq refuses raw spaces and bare %).
RAW_URL_PASSWORD = "Zq7#sec:Vk9'q\"Xy3"
TOKENS = ("Zq7", "Vk9", "Xy3")


def _forms(
    host: str, port: int, user: str, db: str
) -> dict[str, tuple[str | None, dict[str, str]]]:
    """Each way of handing the password over: (--dsn value or None, extra environment)."""
    url = f"postgresql://{user}:{quote(PASSWORD, safe='')}@{host}:{port}/{db}"
    plain = make_conninfo(host=host, port=port, user=user, dbname=db)
    return {
        "url-encoded": (url, {}),
        "url-raw": (f"postgresql://{user}:{RAW_URL_PASSWORD}@{host}:{port}/{db}", {}),
        "url-query": (
            f"postgresql://{user}@{host}:{port}/{db}?password={quote(PASSWORD, safe='')}",
            {},
        ),
        "key-value": (make_conninfo(plain, password=PASSWORD), {}),
        "PGPASSWORD": (plain, {"PGPASSWORD": PASSWORD}),
        "TONSURANCE_DSN": (None, {"TONSURANCE_DSN": url}),
    }


def _leaks(text: str) -> list[str]:
    return [token for token in TOKENS if token in text]


def _commands(repo: ConfigRepo, state: Path) -> list[tuple[click.Group, list[str]]]:
    path = str(repo.path)
    return [
        (syncd_main, ["migrate"]),
        (syncd_main, ["apply", "--repo", path, "--lock-timeout", "2"]),
        (syncd_main, ["plan", "--repo", path]),
        (syncd_main, ["status"]),
        (syncd_main, ["history", "pricing.base_rate_USDC", "--repo", path]),
        (syncd_main, ["run", "--repo", path, "--once", "--state-dir", str(state), "--no-watch"]),
        (tonsurance_main, ["quote", "USDC", "1000"]),
    ]


def _run(
    command: tuple[click.Group, list[str]],
    dsn: str | None,
    env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> str:
    """Run one command in this process as a fresh one would: no password remembered before it."""
    group, args = command
    monkeypatch.setattr(redaction, "_known", set())
    with monkeypatch.context() as scoped:
        for name in ("TONSURANCE_DSN", "PGPASSWORD"):
            scoped.delenv(name, raising=False)
        for name, value in env.items():
            scoped.setenv(name, value)
        result = CliRunner().invoke(group, args + (["--dsn", dsn] if dsn else []))
    assert result.exit_code in (0, 1, 3), result.output
    return result.output


@pytest.fixture
def repo(tmp_path: Path) -> ConfigRepo:
    return make_config_repo(tmp_path / "repo")


@pytest.fixture
def live_forms(db_dsn: str) -> Iterator[dict[str, tuple[str | None, dict[str, str]]]]:
    """The password forms aimed at the real server (trust authentication ignores the password)."""
    params = conninfo_to_dict(db_dsn)
    yield _forms(
        str(params["host"]),
        int(params.get("port") or 5432),
        str(params["user"]),
        str(params["dbname"]),
    )


@pytest.mark.slow
def test_no_command_prints_the_password_when_the_database_is_down(
    repo: ConfigRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every command's errors name the address but never the password, in every form it was given."""
    dead = _forms("127.0.0.1", free_port(), "app", "tonsurance")
    for form, (dsn, env) in dead.items():
        for command in _commands(repo, tmp_path / f"state-{form}"):
            output = _run(command, dsn, env, monkeypatch)
            assert output and not _leaks(output), (form, command[1], output)
            assert "127.0.0.1" in output, (form, command[1], output)


@pytest.mark.slow
def test_no_command_prints_the_password_when_the_database_answers(
    repo: ConfigRepo,
    db_dsn: str,
    live_forms: dict[str, tuple[str | None, dict[str, str]]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Start-up lines, status, history, plans and quotes against a live database never show the password."""
    apply_commit(repo.path, repo.head(), db_dsn)
    for form, (dsn, env) in live_forms.items():
        for command in _commands(repo, tmp_path / f"state-{form}")[1:]:
            output = _run(command, dsn, env, monkeypatch)
            assert output and not _leaks(output), (form, command[1], output)


@pytest.mark.slow
def test_daemon_status_metrics_and_logs_never_show_the_password(
    repo: ConfigRepo,
    db_dsn: str,
    live_forms: dict[str, tuple[str | None, dict[str, str]]],
    daemons: object,
) -> None:
    """A daemon given the password, up or down, keeps it out of /status, /readyz, /metrics and its log."""
    live_dsn, _ = live_forms["url-raw"]
    dead_dsn, _ = _forms("127.0.0.1", free_port(), "app", "tonsurance")["key-value"]
    for dsn in (live_dsn, dead_dsn):
        assert dsn is not None
        daemon = daemons(str(repo.remote), dsn, name=f"d{free_port()}", interval="0.3")  # type: ignore[operator]
        wait_for(
            lambda d=daemon: d.status()["role"] != "starting" or d.status()["faults"],
            what="a cycle",
        )
        texts = [daemon.request(path)[1] for path in ("/status", "/readyz", "/metrics")]
        texts.append(daemon.log)
        assert daemon.stop() == 0
        for text in texts:
            assert not _leaks(text), text
    assert "127.0.0.1" in daemon.log and "***" in daemon.log


def test_loader_last_error_never_shows_the_password() -> None:
    """The loader's last error names the unreachable address without its password."""
    for form, (dsn, env) in _forms("127.0.0.1", free_port(), "app", "tonsurance").items():
        if form in ("PGPASSWORD", "TONSURANCE_DSN"):
            continue
        loader = ConfigLoader(dsn, listen=False)
        try:
            loader.start(background=False)
            error = str(loader.stats()["last_error"])
        finally:
            loader.stop()
        assert "127.0.0.1" in error and not _leaks(error), (form, error)


@pytest.mark.parametrize(
    "dsn",
    [
        f"postgresql://u:{quote(PASSWORD, safe='')}@db.internal:6432/x?sslmode=require",
        f"postgresql://u:{RAW_URL_PASSWORD}@db.internal/x",
        make_conninfo(host="db.internal", user="u", password=PASSWORD, dbname="x"),
    ],
)
def test_describe_builds_the_address_without_the_password(dsn: str) -> None:
    """The printed address is rebuilt from the parsed parts: host, user and database, password ***."""
    shown = describe(dsn)
    assert "db.internal" in shown and "***" in shown and not _leaks(shown)
    assert not _leaks(scrub(f"FATAL: something echoed {PASSWORD} and {quote(PASSWORD, safe='')}"))
