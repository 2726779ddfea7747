"""Reading a commit from git objects, and refusing refs and URLs that could run or inject commands."""

import os
from pathlib import Path

import pytest

from syncd.sync.gitsource import check_rev, check_url, open_repo, read_commit, resolve_commit
from tests.support import git, make_config_repo
from tonsurance.errors import UsageProblem


@pytest.mark.parametrize(
    "rev", ["HEAD", "main", "HEAD~2", "HEAD^", "v1.2.0", "origin/main", "a" * 40]
)
def test_plain_revisions_are_accepted(rev: str):
    """Branch names, tags, shas and ancestry suffixes are plain revisions."""
    assert check_rev(rev) == rev


@pytest.mark.parametrize(
    "rev", ["--output=/tmp/x", "-n1", "main..evil", "HEAD@{1}", "a b", "x\ny", ""]
)
def test_option_like_or_odd_revisions_are_refused(rev: str):
    """A revision that looks like an option, a range or a reflog expression is refused."""
    with pytest.raises(UsageProblem):
        check_rev(rev)


@pytest.mark.parametrize(
    "url",
    [
        "/srv/config.git",
        "file:///srv/config.git",
        "https://git.example/config.git",
        "git@host:org/config.git",
        "ssh://git@host/config.git",
    ],
)
def test_ordinary_urls_are_accepted(url: str):
    """Paths, file://, https:// and ssh addresses are accepted."""
    assert check_url(url) == url


@pytest.mark.parametrize(
    "url", ["ext::sh -c touch% /tmp/pwned", "--upload-pack=touch /tmp/x", "fd::3", "EXT::x"]
)
def test_command_running_urls_are_refused(url: str):
    """Transport helpers that run commands, and option-looking URLs, are refused."""
    with pytest.raises(UsageProblem):
        check_url(url)


def test_commit_is_read_from_objects_not_the_working_tree(tmp_path: Path):
    """A dirty working tree and a stale index.lock do not change what a commit reads."""
    repo = make_config_repo(tmp_path)
    committed = (repo.path / "config/pricing.yaml").read_bytes()
    (repo.path / "config/pricing.yaml").write_text("garbage: [\n")
    (repo.path / ".git/index.lock").write_text("")
    sources = read_commit(resolve_commit(open_repo(repo.path), "HEAD"))
    assert sources.files["config/pricing.yaml"] == committed
    assert not sources.problems


def test_symlink_in_a_commit_is_refused(tmp_path: Path):
    """A config file committed as a symlink is reported, never followed."""
    repo = make_config_repo(tmp_path)
    os.replace(repo.path / "config/risk.yaml", repo.path / "risk-real.yaml")
    os.symlink("../risk-real.yaml", repo.path / "config/risk.yaml")
    repo.commit("symlink")
    sources = read_commit(resolve_commit(open_repo(repo.path), "HEAD"))
    assert "config/risk.yaml" not in sources.files
    assert [str(p) for p in sources.problems] == [
        "config/risk.yaml:1:1: (file): is a symlink; symlinks are not allowed"
    ]


def test_unknown_revision_is_a_usage_error(tmp_path: Path):
    """A revision that does not exist is a usage error naming it."""
    repo = make_config_repo(tmp_path)
    with pytest.raises(UsageProblem, match="unknown revision 'nope'"):
        resolve_commit(open_repo(repo.path), "nope")


def test_not_a_repository_is_a_usage_error(tmp_path: Path):
    """A folder that is not a git repository is a usage error that says to pass --repo."""
    with pytest.raises(UsageProblem, match="--repo"):
        open_repo(tmp_path)
    assert git(tmp_path, "--version").startswith("git version")
