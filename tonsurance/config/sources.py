"""The bytes of one configuration: `config/` and `schemas/` read from a folder or handed in by a
git reader. Symlinks and oversized files are recorded as problems, never followed or read."""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field
from pathlib import Path

from tonsurance.config.layout import CONFIG_DIR, MAX_FILE_BYTES, SCHEMA_DIR
from tonsurance.config.problems import Problem


@dataclass
class SourceFiles:
    """Relative path -> content, plus problems found while collecting them.

    `as_of` is the day date-dependent rules judge against: a commit's own committer date (UTC),
    so that a commit gets one verdict on every host and forever; None for a working tree, which
    is judged against today's date in UTC.
    """

    files: dict[str, bytes] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    origin: str = ""
    as_of: dt.date | None = None

    def reject(self, path: str, message: str) -> None:
        self.problems.append(Problem(path, 1, 1, "(file)", message))


def too_large_message(size: int) -> str:
    return f"file is {size} bytes, larger than the limit of {MAX_FILE_BYTES} bytes"


def read_directory(root: str | os.PathLike[str]) -> SourceFiles:
    """Collect `config/` and `schemas/` under `root` (a working tree)."""
    base = Path(root)
    sources = SourceFiles(origin=str(base))
    for folder in (CONFIG_DIR, SCHEMA_DIR):
        top = base / folder
        if top.is_symlink():
            sources.reject(folder, "is a symlink; symlinks are not allowed")
            continue
        if not top.is_dir():
            continue
        for path in sorted(top.rglob("*")):
            rel = path.relative_to(base).as_posix()
            if path.is_symlink():
                sources.reject(rel, "is a symlink; symlinks are not allowed")
            elif path.is_file():
                size = path.stat().st_size
                if size > MAX_FILE_BYTES:
                    sources.reject(rel, too_large_message(size))
                else:
                    sources.files[rel] = path.read_bytes()
    return sources
