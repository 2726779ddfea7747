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
        [sys.executable, "-m", "syncd.quickstart"],
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
