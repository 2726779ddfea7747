"""The package layers of DESIGN.md, as import-linter contracts in pyproject.toml."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _lint_imports(cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    lint = Path(sys.executable).with_name("lint-imports")
    return subprocess.run(
        [str(lint), "--no-cache"], cwd=cwd, capture_output=True, text=True, check=False, env=env
    )


def test_the_layers_hold() -> None:
    """Every import-linter contract of pyproject.toml is kept by the code as it is."""
    done = _lint_imports(ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


def test_breaking_a_layer_fails(tmp_path: Path) -> None:
    """A copy of the code where the sync core imports the command line breaks a contract."""
    for name in ("syncd", "tonsurance"):
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    target = tmp_path / "syncd" / "sync" / "diff.py"
    target.write_text(target.read_text() + "\nimport syncd.cli.options  # noqa: E402,F401\n")
    done = _lint_imports(tmp_path, {"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"})
    assert done.returncode != 0
    assert "syncd.sync is not allowed to import syncd.cli" in done.stdout
