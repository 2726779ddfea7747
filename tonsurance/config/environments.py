"""Which environments a configuration declares, and the overlay files each one has.

The declaration is `config/environments.yaml`; an overlay is either one file
`config/environments/<name>.yaml` (its top-level keys name the base files: `pricing`, `risk`,
`tranche`, `historical_depegs`, `stress_scenarios`) or a folder `config/environments/<name>/`
holding files named like the base ones. Every file-level mistake is one problem naming the file.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tonsurance.config.layout import (
    CONFIG_FILES,
    ENVIRONMENT_FILES,
    OVERLAY_DIR,
    is_environment_file,
    schema_path,
)
from tonsurance.config.problems import Path, Positions, Problem
from tonsurance.config.schemacheck import SchemaUnusable, check_document, compile_schema
from tonsurance.config.sources import SourceFiles
from tonsurance.config.yamlread import YamlProblem, read_yaml
from tonsurance.errors import UsageProblem

DEFAULT_ENVIRONMENT = "dev"
NAME_PATTERN = re.compile(r"[a-z][a-z0-9-]{0,31}")
NAME_RULE = "a lower-case letter, then lower-case letters, digits or '-', at most 32 characters"
_BASE_NAMES = {path.rsplit("/", 1)[-1]: name for name, path in CONFIG_FILES.items()}


def environment_from_env() -> str:
    """The environment named by SYNCD_ENVIRONMENT, else the default for local use."""
    return check_name(os.environ.get("SYNCD_ENVIRONMENT") or DEFAULT_ENVIRONMENT)


def check_name(name: str) -> str:
    """`name` if it is a well-formed environment name, else UsageProblem (one line)."""
    if not NAME_PATTERN.fullmatch(name):
        raise UsageProblem(f"environment name {name!r} is not allowed: use {NAME_RULE}")
    return name


@dataclass(frozen=True)
class OverlayPart:
    """The overrides of one base file: their document, where they were read, and the path of that
    document inside its file (`()` in a folder overlay, `("pricing",)` in a one-file overlay)."""

    name: str
    document: Any
    positions: Positions
    prefix: Path


@dataclass
class Environments:
    """The declared names, each one's overlay parts, and the problems of those files."""

    declared: tuple[str, ...] = ()
    overlays: dict[str, list[OverlayPart]] = field(default_factory=dict)
    overlay_files: dict[str, tuple[str, ...]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    present: bool = False

    def parts(self, name: str) -> list[OverlayPart]:
        return self.overlays.get(name, [])


def _read(sources: SourceFiles, path: str, problems: list[Problem]) -> tuple[Any, Positions] | None:
    try:
        return read_yaml(sources.files[path], path)
    except YamlProblem as exc:
        problems.append(exc.problem)
        return None


def _declared(sources: SourceFiles, problems: list[Problem]) -> tuple[str, ...]:
    read = _read(sources, ENVIRONMENT_FILES, problems)
    spath = schema_path(ENVIRONMENT_FILES)
    if read is None:
        return ()
    if spath not in sources.files:
        problems.append(Problem(spath, 1, 1, "(file)", f"missing schema for {ENVIRONMENT_FILES}"))
        return ()
    try:
        validator = compile_schema(sources.files[spath], spath)
    except SchemaUnusable as exc:
        problems.append(exc.problem)
        return ()
    document, positions = read
    found = check_document(validator, document, positions)
    problems.extend(found)
    return () if found else tuple(document["environments"])


def _one_file_parts(
    document: Any, positions: Positions, problems: list[Problem]
) -> list[OverlayPart]:
    if document is None:
        return []
    if not isinstance(document, Mapping):
        problems.append(positions.problem((), "an overlay is a mapping of base file names"))
        return []
    parts: list[OverlayPart] = []
    for key, value in document.items():
        if key not in CONFIG_FILES:
            known = ", ".join(CONFIG_FILES)
            problems.append(
                positions.problem((key,), f"unknown key: the base files are {known}", key=True)
            )
        elif value is not None:
            parts.append(OverlayPart(key, value, positions, (key,)))
    return parts


def _classify(rel: str) -> tuple[str, str | None] | None:
    """`staging.yaml` -> ("staging", None); `staging/pricing.yaml` -> ("staging", "pricing.yaml")."""
    pieces = rel.split("/")
    if len(pieces) == 1 and pieces[0].endswith(".yaml"):
        return pieces[0][: -len(".yaml")], None
    if len(pieces) == 2:
        return pieces[0], pieces[1]
    return None


_found: OrderedDict[bytes, Environments] = OrderedDict()
_lock = threading.Lock()
_KEEP = 16


def find_environments(sources: SourceFiles) -> Environments:
    """The declaration and every overlay of `sources`, with a problem for each bad file; kept by
    the digest of those files, like the base files' verdicts (callers only read the result)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in sources.files if is_environment_file(p)):
        digest.update(path.encode() + b"\0" + hashlib.sha256(sources.files[path]).digest())
    spath = schema_path(ENVIRONMENT_FILES)
    digest.update(hashlib.sha256(sources.files.get(spath, b"")).digest())
    key = digest.digest()
    with _lock:
        hit = _found.get(key)
    if hit is not None:
        return hit
    found = _find(sources)
    with _lock:
        _found[key] = found
        while len(_found) > _KEEP:
            _found.popitem(last=False)
    return found


def _find(sources: SourceFiles) -> Environments:
    envs = Environments(present=ENVIRONMENT_FILES in sources.files)
    problems = envs.problems
    if envs.present:
        envs.declared = _declared(sources, problems)
    declaration_ok = not problems
    files: dict[str, list[str]] = {}
    forms: dict[str, set[str]] = {}
    for path in sorted(p for p in sources.files if p.startswith(OVERLAY_DIR + "/")):
        found = _classify(path[len(OVERLAY_DIR) + 1 :])
        if found is None:
            problems.append(
                Problem(
                    path,
                    1,
                    1,
                    "(file)",
                    f"unknown file in {OVERLAY_DIR}/; an overlay is <name>.yaml or <name>/<base file>.yaml",
                )
            )
            continue
        name, inner = found
        if not NAME_PATTERN.fullmatch(name):
            problems.append(
                Problem(
                    path,
                    1,
                    1,
                    "(file)",
                    f"environment name {name!r} is not allowed: use {NAME_RULE}",
                )
            )
            continue
        if inner is not None and inner not in _BASE_NAMES:
            known = ", ".join(sorted(_BASE_NAMES))
            problems.append(
                Problem(
                    path,
                    1,
                    1,
                    "(file)",
                    f"unknown file in an overlay folder; expected only {known}",
                )
            )
            continue
        if name not in envs.declared:
            if not declaration_ok:
                continue
            declared = ", ".join(envs.declared) or f"none ({ENVIRONMENT_FILES} is missing)"
            problems.append(
                Problem(
                    path,
                    1,
                    1,
                    "(file)",
                    f"overlay for environment {name!r}, which {ENVIRONMENT_FILES} does not declare"
                    f" (declared: {declared})",
                )
            )
            continue
        forms.setdefault(name, set()).add("file" if inner is None else "folder")
        files.setdefault(name, []).append(path)
    for name, paths in files.items():
        if len(forms[name]) > 1:
            folder = f"{OVERLAY_DIR}/{name}/"
            problems.append(
                Problem(
                    f"{OVERLAY_DIR}/{name}.yaml",
                    1,
                    1,
                    "(file)",
                    f"two overlays for environment {name!r}: this file and the folder {folder}; keep one",
                )
            )
            continue
        envs.overlay_files[name] = tuple(paths)
        parts: list[OverlayPart] = []
        for path in paths:
            read = _read(sources, path, problems)
            if read is None:
                continue
            document, positions = read
            if path.endswith(f"/{name}.yaml") and path.count("/") == 2:
                parts.extend(_one_file_parts(document, positions, problems))
            elif document is not None:
                base = _BASE_NAMES[path.rsplit("/", 1)[-1]]
                parts.append(OverlayPart(base, document, positions, ()))
        envs.overlays[name] = parts
    return envs
