"""A URL whose password holds an unencoded `/`, `?` or `@` is misread by libpq (part of the password
becomes the host, port or database); no command, the loader, nor the printed address shows it."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from syncd.cli.main import main as syncd_main
from tests.support import free_port
from tonsurance import redaction
from tonsurance.cli.main import main as tonsurance_main
from tonsurance.config import ConfigLoader
from tonsurance.errors import UsageProblem
from tonsurance.redaction import describe

TOKENS = ("Zq7", "Vk9", "Xy3")
RAW = ("Zq7sec/retVk9pXy3", "Zq7sec@retVk9pXy3", "Zq7sec?retVk9pXy3", "Zq7/Vk9@Xy3")


def _dsns(port: int) -> list[str]:
    return [f"postgresql://app:{password}@127.0.0.1:{port}/tonsurance" for password in RAW]


def _leaks(text: str) -> list[str]:
    return [token for token in TOKENS if token in text]


@pytest.mark.parametrize("dsn", _dsns(5432))
def test_describe_never_shows_a_misread_password(dsn: str) -> None:
    """The printed form of such an address shows no piece of the password."""
    assert not _leaks(describe(dsn)), describe(dsn)


def test_commands_refuse_a_misread_password_without_showing_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every command given such an address stops with one usage line that shows no piece of it."""
    commands = [
        (syncd_main, ["migrate"]),
        (syncd_main, ["status"]),
        (syncd_main, ["plan"]),
        (syncd_main, ["history", "pricing.base_rate_USDC"]),
        (syncd_main, ["apply"]),
        (tonsurance_main, ["quote", "USDC", "1000"]),
    ]
    for dsn in _dsns(free_port()):
        for group, args in commands:
            monkeypatch.setattr(redaction, "_known", set())
            result = CliRunner().invoke(group, [*args, "--dsn", dsn])
            assert result.exit_code == 2, (dsn, args, result.output)
            assert not _leaks(result.output), (dsn, args, result.output)
            assert "percent-encode" in result.output.strip().splitlines()[-1]


def test_loader_refuses_a_misread_password_without_showing_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A loader given such an address fails at start, as for any malformed address, and its
    error and stats show no piece of the password."""
    for dsn in _dsns(free_port()):
        monkeypatch.setattr(redaction, "_known", set())
        loader = ConfigLoader(dsn, listen=False)
        try:
            with pytest.raises(UsageProblem) as refused:
                loader.start(background=False)
            texts = [str(refused.value), str(loader.stats())]
        finally:
            loader.stop()
        assert "percent-encode" in texts[0]
        assert not _leaks(" ".join(texts)), (dsn, texts)


def test_the_daemon_refuses_a_misread_password_at_start(tmp_path: Path) -> None:
    """`syncd run` given such an address stops at start with one usage line (exit 2), before
    any cycle, instead of failing every cycle as an internal error."""
    for dsn in _dsns(free_port())[:2]:
        result = CliRunner().invoke(
            syncd_main,
            [
                "run",
                "--repo",
                str(tmp_path),
                "--once",
                "--no-watch",
                "--state-dir",
                str(tmp_path / "s"),
                "--dsn",
                dsn,
            ],
        )
        assert result.exit_code == 2, result.output
        (line,) = result.output.strip().splitlines()
        assert "percent-encode" in line and not _leaks(line)


@pytest.mark.parametrize(
    "dsn",
    [
        "postgresql://u:p@h/db?sslrootcert=/certs/with@at",
        "postgresql://host:5432/db?user=a@b",
        "postgresql:///db?host=/var/run/postgresql&user=a@b",
        "postgresql://u:p@[::1]:5432/db",
        "postgresql://h1:5432,h2:5433/db?target_session_attrs=read-write",
    ],
)
def test_ordinary_urls_with_an_at_sign_elsewhere_are_not_refused(dsn: str) -> None:
    """An "@" in the query, or a port after the colon, is an ordinary URL: it is described from
    its parts, not refused as a misread password."""
    assert "percent-encoding" not in describe(dsn)
    assert redaction.misread_password(dsn) is None
