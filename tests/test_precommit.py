"""The pre-commit hooks: `syncd-validate` stops a commit that breaks config/, both as this
repository's local hook and as the hook published in .pre-commit-hooks.yaml."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support import git, make_config_repo

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(os.environ.get("VIRTUAL_ENV", ROOT / ".venv")) / "bin"
PROJECT_FILES = (
    "config",
    "schemas",
    "migrations",
    "syncd",
    "tonsurance",
    ".github",
    "pyproject.toml",
    "README.md",
    ".pre-commit-hooks.yaml",
    ".pre-commit-config.yaml",
)
BAD_LINE = "config/pricing.yaml:9:9: base_rates.USDC: -0.04 is less than the minimum of 0"


def pre_commit() -> str:
    exe = VENV_BIN / "pre-commit"
    if not exe.exists():
        pytest.fail(
            f"pre-commit is not installed in {VENV_BIN}; pip install -e '.[test]'", pytrace=False
        )
    return str(exe)


def hook_env(tmp_path: Path) -> dict[str, str]:
    """The project's virtualenv first on PATH (so `syncd` resolves) and a private pre-commit cache."""
    return {
        **os.environ,
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}",
        "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"),
        "GIT_AUTHOR_NAME": "Test Analyst",
        "GIT_AUTHOR_EMAIL": "analyst@tonsurance.test",
        "GIT_COMMITTER_NAME": "Test Analyst",
        "GIT_COMMITTER_EMAIL": "analyst@tonsurance.test",
    }


def run(
    args: list[str], cwd: Path, env: dict[str, str], timeout: int = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A git repository holding a copy of this project, committed once."""
    copy = tmp_path / "project"
    copy.mkdir()
    for name in PROJECT_FILES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(
                source, copy / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
            )
        else:
            shutil.copy2(source, copy / name)
    git(copy, "init", "-q", "-b", "main")
    git(copy, "add", "-A")
    git(copy, "commit", "-q", "-m", "Project copy")
    return copy


def break_pricing(repo: Path) -> None:
    pricing = repo / "config/pricing.yaml"
    pricing.write_text(pricing.read_text().replace("USDC: 0.04", "USDC: -0.04", 1))


def test_manifest_and_config_are_valid():
    """pre-commit accepts the published hook manifest and the repository's own config."""
    env = {**os.environ}
    for command in (
        ["validate-manifest", ".pre-commit-hooks.yaml"],
        ["validate-config", ".pre-commit-config.yaml"],
    ):
        done = run([pre_commit(), *command], ROOT, env)
        assert done.returncode == 0, done.stdout + done.stderr


def test_local_hook_rejects_a_commit_with_a_bad_file(project: Path, tmp_path: Path):
    """With the hook installed, committing an invalid pricing.yaml fails with the problem's line
    and leaves no commit."""
    env = hook_env(tmp_path)
    assert run([pre_commit(), "install"], project, env).returncode == 0
    head = git(project, "rev-parse", "HEAD")
    break_pricing(project)
    git(project, "add", "config/pricing.yaml")
    done = run(["git", "commit", "-m", "Negative USDC rate"], project, env)
    assert done.returncode == 1
    hook_output = done.stdout + done.stderr
    assert "syncd validate" in hook_output and "Failed" in hook_output
    assert BAD_LINE in hook_output
    assert git(project, "rev-parse", "HEAD") == head


def test_local_hook_passes_a_good_change_and_skips_other_files(project: Path, tmp_path: Path):
    """A valid config change passes the hook; a commit outside config/ and schemas/ skips it."""
    env = hook_env(tmp_path)
    assert run([pre_commit(), "install"], project, env).returncode == 0
    pricing = project / "config/pricing.yaml"
    pricing.write_text(pricing.read_text().replace("USDC: 0.04", "USDC: 0.045", 1))
    git(project, "add", "config/pricing.yaml")
    done = run(["git", "commit", "-m", "USDC 4.5%"], project, env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "syncd validate" in done.stderr and "Passed" in done.stderr
    (project / "README.md").write_text("changed\n")
    git(project, "add", "README.md")
    done = run(["git", "commit", "-m", "Docs"], project, env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "(no files to check)Skipped" in done.stderr


@pytest.mark.slow
def test_published_hook_rejects_a_bad_file(project: Path, tmp_path: Path):
    """The hook of .pre-commit-hooks.yaml, installed by pre-commit into its own virtualenv from
    this project, fails on a config repository with an invalid file."""
    env = hook_env(tmp_path)
    env["PATH"] = os.pathsep.join(p for p in env["PATH"].split(os.pathsep) if Path(p) != VENV_BIN)
    consumer = make_config_repo(tmp_path / "consumer").path
    break_pricing(consumer)
    git(consumer, "add", "config/pricing.yaml")
    done = run(
        [pre_commit(), "try-repo", str(project), "syncd-validate"], consumer, env, timeout=600
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert BAD_LINE in done.stdout
    assert "1 problem in 1 file" in done.stdout
