"""Where the file defaults come from: the git commit of the checkout holding them, if any.

A service that falls back to its file defaults should be using what was committed. When the
folder is a git checkout, `git` (the command, so that services need no git library) says which
commit it holds and which files under `config/` and `schemas/` differ from that commit. An
installed package, a folder outside any repository, or a machine without git give no commit.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tonsurance.config.layout import CONFIG_DIR, SCHEMA_DIR

GIT_TIMEOUT = 5.0


@dataclass(frozen=True, slots=True)
class DefaultsOrigin:
    """The folder the file defaults were read from, its commit, and files that differ from it."""

    folder: str
    commit: str | None = None
    modified: tuple[str, ...] = ()

    def describe(self) -> str:
        """One line for logs: what is read, and whether it is what was committed."""
        where = f"{self.folder}/{CONFIG_DIR}"
        if self.commit is None:
            return f"{where} (not a git checkout)"
        if not self.modified:
            return f"{where} at commit {self.commit[:12]}"
        files = ", ".join(self.modified)
        return f"{where}, which differs from its commit {self.commit[:12]} in {files}"

    def as_dict(self) -> dict[str, object]:
        return {"folder": self.folder, "commit": self.commit, "modified": list(self.modified)}


def _git(root: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", "-C", str(root), *args],
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT,
            check=False,
            env={**os.environ, "GIT_OPTIONAL_LOCKS": "0"},
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None


def defaults_origin(root: Path) -> DefaultsOrigin:
    """The origin of `root/config`; no commit unless git tracks files there."""
    folders = (CONFIG_DIR, SCHEMA_DIR)
    tracked = _git(root, "ls-files", "--", *folders)
    head = _git(root, "rev-parse", "--verify", "--quiet", "HEAD") if tracked else None
    status = _git(root, "status", "--porcelain=v1", "-z", "--untracked-files=all", "--", *folders)
    if not tracked or head is None or status is None:
        return DefaultsOrigin(str(root))
    return DefaultsOrigin(str(root), head.strip(), _changed_paths(status))


def _changed_paths(status: str) -> tuple[str, ...]:
    """Paths of `git status --porcelain -z` (relative to the repository's top); a rename or
    copy is followed by its source path, which is skipped."""
    entries = status.split("\0")
    paths: set[str] = set()
    index = 0
    while index < len(entries):
        entry = entries[index]
        index += 1
        if len(entry) > 3:
            paths.add(entry[3:])
            if entry[0] in "RC":
                index += 1
    return tuple(sorted(paths))
