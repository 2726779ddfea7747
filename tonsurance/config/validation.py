"""Validate one configuration end to end: files, YAML, schemas, business rules, then rows.

Bad input is data, not an exception: every problem of every file is collected in one pass.
The base files are parsed and schema-checked once (`parse_sources`); `conclude` then runs the
business rules and builds the rows, for the base or for an environment merged onto it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tonsurance.config.layout import (
    CONFIG_DIR,
    CONFIG_FILES,
    ENVIRONMENT_FILES,
    SCHEMA_DIR,
    is_environment_file,
    schema_path,
)
from tonsurance.config.problems import Positions, Problem
from tonsurance.config.rules import check_rules, check_warnings
from tonsurance.config.filecheck import check_file
from tonsurance.config.schemacheck import SchemaUnusable, compile_schema
from tonsurance.config.sources import SourceFiles
from tonsurance.config.state import ConfigState, build_state


@dataclass
class ValidationResult:
    """Problems refuse the configuration; warnings are reported but refuse nothing.

    `environment` names the environment this is the rendering of; None for the base alone."""

    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    documents: dict[str, Any] = field(default_factory=dict)
    state: ConfigState | None = None
    environment: str | None = None

    @property
    def ok(self) -> bool:
        return not self.problems and self.state is not None


@dataclass
class ParsedConfig:
    """The base files read and checked against their schemas: where every environment starts."""

    problems: list[Problem] = field(default_factory=list)
    documents: dict[str, Any] = field(default_factory=dict)
    positions: dict[str, Positions] = field(default_factory=dict)
    validators: dict[str, Any] = field(default_factory=dict)
    valid: dict[str, Any] = field(default_factory=dict)
    clean: bool = True
    as_of: dt.date | None = None

    def schemas(self) -> dict[str, Mapping[str, Any]]:
        return {
            name: v.schema if isinstance(v.schema, Mapping) else {}
            for name, v in self.validators.items()
        }


def _file_problems(sources: SourceFiles) -> list[Problem]:
    problems: list[Problem] = []
    expected = set(CONFIG_FILES.values())
    known_names = ", ".join(sorted(p.rsplit("/", 1)[-1] for p in expected))
    for path in sorted(sources.files):
        if path.startswith(CONFIG_DIR + "/") and path not in expected:
            if is_environment_file(path):
                continue
            problems.append(
                Problem(
                    path,
                    1,
                    1,
                    "(file)",
                    f"unknown file in config/; expected only {known_names},"
                    f" {ENVIRONMENT_FILES} and overlays in {CONFIG_DIR}/environments/",
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


def parse_sources(sources: SourceFiles) -> ParsedConfig:
    """Read every base config file and check it against its schema."""
    parsed = ParsedConfig(
        problems=list(sources.problems) + _file_problems(sources), as_of=sources.as_of
    )
    for name, path in CONFIG_FILES.items():
        data = sources.files.get(path)
        if data is None:
            parsed.clean = False
            continue
        spath = schema_path(path)
        schema_bytes = sources.files.get(spath)
        if schema_bytes is None:
            parsed.problems.append(Problem(spath, 1, 1, "(file)", f"missing schema for {path}"))
            parsed.clean = False
            continue
        try:
            validator = compile_schema(schema_bytes, spath)
        except SchemaUnusable as exc:
            parsed.problems.append(exc.problem)
            parsed.clean = False
            continue
        checked = check_file(data, path, spath, schema_bytes, validator)
        parsed.problems.extend(checked.problems)
        if not checked.readable:
            parsed.clean = False
            continue
        parsed.clean = parsed.clean and not checked.problems
        if not checked.problems:
            parsed.valid[name] = checked.document
        parsed.documents[name] = checked.document
        parsed.positions[name] = checked.positions
        parsed.validators[name] = validator
    return parsed


def conclude(
    parsed: ParsedConfig,
    documents: Mapping[str, Any],
    positions: Mapping[str, Positions],
    problems: list[Problem],
    valid: Mapping[str, Any],
    today: dt.date | None = None,
) -> ValidationResult:
    """Business rules and warnings over schema-checked documents, then the rows if all is clean."""
    result = ValidationResult(problems=list(problems), documents=dict(documents))
    day = today or parsed.as_of
    if parsed.clean and not result.problems:
        result.problems.extend(check_rules(documents, positions, day))
    result.warnings.extend(check_warnings(valid, positions, day))
    if not result.problems:
        result.state = build_state(documents, parsed.schemas())
    return result


def validate_sources(sources: SourceFiles, today: dt.date | None = None) -> ValidationResult:
    """Check every base config file against its schema and the business rules; build rows if clean.

    Date rules judge against `today`, else the sources' own date (a commit's committer date),
    else the current UTC date."""
    parsed = parse_sources(sources)
    return conclude(
        parsed, parsed.documents, parsed.positions, parsed.problems, parsed.valid, today
    )
