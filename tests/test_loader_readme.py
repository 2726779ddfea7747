"""The README's loader section holds to the code: its snippet runs, its stats() keys are the keys."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from syncd.sync.pipeline import apply_commit
from tonsurance.config import ConfigLoader
from tests.support import make_config_repo

README = Path(__file__).resolve().parents[1] / "README.md"
SECTION = "## Reading values in a service"


def loader_section() -> str:
    text = README.read_text()
    start = text.index(SECTION)
    end = text.index("\n## ", start + len(SECTION))
    return text[start:end]


def snippet() -> str:
    match = re.search(r"```python\n(.*?)```", loader_section(), re.DOTALL)
    assert match, "the loader section has no python example"
    return match.group(1)


def documented_stats_keys() -> set[str]:
    """The backticked names in the first column of the table that follows `loader.stats()`."""
    section = loader_section()
    table = section[section.index("`loader.stats()` returns:") :]
    keys: set[str] = set()
    for line in table.splitlines()[3:]:
        if not line.startswith("|"):
            break
        keys |= set(re.findall(r"`([a-z_]+)`", line.split("|")[1]))
    return keys


def test_the_readme_snippet_runs_as_written(db_dsn: str, tmp_path: Path) -> None:
    """The loader example of the README, run as a script against a synced database, prices a
    quote from the database and stops cleanly."""
    repo = make_config_repo(tmp_path / "repo")
    apply_commit(repo.path, "HEAD", db_dsn)
    script = tmp_path / "example.py"
    script.write_text(snippet())
    result = subprocess.run(
        [sys.executable, str(script)],
        env={**os.environ, "TONSURANCE_DSN": db_dsn},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert re.fullmatch(r"\$[\d,]+\.\d\d at 4\.00% from database\n", result.stdout)


def test_stats_keys_are_the_documented_ones() -> None:
    """Every key stats() returns is in the README's table, and every key there is returned."""
    assert set(ConfigLoader("").stats()) == documented_stats_keys()
