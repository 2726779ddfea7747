"""`syncd promote --from staging --to production [KEY ...]`: a commit, on a new branch, that gives
the --to environment the values of the --from environment.

Only the --to overlay changes, edited in place (comments, order and formatting survive): an
override is set where the --from value differs from the base, and removed where --from keeps
the base's value. The commit is written from HEAD through a temporary index, so the
working tree and the current branch are never touched; it must validate in every environment
before the branch is created. Refused, changing nothing: an environment that is not declared,
uncommitted changes in the working tree, a key that does not differ, an existing branch.
"""

from __future__ import annotations

import io
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import git
from gitdb import IStream

from syncd.errors import InvalidConfig, PlanRefused, UsageProblem
from syncd.review.review import Review, review_between
from syncd.review.yamledit import OverlayDocument
from syncd.sync.gitsource import open_repo, read_commit
from syncd.sync.pipeline import prepare_environments, refusal_reason
from tonsurance.config.environments import Environments, check_name, find_environments
from tonsurance.config.keymap import TABLE_LIST_KEY, flatten
from tonsurance.config.layout import CONFIG_FILES, OVERLAY_DIR, PARAMETER_FILES
from tonsurance.config.render import render_environment
from tonsurance.config.validation import ValidationResult, conclude, parse_sources


@dataclass(frozen=True)
class Promotion:
    source: str
    target: str
    branch: str
    commit: str
    keys: tuple[str, ...]
    files: tuple[str, ...]
    review: Review


def _valid(result: ValidationResult, what: str) -> ValidationResult:
    if not result.ok or result.state is None:
        raise InvalidConfig(f"{what}: {refusal_reason(result)}")
    return result


def differing(a: ValidationResult, b: ValidationResult) -> list[str]:
    """`category.key` of every parameter and `table.id` of every row that differ."""
    assert a.state is not None and b.state is not None
    names = [
        f"{cat}.{key}"
        for (cat, key), p in a.state.parameters.items()
        if b.state.parameters.get((cat, key)) is None
        or b.state.parameters[(cat, key)].value != p.value
    ]
    for table, rows in a.state.tables.items():
        other = b.state.tables.get(table, {})
        for row_id in list(rows) + [i for i in other if i not in rows]:
            if rows.get(row_id) != other.get(row_id):
                names.append(f"{table}.{row_id}")
    return names


def _overlay_file(envs: Environments, target: str, category: str) -> tuple[str, tuple[str, ...]]:
    """Where the target's override of `category` goes, and its path inside that file."""
    one_file = f"{OVERLAY_DIR}/{target}.yaml"
    files = envs.overlay_files.get(target, ())
    if files and one_file not in files:
        return f"{OVERLAY_DIR}/{target}/{CONFIG_FILES[category].rsplit('/', 1)[-1]}", ()
    return one_file, (category,)


def _find(document: Any, path: tuple[str, ...]) -> Any:
    for part in path:
        document = document[part]
    return document


def _row(result: ValidationResult, table: str, row_id: str) -> Mapping[str, Any] | None:
    for row in result.documents[table].get(TABLE_LIST_KEY[table], []):
        if row.get("id") == row_id:
            return dict(row)
    return None


def _edit(
    doc: OverlayDocument,
    prefix: tuple[str, ...],
    name: str,
    source: ValidationResult,
    base: ValidationResult,
) -> None:
    assert source.state is not None and base.state is not None
    category, _, key = name.partition(".")
    if category in PARAMETER_FILES:
        paths = {leaf: path for leaf, _, path in flatten(category, base.documents[category])}
        path = tuple(str(p) for p in paths[key])
        if (
            source.state.parameters[(category, key)].value
            == base.state.parameters[(category, key)].value
        ):
            doc.drop(prefix, path)
        else:
            doc.set_value(prefix, path, _find(source.documents[category], path))
        return
    list_key = TABLE_LIST_KEY[category]
    wanted, original = source.state.tables[category].get(key), base.state.tables[category].get(key)
    if wanted == original:
        doc.drop_row(prefix, list_key, key)
    elif wanted is None:
        doc.put_row(prefix, list_key, {"id": key, "$remove": True})
    else:
        row = _row(source, category, key)
        assert row is not None
        doc.put_row(prefix, list_key, row)


def _write_commit(repo: git.Repo, parent: str, files: Mapping[str, str], message: str) -> str:
    """A commit of `parent`'s tree with `files` replaced, made through a temporary index."""
    with tempfile.TemporaryDirectory(prefix="syncd-promote-") as folder:
        env = {"GIT_INDEX_FILE": str(Path(folder) / "index")}
        repo.git.read_tree(parent, env=env)
        for path, text in files.items():
            data = text.encode()
            blob = repo.odb.store(IStream("blob", len(data), io.BytesIO(data))).hexsha.decode()
            repo.git.update_index("--add", "--cacheinfo", f"100644,{blob},{path}", env=env)
        tree = repo.git.write_tree(env=env)
        return str(repo.git.commit_tree(tree, "-p", parent, "-m", message, env=env)).strip()


def promote(
    repo_path: str | Path,
    source: str,
    target: str,
    keys: tuple[str, ...] = (),
    branch: str | None = None,
) -> Promotion:
    """Write the promotion commit and its branch; return them with the target's plan."""
    check_name(source)
    check_name(target)
    if source == target:
        raise UsageProblem("--from and --to name the same environment")
    repo = open_repo(repo_path)
    if repo.is_dirty(untracked_files=True):
        raise PlanRefused(
            "the working tree has uncommitted changes; commit or stash them first"
            " (promote writes its commit from HEAD)"
        )
    head = repo.head.commit
    sources = read_commit(head)
    parsed, envs = parse_sources(sources), find_environments(sources)
    for name in (source, target):
        if name not in envs.declared:
            declared = ", ".join(envs.declared) or "none"
            raise InvalidConfig(
                f"environment {name!r} is not declared in config/environments.yaml (declared: {declared})"
            )
    base = _valid(
        conclude(parsed, parsed.documents, parsed.positions, parsed.problems, parsed.valid),
        "the base",
    )
    src = _valid(render_environment(parsed, envs, source), source)
    dst = _valid(render_environment(parsed, envs, target), target)
    candidates = differing(src, dst)
    unknown = [k for k in keys if k not in candidates]
    if unknown:
        raise UsageProblem(
            f"{unknown[0]}: not a parameter (category.key) or row (table.id) that differs between"
            f" {source} and {target}"
        )
    chosen = tuple(keys) or tuple(candidates)
    if not chosen:
        raise InvalidConfig(
            f"nothing to promote: {source} and {target} hold the same configuration"
        )
    branch = branch or f"promote/{source}-to-{target}-{head.hexsha[:8]}"
    if branch in [h.name for h in repo.heads]:
        raise UsageProblem(f"branch {branch} already exists; pass --branch with another name")
    documents: dict[str, OverlayDocument] = {}
    for name in chosen:
        path, prefix = _overlay_file(envs, target, name.partition(".")[0])
        if path not in documents:
            documents[path] = OverlayDocument(sources.files.get(path, b"").decode())
        _edit(documents[path], prefix, name, src, base)
    files = {path: doc.text() for path, doc in documents.items()}
    shown = ", ".join(chosen) if len(chosen) <= 5 else f"{len(chosen)} values"
    message = f"Promote {shown} from {source} to {target}\n\n" + "\n".join(
        f"- {name}" for name in chosen
    )
    commit = _write_commit(repo, head.hexsha, files, message)
    rendered, _ = prepare_environments(repo, commit)
    for name, prepared in rendered.items():
        _valid(prepared.validation, f"{name} after the promotion")
    repo.create_head(branch, commit)
    review = review_between(repo_path, head.hexsha, commit, environment=target)
    return Promotion(source, target, branch, commit, chosen, tuple(sorted(files)), review)
