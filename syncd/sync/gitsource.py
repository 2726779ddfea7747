"""Read a configuration straight from git objects, never from a working tree.

A half-pulled checkout, a dirty tree or a stale `index.lock` cannot leak into what is read: the
bytes come from the blobs of the named commit. Refs and URLs from outside are checked first.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path

import git

from syncd.errors import GitUnavailable
from tonsurance.config.layout import CONFIG_DIR, MAX_FILE_BYTES, SCHEMA_DIR
from tonsurance.config.sources import SourceFiles, too_large_message
from tonsurance.errors import UsageProblem

_SYMLINK_MODE = 0o120000
_BAD_REF = re.compile(r"(^-)|[\x00-\x20\x7f~^:?*\[\\]|\.\.|@\{|//|\.lock$|/$|\.$")
_ALLOWED_REV_SUFFIX = re.compile(r"^(?P<base>.*?)(?P<suffix>(?:[~^]\d*)*)$")
_BAD_URL = re.compile(r"^(-|ext::|fd::)|^[a-z0-9+.-]+::", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class CommitInfo:
    sha: str
    author: str
    message: str
    summary: str
    authored_at: int

    @classmethod
    def of(cls, commit: git.Commit) -> CommitInfo:
        message = commit.message if isinstance(commit.message, str) else commit.message.decode()
        return cls(
            sha=commit.hexsha,
            author=f"{commit.author.name} <{commit.author.email}>",
            message=message.strip(),
            summary=message.strip().splitlines()[0] if message.strip() else "",
            authored_at=commit.authored_date,
        )


def check_rev(rev: str) -> str:
    """Refuse a revision that could be read as an option or is not a plain ref/sha."""
    match = _ALLOWED_REV_SUFFIX.match(rev)
    base = match.group("base") if match else rev
    if not rev or not base or _BAD_REF.search(base) or len(rev) > 256:
        raise UsageProblem(f"refusing revision {rev!r}: not a plain branch, tag or commit name")
    return rev


_CREDENTIALS = re.compile(r"(://)[^/@\s]+@")
_USERINFO = re.compile(r"(?<=[:/])[^:/@\s]*:[^@\s]*@")


def redact_url(text: str) -> str:
    """`https://user:token@host/x` -> `https://***@host/x`, anywhere in `text`, malformed
    addresses (`https::user:secret@x`) included."""
    return _USERINFO.sub("***@", _CREDENTIALS.sub(r"\1***@", text))


def check_url(url: str) -> str:
    """Refuse remote URLs that run commands (`ext::`) or look like options."""
    if not url or _BAD_URL.search(url) or "\n" in url:
        raise UsageProblem(
            f"refusing repository address {redact_url(url)!r}:"
            " only paths, file://, ssh:// and https:// are allowed"
        )
    return url


def open_repo(path: str | Path) -> git.Repo:
    try:
        return git.Repo(str(path))
    except (git.NoSuchPathError, git.InvalidGitRepositoryError):
        raise UsageProblem(
            f"{path} is not a git repository; pass --repo with the repository's path"
        ) from None


def resolve_commit(repo: git.Repo, rev: str) -> git.Commit:
    check_rev(rev)
    try:
        commit = repo.commit(rev)
    except (git.BadName, ValueError, git.GitCommandError):
        raise UsageProblem(
            f"unknown revision {rev!r} in {repo.working_dir or repo.git_dir}"
        ) from None
    return commit


def commit_day(commit: git.Commit) -> dt.date:
    """The committer date of `commit` as a UTC calendar day."""
    return dt.datetime.fromtimestamp(commit.committed_date, dt.timezone.utc).date()


def read_commit(commit: git.Commit) -> SourceFiles:
    """The bytes of `config/` and `schemas/` at `commit`."""
    sources = SourceFiles(origin=commit.hexsha, as_of=commit_day(commit))
    try:
        for folder in (CONFIG_DIR, SCHEMA_DIR):
            try:
                tree = commit.tree / folder
            except KeyError:
                continue
            if tree.mode == _SYMLINK_MODE:
                sources.reject(folder, "is a symlink; symlinks are not allowed")
                continue
            if tree.type != "tree":
                sources.reject(folder, f"{folder} must be a folder")
                continue
            for item in tree.traverse():
                if not isinstance(item, git.Blob):
                    continue
                path = str(item.path)
                if item.mode == _SYMLINK_MODE:
                    sources.reject(path, "is a symlink; symlinks are not allowed")
                elif item.size > MAX_FILE_BYTES:
                    sources.reject(path, too_large_message(item.size))
                else:
                    sources.files[path] = item.data_stream.read()
    except git.GitCommandError as exc:
        raise GitUnavailable(
            f"reading {commit.hexsha[:12]} from git failed: {exc.stderr.strip() or exc}"
        ) from None
    return sources
