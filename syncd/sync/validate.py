"""`syncd validate`: check a working tree or any commit, and report every problem."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from syncd.sync.gitsource import open_repo, read_commit, resolve_commit
from tonsurance.config.render import RepositoryValidation, validate_repository
from tonsurance.config.sources import SourceFiles, read_directory
from tonsurance.config.validation import ValidationResult, validate_sources
from tonsurance.errors import UsageProblem


def load_sources(repo: str | Path, commit: str | None = None) -> SourceFiles:
    """The files of `repo`'s working tree, or of `commit` read from git objects."""
    if commit is None:
        root = Path(repo)
        if not root.is_dir():
            raise UsageProblem(f"{root} is not a folder; pass --repo with the repository's path")
        return read_directory(root)
    return read_commit(resolve_commit(open_repo(repo), commit))


def validate(
    repo: str | Path = ".", commit: str | None = None, today: dt.date | None = None
) -> ValidationResult:
    return validate_sources(load_sources(repo, commit), today)


def validate_all(
    repo: str | Path = ".", commit: str | None = None, today: dt.date | None = None
) -> RepositoryValidation:
    """`syncd validate`: the base and every declared environment."""
    return validate_repository(load_sources(repo, commit), today)
