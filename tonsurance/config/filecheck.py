"""One config file read and checked against its schema, once per content.

A file's verdict depends only on its bytes and its schema's bytes, so it is kept by their
digests (for a file read from git, the same as keeping it by blob id): a commit that changes one
file reads and checks that file only. Large files take a fast path first: the fast YAML reader
and the compiled schema validator say whether all is well; only a file that fails either (or
that the fast reader leaves alone) is read by the strict reader, which records every position,
and checked by the full validator, which explains every error. The positions of a file that
passed are read only if a business rule later needs one.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from tonsurance.config.problems import Positions, Problem
from tonsurance.config.schemacheck import fast_validator, schema_problems
from tonsurance.config.yamlread import YamlProblem, read_yaml

# Below this size the strict reader is fast enough, and every file is read the same way.
FAST_PATH_BYTES = 16 * 1024
# What is kept: at most this many files, whose sources add up to at most this many bytes (the
# documents built from them take ten to twenty times more memory).
_KEEP = 32
_KEEP_BYTES = 24 * 1024 * 1024


@dataclass(frozen=True)
class FileCheck:
    """A file's document (None when its YAML was refused), where its values are, and its
    problems: YAML or schema, each with its position."""

    document: Any
    positions: Positions
    problems: tuple[Problem, ...]
    readable: bool


_checked: OrderedDict[tuple[str, bytes, bytes], tuple[FileCheck, int]] = OrderedDict()
_lock = threading.Lock()


def _strict_positions(data: bytes, path: str) -> Positions:
    return read_yaml(data, path)[1]


def _fast(data: bytes, path: str, validator: Any) -> FileCheck | None:
    """The verdict when the fast path can give it: a clean file; None otherwise."""
    quick = fast_validator(validator)
    if quick is None:
        return None
    from tonsurance.config.fastread import fast_read  # rapidyaml, for large files only

    document = fast_read(data)
    if document is None:
        return None
    try:
        if not quick.is_valid(document):
            return None
    except (ValueError, TypeError, OverflowError):
        return None
    positions = Positions(path, load=lambda: _strict_positions(data, path))
    return FileCheck(document, positions, (), True)


def _strict(data: bytes, path: str, spath: str, validator: Any) -> FileCheck:
    try:
        document, positions = read_yaml(data, path)
    except YamlProblem as exc:
        return FileCheck(None, Positions(path), (exc.problem,), False)
    problems = schema_problems(validator, document, positions, spath)
    return FileCheck(document, positions, tuple(problems), True)


def check_file(
    data: bytes,
    path: str,
    spath: str,
    schema: bytes,
    validator: Any,
    *,
    fast_from: int | None = None,
) -> FileCheck:
    """Read `data` (the file `path`) and check it with `validator`, compiled from the bytes
    `schema` of the file `spath`; the same bytes with the same schema again cost two digests.
    The fast path is tried from `fast_from` bytes (default FAST_PATH_BYTES)."""
    key = (path, hashlib.sha256(data).digest(), hashlib.sha256(schema).digest())
    with _lock:
        hit = _checked.get(key)
        if hit is not None:
            _checked.move_to_end(key)
            return hit[0]
    threshold = FAST_PATH_BYTES if fast_from is None else fast_from
    found = (len(data) >= threshold and _fast(data, path, validator)) or _strict(
        data, path, spath, validator
    )
    with _lock:
        _checked[key] = (found, len(data))
        kept = sum(size for _, size in _checked.values())
        while len(_checked) > 1 and (len(_checked) > _KEEP or kept > _KEEP_BYTES):
            _, (_, size) = _checked.popitem(last=False)
            kept -= size
    return found


def forget() -> None:
    """Drop every kept verdict (benchmarks measure the first check of a file this way)."""
    with _lock:
        _checked.clear()
