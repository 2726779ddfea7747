"""What the console reads from git: environments side by side, and a commit's own words.

The database serves one environment and holds only its values; the others exist only in the
repository, so this page reads the applied commit from git (the daemon's mirror, or the
`--repo` given to `syncd console`) and renders every environment the way `syncd validate` does.
Renderings are cached by commit: a commit never changes.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

import git

from syncd.console.pages import EnvironmentColumn, EnvironmentRow, EnvironmentsPage
from syncd.errors import TonsuranceError
from syncd.sync.gitsource import CommitInfo, read_commit, resolve_commit
from tonsurance.config.render import validate_repository
from tonsurance.config.state import ConfigState

RepoOpener = Callable[[], git.Repo]
Rendered = tuple[tuple[EnvironmentColumn, ...], dict[str, ConfigState]]


@functools.lru_cache(maxsize=8)
def _render_cached(repo_path: str, sha: str) -> Rendered:
    repo = git.Repo(repo_path)
    try:
        result = validate_repository(read_commit(resolve_commit(repo, sha)))
    finally:
        repo.close()
    columns = []
    states: dict[str, ConfigState] = {}
    for name, rendered in result.environments.items():
        problem = str(rendered.problems[0]) if rendered.problems else None
        columns.append(EnvironmentColumn(name, rendered.ok, problem))
        if rendered.state is not None:
            states[name] = rendered.state
    return tuple(columns), states


_LOCK = threading.Lock()


def commit_words(repo_path: str | None, sha: str) -> tuple[str, str] | None:
    """A commit's author and message from the repository, or None when it cannot be read."""
    if repo_path is None:
        return None
    try:
        repo = git.Repo(repo_path)
        try:
            info = CommitInfo.of(repo.commit(sha))
        finally:
            repo.close()
    except (git.GitError, ValueError, OSError):
        return None
    return info.author, info.message


def environments_page(
    repo_path: str | None, sha: str | None, database_environment: str | None, every: bool
) -> EnvironmentsPage:
    """The parameters of each environment at `sha`; only those that differ unless `every`."""
    if repo_path is None or sha is None:
        why = (
            "no repository to read environments from: start `syncd console` with --repo"
            if repo_path is None
            else "no commit is applied yet"
        )
        return EnvironmentsPage(database_environment, sha, (), (), not every, why)
    try:
        with _LOCK:  # one rendering at a time: it reads every file of the commit
            columns, states = _render_cached(repo_path, sha)
    except (git.GitError, ValueError, OSError, TonsuranceError) as exc:
        note = f"cannot read {sha[:12]} from the repository: {' '.join(str(exc).split())[:200]}"
        return EnvironmentsPage(database_environment, sha, (), (), not every, note)
    if not columns:
        note = "the applied commit declares no environments (config/environments.yaml)"
        return EnvironmentsPage(database_environment, sha, (), (), not every, note)
    keys = sorted({k for state in states.values() for k in state.parameters})
    rows = []
    for category, key in keys:
        values: list[Any] = []
        for column in columns:
            state = states.get(column.name)
            found = state.parameters.get((category, key)) if state else None
            values.append(found.value if found else None)
        differs = any(v != values[0] for v in values)
        if every or differs:
            rows.append(EnvironmentRow(category, key, tuple(values), differs))
    return EnvironmentsPage(database_environment, sha, columns, tuple(rows), not every, None)
