"""The file defaults: a loader says which files it read, and warns of uncommitted edits."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest

from tests.support import free_port, make_config_repo
from tonsurance.config import ConfigLoader
from tonsurance.config.layout import default_root

PRICING = "config/pricing.yaml"


def dead_dsn() -> str:
    return f"host=127.0.0.1 port={free_port()} dbname=none user=postgres connect_timeout=2"


def start_on_defaults(root: Path) -> ConfigLoader:
    loader = ConfigLoader(dead_dsn(), listen=False, defaults_root=root)
    return loader.start(background=False)


def test_clean_checkout_defaults_name_their_commit(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Defaults read from a clean git checkout name its commit and list no modified file."""
    caplog.set_level(logging.WARNING, "tonsurance.config")
    repo = make_config_repo(tmp_path / "repo")
    loader = start_on_defaults(repo.path)
    stats = loader.stats()
    assert stats["source"] == "file"
    assert stats["defaults"] == {"folder": str(repo.path), "commit": repo.head(), "modified": []}
    assert f"at commit {repo.head()[:12]}" in caplog.text
    assert "uncommitted" not in caplog.text


def test_uncommitted_edits_are_named_in_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """An uncommitted edit under config/ is read, and named as differing from the commit in a
    warning and in stats()."""
    caplog.set_level(logging.WARNING, "tonsurance.config")
    repo = make_config_repo(tmp_path / "repo")
    repo.replace(PRICING, "USDC: 0.04", "USDC: 0.05")
    risk = repo.path / "config" / "risk.yaml"
    risk.write_text(risk.read_text() + "# a note\n")
    loader = start_on_defaults(repo.path)
    assert loader.snapshot.pricing.base_rate["USDC"] == 0.05
    defaults = loader.stats()["defaults"]
    assert defaults["commit"] == repo.head()
    assert defaults["modified"] == [PRICING, "config/risk.yaml"]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("uncommitted edits (config/pricing.yaml, config/risk.yaml)" in w for w in warnings)


def test_a_folder_outside_git_has_no_commit(tmp_path: Path) -> None:
    """Defaults copied to a folder no repository tracks report no commit and no modified file."""
    root = tmp_path / "plain"
    for folder in ("config", "schemas"):
        shutil.copytree(default_root() / folder, root / folder)
    loader = start_on_defaults(root)
    assert loader.stats()["defaults"] == {"folder": str(root), "commit": None, "modified": []}
