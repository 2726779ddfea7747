"""The README's first command: migrate, apply this repository's HEAD, status, and a quote from the database."""

import os
import subprocess
import sys
from pathlib import Path

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
    assert head in done.stdout.splitlines()[-1]


def test_quickstart_starts_a_private_server_when_none_runs(tmp_path: Path):
    """With no server reachable, the quickstart starts its own in .local/postgres and still ends with a quote."""
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
    env = {k: v for k, v in os.environ.items() if k != "TONSURANCE_DSN"}
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
        assert (data / "PG_VERSION").exists()
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
