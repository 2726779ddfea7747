"""Reporters for validation results: plain text, JSON, and GitHub workflow annotations."""

from __future__ import annotations

import json
from collections.abc import Callable

from tonsurance.config.problems import Problem
from tonsurance.config.render import RepositoryValidation
from tonsurance.config.validation import ValidationResult

Result = ValidationResult | RepositoryValidation


def _one(result: Result) -> tuple[ValidationResult, dict[str, ValidationResult]]:
    """A repository's validation as one result (every problem and warning) and its environments."""
    if isinstance(result, ValidationResult):
        return result, {}
    warnings = list(result.base.warnings)
    for env in result.environments.values():
        warnings.extend(env.warnings)
    merged = ValidationResult(
        problems=result.all_problems,
        warnings=list(dict.fromkeys(warnings)),
        state=result.base.state,
    )
    return merged, result.environments


def _counts(result: ValidationResult) -> dict[str, int]:
    state = result.state
    if state is None:
        return {}
    counts: dict[str, int] = {"parameters": len(state.parameters)}
    counts.update({table: len(rows) for table, rows in state.tables.items()})
    return counts


def _warning_count(result: ValidationResult) -> str:
    n = len(result.warnings)
    return f" ({n} warning{'s' if n != 1 else ''})" if n else ""


def _summary(result: ValidationResult, envs: dict[str, ValidationResult] | None = None) -> str:
    if result.ok:
        counts = _counts(result)
        detail = ", ".join(f"{n} {name.replace('_', ' ')}" for name, n in counts.items())
        shown = f"; environments {', '.join(envs)}" if envs else ""
        return f"ok: {detail}{shown}{_warning_count(result)}"
    files = len({p.file for p in result.problems})
    noun = "problem" if len(result.problems) == 1 else "problems"
    in_files = f"in {files} file{'s' if files != 1 else ''}"
    return f"{len(result.problems)} {noun} {in_files}{_warning_count(result)}"


def warning_line(warning: Problem) -> str:
    """`file:line:col: warning: path: message`."""
    where = f"{warning.file}:{warning.line}:{warning.column}"
    return f"{where}: warning: {warning.where}: {warning.message}"


def render_text(given: Result) -> str:
    result, envs = _one(given)
    lines = [str(p) for p in result.problems]
    lines.extend(warning_line(w) for w in result.warnings)
    lines.append(_summary(result, envs))
    return "\n".join(lines)


def render_json(given: Result) -> str:
    result, envs = _one(given)
    return json.dumps(
        {
            "ok": result.ok,
            "problems": [p.as_dict() for p in result.problems],
            "warnings": [w.as_dict() for w in result.warnings],
            "counts": _counts(result),
            "environments": {
                name: {"ok": env.ok, "counts": _counts(env)} for name, env in envs.items()
            },
        },
        indent=2,
    )


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def github_annotation(problem: Problem, level: str = "error") -> str:
    """`::error file=…,line=…,col=…,title=…::message` (or `::warning …`)."""
    props = (
        f"file={_escape_property(problem.file)},line={problem.line},col={problem.column},"
        f"title={_escape_property(problem.where)}"
    )
    return f"::{level} {props}::{_escape_data(problem.where + ': ' + problem.message)}"


def render_github(given: Result) -> str:
    result, envs = _one(given)
    lines = [github_annotation(p) for p in result.problems]
    lines.extend(github_annotation(w, "warning") for w in result.warnings)
    lines.append(_summary(result, envs))
    return "\n".join(lines)


RENDERERS: dict[str, Callable[[Result], str]] = {
    "text": render_text,
    "json": render_json,
    "github": render_github,
}
