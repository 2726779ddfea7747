"""Render and validate an environment: the base with its overlay merged, checked like the base.

The base is parsed and schema-checked once; each environment re-checks only the documents its
overlay touched, then runs the business rules and builds its rows. A problem the overlay caused
points at the overlay: directly where it wrote the value at fault, else (a rule that fails at a
base value once merged) at the override nearest to that value, naming the base place too.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from tonsurance.config.environments import Environments, find_environments
from tonsurance.config.keymap import flatten, value_type_of
from tonsurance.config.layout import CONFIG_FILES, ENVIRONMENT_FILES, TABLE_FILES, schema_path
from tonsurance.config.normal import normal_value
from tonsurance.config.overlay import Merged, merge
from tonsurance.config.problems import Problem, format_path
from tonsurance.config.rules import check_rules, check_warnings, utc_today
from tonsurance.config.schemacheck import fast_validator, schema_problems
from tonsurance.config.sources import SourceFiles
from tonsurance.config.state import (
    ConfigState,
    Parameter,
    ParamKey,
    build_state,
    copy_rows,
    table_rows,
)
from tonsurance.config.validation import ParsedConfig, ValidationResult, conclude, parse_sources

_FILE_NAMES = {path: name for name, path in CONFIG_FILES.items()}


@dataclass
class RepositoryValidation:
    """`syncd validate`: the base, every declared environment, and the overlay files' problems."""

    base: ValidationResult
    environments: dict[str, ValidationResult] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    @property
    def all_problems(self) -> list[Problem]:
        out = list(self.base.problems) + list(self.problems)
        for result in self.environments.values():
            out.extend(result.problems)
        return list(dict.fromkeys(out))

    @property
    def ok(self) -> bool:
        return self.base.ok and not self.all_problems


def _common(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


def _blame(problem: Problem, name: str, merged: Merged) -> Problem:
    """Re-point a problem found in a base file at the overlay line that caused it."""
    tagged = f"in environment {name}: {problem.message}"
    doc = _FILE_NAMES.get(problem.file)
    if doc is None or not merged.overrides:
        return Problem(problem.file, problem.line, problem.column, problem.where, tagged)
    same = [o for o in merged.overrides if o[0] == doc] or merged.overrides
    _, positions, path = max(same, key=lambda o: _common(format_path(o[2]), problem.where))
    line, column = positions.locate(path)
    base_at = f"{problem.file}:{problem.line}:{problem.column}"
    return Problem(
        positions.file,
        line,
        column,
        format_path(path),
        f"{tagged} (at {problem.where}, {base_at}, once merged)",
    )


def _undeclared(name: str, envs: Environments) -> Problem:
    declared = ", ".join(envs.declared) or "none"
    return Problem(
        ENVIRONMENT_FILES,
        1,
        1,
        "environments",
        f"environment {name!r} is not declared (declared: {declared})",
    )


def _schema_problems(validator: Any, merged: Merged, doc: str) -> list[Problem]:
    """A merged document's schema problems; the compiled validator answers first, as for a file."""
    quick = fast_validator(validator)
    document = merged.documents[doc]
    try:
        if quick is not None and quick.is_valid(document):
            return []
    except (ValueError, TypeError, OverflowError):
        pass
    spath = schema_path(CONFIG_FILES[doc])
    return schema_problems(validator, document, merged.positions[doc], spath)


def _environment_state(base: ConfigState, merged: Merged) -> ConfigState:
    """The base's rows with those of the documents the overlay touched rebuilt: untouched
    categories and tables are the base's own, descriptions come from the base."""
    parameters: dict[ParamKey, Parameter] = dict(base.parameters)
    tables = {
        table: table_rows(table, merged.documents[table])
        if table in merged.touched
        else copy_rows(rows)
        for table, rows in base.tables.items()
    }
    for doc in merged.touched:
        if doc in TABLE_FILES:
            continue
        for key, value, _ in flatten(doc, merged.documents[doc]):
            old = base.parameters[(doc, key)]
            value_type = value_type_of(key, value)
            parameters[(doc, key)] = Parameter(
                doc, key, normal_value(value, value_type), value_type, old.description
            )
    return ConfigState(parameters, tables)


_kept: OrderedDict[tuple[Any, ...], tuple[tuple[Any, ...], ValidationResult]] = OrderedDict()
_kept_lock = threading.Lock()
_KEEP = 32


def _fresh(result: ValidationResult) -> ValidationResult:
    """A copy a caller may change without touching the kept one."""
    state = result.state
    if state is not None:
        tables = {table: copy_rows(rows) for table, rows in state.tables.items()}
        state = ConfigState(dict(state.parameters), tables)
    return ValidationResult(
        list(result.problems),
        list(result.warnings),
        dict(result.documents),
        state,
        result.environment,
    )


def render_environment(
    parsed: ParsedConfig,
    envs: Environments,
    name: str,
    today: dt.date | None = None,
    base_state: ConfigState | None = None,
) -> ValidationResult:
    """Environment `name`'s configuration, validated; its problems if the base or overlay fail.

    `base_state`, the rows of a base that passed the rules, saves building them again (and an
    environment without overrides is then the base itself). The verdict is kept while the very
    same base documents and overlay objects are (the file checks keep one object per content),
    so an unchanged configuration is not rendered again."""
    held = (envs, *parsed.documents.values())
    key = (name, today or parsed.as_of or utc_today(), *(id(o) for o in held))
    with _kept_lock:
        hit = _kept.get(key)
        if hit is not None and all(a is b for a, b in zip(hit[0], held)):
            _kept.move_to_end(key)
            return _fresh(hit[1])
    result = _render(parsed, envs, name, today, base_state)
    with _kept_lock:
        _kept[key] = (held, result)
        while len(_kept) > _KEEP:
            _kept.popitem(last=False)
    return _fresh(result)


def _render(
    parsed: ParsedConfig,
    envs: Environments,
    name: str,
    today: dt.date | None,
    base_state: ConfigState | None,
) -> ValidationResult:
    if name not in envs.declared:
        return ValidationResult(problems=[_undeclared(name, envs)], environment=name)
    overlay_files = set(envs.overlay_files.get(name, ()))
    file_problems = [
        p for p in envs.problems if p.file in overlay_files or p.file == ENVIRONMENT_FILES
    ]
    if parsed.problems or file_problems:
        problems = list(parsed.problems) + file_problems
        return ValidationResult(problems=problems, environment=name)
    merged = merge(parsed.documents, parsed.positions, envs.parts(name))
    if base_state is not None and not merged.touched and not merged.problems:
        state = _environment_state(base_state, merged)
        return ValidationResult(documents=dict(merged.documents), state=state, environment=name)
    problems = list(merged.problems)
    valid = dict(parsed.valid)
    for doc in sorted(merged.touched):
        found = _schema_problems(parsed.validators[doc], merged, doc)
        problems.extend(found)
        if found:
            valid.pop(doc, None)
    day = today or parsed.as_of
    result = ValidationResult(problems=problems, documents=dict(merged.documents))
    if not problems:
        result.problems.extend(check_rules(merged.documents, merged.positions, day))
    result.warnings = [
        w for w in check_warnings(valid, merged.positions, day) if w.file in overlay_files
    ]
    if not result.problems:
        if base_state is None:
            base_state = build_state(parsed.documents, parsed.schemas())
        result.state = _environment_state(base_state, merged)
    result.problems = [
        p if p.file in overlay_files else _blame(p, name, merged) for p in result.problems
    ]
    result.environment = name
    return result


def validate_environment(
    sources: SourceFiles, name: str, today: dt.date | None = None
) -> ValidationResult:
    """Environment `name` of `sources`, rendered and validated."""
    return render_environment(parse_sources(sources), find_environments(sources), name, today)


def validate_repository(sources: SourceFiles, today: dt.date | None = None) -> RepositoryValidation:
    """The base and every declared environment of `sources`."""
    parsed = parse_sources(sources)
    envs = find_environments(sources)
    base = conclude(
        parsed, parsed.documents, parsed.positions, parsed.problems, parsed.valid, today
    )
    out = RepositoryValidation(base, problems=list(envs.problems))
    if base.ok and not any(p.file == ENVIRONMENT_FILES for p in envs.problems):
        for name in envs.declared:
            out.environments[name] = render_environment(parsed, envs, name, today, base.state)
    return out
