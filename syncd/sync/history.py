"""`syncd history CATEGORY.KEY`: each commit that changed one value, and when it reached the database."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import git
import psycopg

from syncd.sync.diff import RowChange
from syncd.sync.gitsource import open_repo
from syncd.sync.provenance import read_provenance
from syncd.sync.rowdiff import describe
from tonsurance.config.keymap import TABLE_LIST_KEY, flatten, value_type_of
from tonsurance.config.environments import DEFAULT_ENVIRONMENT, find_environments
from tonsurance.config.layout import (
    CONFIG_FILES,
    ENVIRONMENT_FILES,
    OVERLAY_DIR,
    PARAMETER_FILES,
    schema_path,
)
from tonsurance.config.overlay import merge
from tonsurance.config.problems import Positions
from tonsurance.config.sources import SourceFiles
from tonsurance.config.normal import normal_value
from tonsurance.config.yamlread import YamlProblem, read_yaml
from tonsurance.db import connect
from tonsurance.errors import InvalidConfig, UsageProblem

_MISSING: Any = object()


@dataclass
class HistoryEntry:
    sha: str
    date: str
    author: str
    subject: str
    old: Any
    new: Any
    applied_at: list[str] = field(default_factory=list)
    provenance: str = ""


def parse_name(name: str) -> tuple[str, str]:
    category, _, key = name.partition(".")
    if category not in CONFIG_FILES or not key:
        known = ", ".join(CONFIG_FILES)
        raise UsageProblem(f"{name!r} is not CATEGORY.KEY with a category among {known}")
    return category, key


def _environment_files(commit: git.Commit) -> SourceFiles:
    """The declaration, its schema and the overlays at `commit` (nothing else is needed)."""
    sources = SourceFiles(origin=commit.hexsha)
    for path in (ENVIRONMENT_FILES, schema_path(ENVIRONMENT_FILES)):
        try:
            sources.files[path] = (commit.tree / path).data_stream.read()
        except KeyError:
            pass
    try:
        folder = commit.tree / OVERLAY_DIR
    except KeyError:
        return sources
    for item in folder.traverse():
        if isinstance(item, git.Blob):
            sources.files[str(item.path)] = item.data_stream.read()
    return sources


def _rendered(commit: git.Commit, category: str, document: Any, environment: str | None) -> Any:
    """`document` with `environment`'s overlay of that file merged in (None: the base alone)."""
    if environment is None:
        return document
    envs = find_environments(_environment_files(commit))
    parts = [p for p in envs.parts(environment) if p.name == category]
    if not parts:
        return document
    merged = merge({category: document}, {category: Positions(CONFIG_FILES[category])}, parts)
    return merged.documents[category] if not merged.problems else _MISSING


def value_at(commit: git.Commit, category: str, key: str, environment: str | None = None) -> Any:
    """The value (or table row) at `commit` in `environment` (None: the base), `_MISSING` when
    absent or unreadable."""
    try:
        blob = commit.tree / CONFIG_FILES[category]
        document, _ = read_yaml(blob.data_stream.read(), CONFIG_FILES[category])
    except (KeyError, YamlProblem):
        return _MISSING
    if not isinstance(document, dict):
        return _MISSING
    document = _rendered(commit, category, document, environment)
    if not isinstance(document, dict):
        return _MISSING
    if category in PARAMETER_FILES:
        for leaf_key, value, _ in flatten(category, document):
            if leaf_key == key:
                return normal_value(value, value_type_of(leaf_key, value))
        return _MISSING
    for row in document.get(TABLE_LIST_KEY[category], []) or []:
        if isinstance(row, dict) and row.get("id") == key:
            return row
    return _MISSING


def git_history(
    repo: git.Repo, category: str, key: str, rev: str = "HEAD", environment: str | None = None
) -> list[HistoryEntry]:
    """Oldest first: every commit after which the value (in `environment`) differs from before it."""
    entries: list[HistoryEntry] = []
    previous: Any = _MISSING
    paths = [CONFIG_FILES[category]]
    if environment is not None:
        paths += [ENVIRONMENT_FILES, OVERLAY_DIR]
    commits = list(repo.iter_commits(rev, paths=paths, first_parent=True))
    for commit in reversed(commits):
        value = value_at(commit, category, key, environment)
        if value != previous:
            message = commit.message if isinstance(commit.message, str) else commit.message.decode()
            entries.append(
                HistoryEntry(
                    sha=commit.hexsha,
                    date=dt.datetime.fromtimestamp(
                        commit.committed_date, dt.timezone.utc
                    ).isoformat(),
                    author=str(commit.author.name),
                    subject=message.strip().splitlines()[0] if message.strip() else "",
                    old=None if previous is _MISSING else previous,
                    new=None if value is _MISSING else value,
                )
            )
        previous = value
    return entries


def audit_rows(conn: psycopg.Connection[Any], category: str, key: str) -> list[tuple[Any, ...]]:
    with conn.cursor() as cur:
        cur.execute(
            "select changed_at, commit_sha, action, old_value, new_value, is_drift, reason from config_audit_log"
            " where category = %s and key = %s order by changed_at, id",
            (category, key),
        )
        return list(cur.fetchall())


def _reached_via_later_commit(
    repo: git.Repo, entry: HistoryEntry, rows: list[tuple[Any, ...]]
) -> list[str]:
    """When commits were skipped, the value reached the database with a later commit that contains it."""
    for changed_at, sha, _action, _old, new, is_drift, reason in rows:
        if is_drift or not sha or new != entry.new or reason == "drift correction":
            continue
        try:
            if repo.is_ancestor(repo.commit(entry.sha), repo.commit(sha)):
                return [f"{changed_at.isoformat()} (with {sha[:12]})"]
        except (git.GitCommandError, git.BadName, ValueError):
            continue
    return []


def history(
    repo_path: str | Path, name: str, dsn: str | None, environment: str = DEFAULT_ENVIRONMENT
) -> tuple[list[HistoryEntry], list[tuple[Any, ...]]]:
    """The git history of one value in `environment`, joined with the audit log's record of each
    commit reaching the database."""
    category, key = parse_name(name)
    repo = open_repo(repo_path)
    entries = git_history(repo, category, key, environment=environment)
    with connect(dsn) as conn:
        rows = audit_rows(conn, category, key)
        proven = read_provenance(conn, [entry.sha for entry in entries])
    for entry in entries:
        entry.applied_at = [
            r[0].isoformat() for r in rows if r[1] == entry.sha and r[6] != "drift correction"
        ]
        if not entry.applied_at:
            entry.applied_at = _reached_via_later_commit(repo, entry, rows)
        entry.provenance = proven.get(entry.sha, "")
    by_hand = [r for r in rows if r[5] or r[6] == "drift correction"]
    if not entries and not by_hand:
        raise InvalidConfig(
            f"{name}: no commit on this branch defines it, and the database never held it"
        )
    return entries, by_hand


def _show(value: Any) -> str:
    if value is None:
        return "(absent)"
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


NOT_APPLIED = "not applied to this database"
NOTES = {
    "(with ": "(with X): this commit was never applied by itself; its value reached the database"
    " when X, a later commit that contains it, was applied (the commits between were skipped)",
    "      unverified": "unverified: applied without signature checks (syncd run"
    " --verify-signatures), so the author shown is only what git records",
    NOT_APPLIED: f"{NOT_APPLIED}: the audit log of this database has no apply of this commit,"
    " nor of a later one that still held this value (not applied yet, applied to another"
    " database, or changed again before an apply)",
}


def _change(old: Any, new: Any) -> str:
    """`old -> new`; for a table row that changed, only the fields that moved."""
    if isinstance(old, dict) and isinstance(new, dict):
        return "; ".join(describe(RowChange("change", "", "", old, new)))
    return f"{_show(old)} -> {_show(new)}"


def render_history(name: str, entries: list[HistoryEntry], by_hand: list[tuple[Any, ...]]) -> str:
    lines = [f"history of {name}:"]
    for e in entries:
        reached = e.applied_at[0] if e.applied_at else NOT_APPLIED
        lines.append(f"  {e.sha[:12]} {e.date[:19]} {e.author}: {e.subject}")
        lines.append(f"      {_change(e.old, e.new)}; in the database: {reached}")
        if e.provenance:
            lines.append(f"      {e.provenance}")
    if by_hand:
        lines.append("changes in the database not made by a new commit, oldest first:")
    for changed_at, sha, action, old, new, is_drift, _reason in by_hand:
        what = (
            "changed by hand (drift)"
            if is_drift
            else f"put back by syncd to {str(sha)[:12]} (drift correction)"
        )
        lines.append(
            f"  {changed_at.isoformat()[:19]} {action} {_show(old)} -> {_show(new)}: {what}"
        )
    body = "\n".join(lines)
    notes = [text for marker, text in NOTES.items() if marker in body]
    return "\n".join([body, *(["notes:", *(f"  {n}" for n in notes)] if notes else [])])
