"""JSON Schema (draft 2020-12) checking, with each error placed on the line of the value at fault.

Schemas are compiled once per distinct content and never fetch a remote `$ref`.

JSON Schema regular expressions are ECMA 262 ones, where `$` matches only at the very end of the
text. The jsonschema library evaluates `pattern`, `patternProperties` and `additionalProperties`
with Python's `re.search`, where `$` also matches before a final newline; those three keywords
are evaluated here with an ECMA engine instead (tonsurance.config.ecma).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

import jsonschema
import regress
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError, ValidationError
from jsonschema.protocols import Validator
from referencing.exceptions import Unresolvable

from tonsurance.config.ecma import ecma_regex, ecma_search
from tonsurance.config.problems import Path, Positions, Problem

_MAX_MESSAGE = 200


def _pattern(validator: Validator, pattern: str, instance: Any, schema: Any) -> Iterator[Any]:
    if validator.is_type(instance, "string") and not ecma_search(pattern, instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


def _pattern_properties(
    validator: Validator, patterns: dict[str, Any], instance: Any, schema: Any
) -> Iterator[Any]:
    if not validator.is_type(instance, "object"):
        return
    for pattern, subschema in patterns.items():
        for key, value in instance.items():
            if ecma_search(pattern, key):
                yield from validator.descend(value, subschema, path=key, schema_path=pattern)


def additional_keys(instance: dict[str, Any], schema: Any) -> list[str]:
    """Keys of `instance` that neither `properties` nor `patternProperties` of `schema` cover."""
    known = schema.get("properties", {}) if isinstance(schema, dict) else {}
    patterns = list(schema.get("patternProperties", {})) if isinstance(schema, dict) else []
    return [
        key
        for key in instance
        if key not in known and not any(ecma_search(p, key) for p in patterns)
    ]


def _additional_properties(
    validator: Validator, additional: Any, instance: Any, schema: Any
) -> Iterator[Any]:
    if not validator.is_type(instance, "object"):
        return
    extras = additional_keys(instance, schema)
    if validator.is_type(additional, "object"):
        for key in extras:
            yield from validator.descend(instance[key], additional, path=key)
    elif not additional and extras:
        listed = ", ".join(repr(key) for key in sorted(extras))
        yield ValidationError(f"Additional properties are not allowed ({listed} unexpected)")


EcmaValidator = jsonschema.validators.extend(
    Draft202012Validator,
    {
        "pattern": _pattern,
        "patternProperties": _pattern_properties,
        "additionalProperties": _additional_properties,
    },
)
_compiled: dict[str, Any] = {}


def _patterns(node: Any) -> Iterator[str]:
    if isinstance(node, list):
        for item in node:
            yield from _patterns(item)
    elif isinstance(node, dict):
        if isinstance(node.get("pattern"), str):
            yield node["pattern"]
        patterns = node.get("patternProperties")
        if isinstance(patterns, dict):
            yield from patterns
        for value in node.values():
            yield from _patterns(value)


class SchemaUnusable(Exception):
    def __init__(self, problem: Problem) -> None:
        super().__init__(str(problem))
        self.problem = problem


def compile_schema(data: bytes, file: str) -> Any:
    """Parse and check a schema against the metaschema; cached by content."""
    digest = hashlib.sha256(data).hexdigest()
    cached = _compiled.get(digest)
    if cached is not None:
        return cached
    try:
        schema = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        line = getattr(exc, "lineno", 1)
        col = getattr(exc, "colno", 1)
        raise SchemaUnusable(Problem(file, line, col, "(schema)", f"invalid JSON: {exc}")) from None
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        where = "/".join(str(p) for p in exc.absolute_path) or "(schema)"
        raise SchemaUnusable(Problem(file, 1, 1, where, f"invalid schema: {exc.message}")) from None
    for pattern in _patterns(schema):
        try:
            ecma_regex(pattern)
        except regress.RegressError as exc:
            raise SchemaUnusable(
                Problem(file, 1, 1, "(schema)", f"invalid pattern {pattern!r}: {exc}")
            ) from None
    validator = EcmaValidator(
        inline_local_refs(schema), format_checker=Draft202012Validator.FORMAT_CHECKER
    )
    _compiled[digest] = validator
    return validator


_fast: dict[int, tuple[Any, Any]] = {}


def fast_validator(validator: Any) -> Any | None:
    """The compiled (Rust) validator of the same schema, for a quick yes or no; None when it
    cannot compile the schema. Its verdicts are those of `validator` (a test holds them to it);
    the error messages and positions always come from `validator`."""
    cached = _fast.get(id(validator))
    if cached is not None and cached[0] is validator:
        return cached[1]
    import jsonschema_rs  # only large files need it; importing it costs about 0.1 s

    try:
        fast = jsonschema_rs.Draft202012Validator(
            validator.schema, validate_formats=True, ignore_unknown_formats=False, offline=True
        )
    except (ValueError, jsonschema_rs.ValidationError, jsonschema_rs.ReferencingError):
        fast = None
    _fast[id(validator)] = (validator, fast)
    return fast


_ANNOTATIONS = frozenset({"description", "title", "examples", "default", "$comment"})


def inline_local_refs(schema: Any) -> Any:
    """The schema with each `{"$ref": "#/$defs/..."}` replaced by its target, siblings merged.

    Resolving a `$ref` costs more than checking the value it points at; a 100k-value file
    resolves it 100k times. Inlining gives the same verdicts: a sibling that would collide with
    a validation keyword of the target keeps its `$ref` as written.
    """
    root = schema

    def target(ref: str) -> Any:
        node: Any = root
        for part in ref[2:].split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        return node

    def walk(node: Any, depth: int) -> Any:
        if isinstance(node, list):
            return [walk(item, depth) for item in node]
        if not isinstance(node, dict):
            return node
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/") and depth < 32:
            resolved = walk(target(ref), depth + 1)
            siblings = {k: v for k, v in node.items() if k != "$ref"}
            clash = set(siblings) & set(resolved) - _ANNOTATIONS
            if isinstance(resolved, dict) and not clash:
                return {**resolved, **{k: walk(v, depth) for k, v in siblings.items()}}
        return {k: walk(v, depth) for k, v in node.items()}

    return walk(schema, 0)


def _unexpected_keys(error: ValidationError) -> list[str]:
    instance = error.instance if isinstance(error.instance, dict) else {}
    return additional_keys(instance, error.schema)


def _shorten(message: str) -> str:
    return message if len(message) <= _MAX_MESSAGE else message[: _MAX_MESSAGE - 3] + "..."


def schema_problems(validator: Any, document: Any, where: Positions, spath: str) -> list[Problem]:
    """Every schema error of one document; an unresolvable `$ref` is one problem of the schema."""
    try:
        return check_document(validator, document, where)
    except Unresolvable as exc:
        message = f"$ref {exc.ref!r} cannot be resolved; schemas must be local"
        return [Problem(spath, 1, 1, "(schema)", message)]


def check_document(validator: Any, document: Any, positions: Positions) -> list[Problem]:
    """Every schema error of one document, each at the position of the value it concerns."""
    problems: list[Problem] = []
    for error in validator.iter_errors(document):
        path: Path = tuple(error.absolute_path)
        if error.validator in ("additionalProperties", "unevaluatedProperties"):
            keys = _unexpected_keys(error) or ["?"]
            for key in keys:
                problems.append(positions.problem(path + (key,), "unknown key", key=True))
            continue
        if error.validator == "propertyNames":
            problems.append(positions.problem(path, _shorten(error.message), key=True))
            continue
        problems.append(positions.problem(path, _shorten(error.message)))
    unique = list(dict.fromkeys(problems))
    unique.sort(key=lambda p: (p.line, p.column))
    return unique


__all__ = [
    "SchemaUnusable",
    "check_document",
    "compile_schema",
    "fast_validator",
    "jsonschema",
    "schema_problems",
]
