"""A bare mirror of one branch in the state folder, fetched with a timeout.

The daemon never reads a working tree: it fetches the branch into `refs/remotes/origin/<branch>`
of a bare repository it owns and reads commits from there. A lock file keeps a second daemon off
the same mirror; a mirror that disappears (disk replaced, folder wiped) is created again. At
start and after a failed fetch, the stale lock and temporary files an interrupted git left are
removed, and a mirror git can no longer read is created again (see `syncd.daemon.leftovers`).
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO
from urllib.parse import unquote, urlparse

import git

from syncd.daemon.gitprocess import first_error, run_git
from syncd.daemon.leftovers import new_prefix, remove_stale_files
from syncd.daemon.logs import event
from syncd.daemon.resources import resource_of_text
from syncd.errors import GitUnavailable, ResourceExhausted
from syncd.sync.gitsource import check_rev, check_url, redact_url
from tonsurance.errors import UsageProblem

DEFAULT_FETCH_TIMEOUT = 60.0
_SHA = re.compile(r"^[0-9a-f]{7,64}$")


def default_state_dir() -> Path:
    """systemd's STATE_DIRECTORY (/var/lib/syncd), else $XDG_CACHE_HOME/syncd or ~/.cache/syncd."""
    systemd = os.environ.get("STATE_DIRECTORY")
    if systemd:
        return Path(systemd.split(":")[0])
    cache = os.environ.get("XDG_CACHE_HOME")
    return Path(cache) / "syncd" if cache else Path.home() / ".cache" / "syncd"


def local_path(url: str) -> Path | None:
    """The folder of a local remote (a path or file:// URL), else None (ssh, https, scp-like)."""
    if url.startswith("file://"):
        return Path(unquote(urlparse(url).path)).resolve()
    if "://" in url:
        return None
    head = url.split(":", 1)[0]
    if ":" in url and "/" not in head:
        return None
    return Path(url).resolve()


def git_dir_of(path: Path) -> Path | None:
    """The git folder holding the refs of a local repository, bare or not."""
    if (path / "HEAD").is_file() and (path / "refs").is_dir():
        return path
    if (path / ".git" / "HEAD").is_file():
        return path / ".git"
    return None


def check_branch(branch: str) -> str:
    check_rev(branch)
    if branch.startswith("-") or any(c in branch for c in "~^") or branch.endswith(".lock"):
        raise UsageProblem(f"refusing branch {branch!r}: not a plain branch name")
    return branch


@dataclass(frozen=True)
class FetchResult:
    head: str
    previous: str | None
    forced: bool  # the branch moved to a commit that does not descend from the previous head


class Mirror:
    """The local bare copy of `branch` of `url`, under `state_dir/mirrors/`."""

    def __init__(
        self, url: str, branch: str, state_dir: Path, timeout: float = DEFAULT_FETCH_TIMEOUT
    ) -> None:
        check_url(url)
        self.branch = check_branch(branch)
        self.local = local_path(url)
        self.url = str(self.local) if self.local else url
        self.ref = f"refs/remotes/origin/{branch}"
        digest = hashlib.sha256(self.url.encode()).hexdigest()[:16]
        # Resolved once: git runs in other folders, where a relative path would mean another place.
        self.path = Path(state_dir).expanduser().resolve() / "mirrors" / f"{digest}.git"
        self.timeout = timeout
        self._lock: IO[str] | None = None
        self._repo: git.Repo | None = None
        self._check = True  # look for leftovers and damage before the next fetch

    @property
    def display_url(self) -> str:
        return redact_url(self.url)

    def open(self) -> None:
        """Take the mirror's lock (one daemon per mirror) and create the mirror if needed."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock = open(self.path.parent / f"{self.path.name}.lock", "a+")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            raise UsageProblem(
                f"another syncd is using the mirror {self.path};"
                " give each daemon its own --state-dir"
            ) from None
        self._lock = lock
        self._ensure()

    def close(self) -> None:
        if self._repo is not None:
            self._repo.close()
            self._repo = None
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    def _ensure(self) -> None:
        if (self.path / "HEAD").is_file():
            return
        self._discard()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fresh = Path(tempfile.mkdtemp(dir=self.path.parent, prefix=new_prefix(self.path)))
        try:
            self._setup("init", "--quiet", "--bare", str(fresh), cwd=self.path.parent)
            self._setup("config", "remote.origin.url", self.url, cwd=fresh)
            os.replace(fresh, self.path)
        finally:
            shutil.rmtree(fresh, ignore_errors=True)

    def _discard(self) -> None:
        if self._repo is not None:
            self._repo.close()
            self._repo = None
        shutil.rmtree(self.path, ignore_errors=True)

    def _setup(self, *args: str, cwd: Path) -> None:
        """One step of creating the mirror; a failure raises before the mirror is put in place."""
        done = self._git(*args, cwd=cwd)
        if done.returncode != 0:
            self._fail(f"cannot create the mirror {self.path}: git {args[0]} failed", done)

    def _fail(self, what: str, done: subprocess.CompletedProcess[str]) -> None:
        """Raise for a failed git command: the disk or descriptors when git says so, else git."""
        detail = redact_url(first_error(done.stderr) or f"exit code {done.returncode}")
        ran_out = resource_of_text(done.stderr)
        if ran_out is not None:
            raise ResourceExhausted(ran_out, f"{what}: {detail} ({self.path})")
        raise GitUnavailable(f"{what}: {detail}")

    def suspect(self) -> None:
        """Reading the mirror failed: check it for leftovers and damage before the next fetch."""
        self._check = True

    def _broken(self) -> str | None:
        """Why git cannot use the mirror (a bad config, HEAD, ref or object), or None."""
        done = self._git(
            "fsck", "--connectivity-only", "--no-dangling", "--no-progress", timeout=self.timeout
        )
        if done.returncode == 0:
            return None
        ran_out = resource_of_text(done.stderr)
        if ran_out is not None:  # a full disk is not damage: keep the mirror
            raise ResourceExhausted(ran_out, f"git fsck failed: {first_error(done.stderr)}")
        return redact_url(first_error(done.stderr) or f"git fsck exit code {done.returncode}")

    def repair(self) -> bool:
        """Remove stale locks and temporary files, and re-create the mirror if git cannot read
        it; whether anything was changed. Runs only under the mirror's lock."""
        self._check = False
        removed = remove_stale_files(self.path)
        if removed:
            event(
                "mirror_tidied",
                f"removed {len(removed)} stale files an interrupted git left in the mirror:"
                f" {', '.join(removed[:5])}",
                logging.WARNING,
                files=removed[:20],
            )
        broken = self._broken() if (self.path / "HEAD").is_file() else None
        if broken:
            event(
                "mirror_rebuilt",
                f"the mirror {self.path} is damaged ({broken}); creating it again",
                logging.WARNING,
                error=broken,
            )
            self._discard()
            self._ensure()
        return bool(removed or broken)

    @property
    def repo(self) -> git.Repo:
        if self._repo is None:
            self._repo = git.Repo(str(self.path))
        return self._repo

    def _git(
        self, *args: str, cwd: Path | None = None, timeout: float | None = None
    ) -> subprocess.CompletedProcess[str]:
        return run_git(args, cwd or self.path, timeout, self.display_url)

    def _rev(self, rev: str) -> str | None:
        done = self._git("rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}")
        return done.stdout.strip() if done.returncode == 0 else None

    def head(self) -> str | None:
        """The branch head as last fetched, or None before the first fetch."""
        return self._rev(self.ref)

    def _fetch(self) -> subprocess.CompletedProcess[str]:
        try:
            return self._git(
                "fetch",
                "--quiet",
                "--no-tags",
                "--no-write-fetch-head",
                "origin",
                f"+refs/heads/{self.branch}:{self.ref}",
                timeout=self.timeout,
            )
        except GitUnavailable:  # killed by the timeout: it may have left its locks behind
            self._check = True
            raise

    def fetch(self) -> FetchResult:
        """Fetch the branch (force-updating the mirror's ref) within the timeout.

        A fetch that fails for a reason in the mirror itself (a stale lock, damage) is retried
        once at once after the repair."""
        self._ensure()
        if self._check:
            self.repair()
        previous = self.head()
        done = self._fetch()
        if done.returncode != 0:
            if resource_of_text(done.stderr) is not None:
                self._check = True  # clean up once there is room again
            elif self.repair():
                previous = self.head()
                done = self._fetch()
        if done.returncode != 0:
            self._fail(f"git fetch of {self.branch} from {self.display_url} failed", done)
        head = self.head()
        if head is None:
            raise GitUnavailable(f"branch {self.branch} of {self.display_url} has no commit")
        forced = bool(previous and previous != head and not self.is_ancestor(previous, head))
        return FetchResult(head, previous, forced)

    def is_ancestor(self, older: str, newer: str) -> bool:
        if not (_SHA.match(older) and _SHA.match(newer)):
            return False
        return self._git("merge-base", "--is-ancestor", older, newer).returncode == 0

    def has_commit(self, sha: str) -> bool:
        return bool(_SHA.match(sha)) and self._rev(sha) is not None

    def commits_between(self, older: str | None, newer: str) -> int | None:
        """How many commits `newer` has that `older` lacks (None when it cannot be told)."""
        if not _SHA.match(newer) or (older is not None and not _SHA.match(older)):
            return None
        if older is None:
            done = self._git("rev-list", "--count", newer)
        else:
            done = self._git("rev-list", "--count", f"{older}..{newer}")
        return int(done.stdout) if done.returncode == 0 and done.stdout.strip().isdigit() else None
