"""Validate one configuration end to end: files, YAML, schemas, business rules, then rows.

Bad input is data, not an exception: every problem of every file is collected in one pass.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from referencing.exceptions import Unresolvable

from tonsurance.config.layout import CONFIG_DIR, CONFIG_FILES, SCHEMA_DIR, schema_path
from tonsurance.config.problems import Positions, Problem
from tonsurance.config.rules import check_rules, check_warnings
from tonsurance.config.schemacheck import SchemaUnusable, check_document, compile_schema
from tonsurance.config.sources import SourceFiles
from tonsurance.config.state import ConfigState, build_state
from tonsurance.config.yamlread import YamlProblem, read_yaml


@dataclass
class ValidationResult:
    """Problems refuse the configuration; warnings are reported but refuse nothing."""

    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    documents: dict[str, Any] = field(default_factory=dict)
    state: ConfigState | None = None

    @property
    def ok(self) -> bool:
        return not self.problems and self.state is not None


def _file_problems(sources: SourceFiles) -> list[Problem]:
    problems: list[Problem] = []
    expected = set(CONFIG_FILES.values())
    known_names = ", ".join(sorted(p.rsplit("/", 1)[-1] for p in expected))
    for path in sorted(sources.files):
        if path.startswith(CONFIG_DIR + "/") and path not in expected:
            problems.append(
                Problem(
                    path, 1, 1, "(file)", f"unknown file in config/; expected only {known_names}"
                )
            )
        if path.startswith(SCHEMA_DIR + "/") and not path.endswith(".json"):
            problems.append(
                Problem(path, 1, 1, "(file)", "unknown file in schemas/; schemas are *.schema.json")
            )
    rejected = {p.file for p in sources.problems}
    for path in sorted(expected):
        if path not in sources.files and path not in rejected:
            problems.append(Problem(path, 1, 1, "(file)", "missing file"))
    return problems


def validate_sources(sources: SourceFiles, today: dt.date | None = None) -> ValidationResult:
    """Check every config file against its schema and the business rules; build rows if clean.

    Date rules judge against `today`, else the sources' own date (a commit's committer date),
    else the current UTC date."""
    result = ValidationResult(problems=list(sources.problems) + _file_problems(sources))
    positions: dict[str, Positions] = {}
    schemas: dict[str, Mapping[str, Any]] = {}
    valid: dict[str, Any] = {}
    clean = True
    for name, path in CONFIG_FILES.items():
        data = sources.files.get(path)
        if data is None:
            clean = False
            continue
        spath = schema_path(path)
        schema_bytes = sources.files.get(spath)
        if schema_bytes is None:
            result.problems.append(Problem(spath, 1, 1, "(file)", f"missing schema for {path}"))
            clean = False
            continue
        try:
            validator = compile_schema(schema_bytes, spath)
            document, where = read_yaml(data, path)
        except (SchemaUnusable, YamlProblem) as exc:
            result.problems.append(exc.problem)
            clean = False
            continue
        try:
            found = check_document(validator, document, where)
        except Unresolvable as exc:
            found = [
                Problem(
                    spath,
                    1,
                    1,
                    "(schema)",
                    f"$ref {exc.ref!r} cannot be resolved; schemas must be local",
                )
            ]
        result.problems.extend(found)
        clean = clean and not found
        if not found:
            valid[name] = document
        result.documents[name] = document
        positions[name] = where
        schemas[name] = validator.schema if isinstance(validator.schema, Mapping) else {}
    day = today or sources.as_of
    if clean and not result.problems:
        result.problems.extend(check_rules(result.documents, positions, day))
    result.warnings.extend(check_warnings(valid, positions, day))
    if not result.problems:
        result.state = build_state(result.documents, schemas)
    return result
