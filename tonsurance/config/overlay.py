"""Merge an environment's overlay onto the base documents, deterministically.

The rules (README, "Environments"):
- a mapping merges key by key, recursively; a single value replaces the base's value;
- every key of an overlay must exist in the base at the same place (a typo never creates a
  parameter), and a mapping may only replace a mapping, a single value only a single value;
- in the tables (`events`, `scenarios`) rows are matched by `id`: a row with the id of a base row
  replaces that whole row where it stands, a row with a new id is added after the base rows (in
  the overlay's order), and `{id: ..., $remove: true}` removes the base row with that id.

The merged documents share every part the overlay does not touch with the base. Positions of the
merged documents point into the overlay for what it wrote and into the base for the rest.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tonsurance.config.environments import OverlayPart
from tonsurance.config.keymap import TABLE_LIST_KEY
from tonsurance.config.layout import CONFIG_FILES
from tonsurance.config.problems import Path, Positions, Problem, format_path

REMOVE_MARKER = "$remove"


class LayeredPositions(Positions):
    """Positions of a merged document: each path resolves to the file that wrote it.

    `owners` maps a path of the merged document to (positions, path in that file); the longest
    owned prefix of a path decides, else the base document's own positions."""

    __slots__ = ("base", "owners")

    def __init__(self, base: Positions, owners: Mapping[Path, tuple[Positions, Path]]) -> None:
        super().__init__(base.file)
        self.base = base
        self.owners = owners

    def source(self, path: Path) -> tuple[Positions, Path]:
        probe = tuple(path)
        while True:
            hit = self.owners.get(probe)
            if hit is not None:
                return hit[0], hit[1] + tuple(path)[len(probe) :]
            if not probe:
                return self.base, tuple(path)
            probe = probe[:-1]

    def locate(self, path: Path, *, key: bool = False) -> tuple[int, int]:
        positions, inner = self.source(path)
        return positions.locate(inner, key=key)

    def problem(self, path: Path, message: str, *, key: bool = False) -> Problem:
        positions, inner = self.source(path)
        line, column = positions.locate(inner, key=key)
        return Problem(positions.file, line, column, format_path(inner), message)


@dataclass
class Merged:
    """One environment's documents, their positions, and what the overlay itself got wrong."""

    documents: dict[str, Any]
    positions: dict[str, Positions]
    touched: set[str] = field(default_factory=set)
    overrides: list[tuple[str, Positions, Path]] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def _kind(value: Any) -> str:
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return "a single value"


class _Merger:
    def __init__(self, part: OverlayPart, base_file: str, base_positions: Positions) -> None:
        self.part = part
        self.base_positions = base_positions
        self.base_file = base_file
        self.owners: dict[Path, tuple[Positions, Path]] = {}
        self.overrides: list[Path] = []
        self.problems: list[Problem] = []

    def here(self, path: Path) -> Path:
        return self.part.prefix + path

    def fail(self, path: Path, message: str, *, key: bool = False) -> None:
        self.problems.append(self.part.positions.problem(self.here(path), message, key=key))

    def own(self, merged: Path, inner: Path) -> None:
        self.owners[merged] = (self.part.positions, self.here(inner))
        self.overrides.append(self.here(inner))

    def mapping(self, base: Mapping[str, Any], over: Any, path: Path) -> Any:
        if not isinstance(over, Mapping):
            self.fail(path, f"is {_kind(over)}; the base has a mapping here ({self.base_file})")
            return base
        out = dict(base)
        for key, value in over.items():
            at = path + (key,)
            if key not in base:
                self.fail(
                    at,
                    f"unknown key: {self.base_file} has no {format_path(at)}; an overlay can only"
                    " change what the base defines",
                    key=True,
                )
            elif isinstance(base[key], Mapping):
                out[key] = self.mapping(base[key], value, at)
            elif isinstance(value, Mapping) or isinstance(base[key], list) != isinstance(
                value, list
            ):
                self.fail(at, f"is {_kind(value)}; the base has {_kind(base[key])} here")
            else:
                out[key] = value
                self.own(at, at)
        return out

    def table(self, base: Mapping[str, Any], over: Any, list_key: str) -> Any:
        if not isinstance(over, Mapping):
            self.fail((), f"is {_kind(over)}; a table overlay is a mapping with {list_key!r}")
            return base
        for key in over:
            if key != list_key:
                self.fail((key,), f"unknown key: a table overlay holds only {list_key!r}", key=True)
        rows = over.get(list_key)
        if rows is None:
            return base
        if not isinstance(rows, list):
            self.fail((list_key,), f"is {_kind(rows)}; {list_key} is a list of rows")
            return base
        base_rows = base.get(list_key, [])
        index = {row.get("id"): i for i, row in enumerate(base_rows) if isinstance(row, Mapping)}
        merged: list[Any] = list(base_rows)
        sources: list[Path | None] = [None] * len(base_rows)
        removed: set[int] = set()
        seen: dict[Any, int] = {}
        for k, row in enumerate(rows):
            at = (list_key, k)
            row_id = row.get("id") if isinstance(row, Mapping) else None
            if not isinstance(row_id, str):
                self.fail(at, "each overlay row is a mapping with an 'id' (a string)")
                continue
            if row_id in seen:
                self.fail(
                    at + ("id",),
                    f"id {row_id!r} is already in this overlay at {list_key}[{seen[row_id]}]",
                )
                continue
            seen[row_id] = k
            if REMOVE_MARKER in row:
                if row.get(REMOVE_MARKER) is not True or set(row) != {"id", REMOVE_MARKER}:
                    self.fail(at, f"a removal is exactly {{id: ..., {REMOVE_MARKER}: true}}")
                elif row_id not in index:
                    self.fail(
                        at + ("id",), f"cannot remove {row_id!r}: {self.base_file} has no such row"
                    )
                else:
                    removed.add(index[row_id])
                    self.overrides.append(self.here(at))
                continue
            if row_id in index:
                merged[index[row_id]] = row
                sources[index[row_id]] = at
            else:
                merged.append(row)
                sources.append(at)
            self.overrides.append(self.here(at))
        kept = [i for i in range(len(merged)) if i not in removed]
        for new, old in enumerate(kept):
            source = sources[old]
            if source is None:
                self.owners[(list_key, new)] = (self.base_positions, (list_key, old))
            else:
                self.owners[(list_key, new)] = (self.part.positions, self.here(source))
        out = dict(base)
        out[list_key] = [merged[i] for i in kept]
        return out


def merge(
    documents: Mapping[str, Any],
    positions: Mapping[str, Positions],
    parts: list[OverlayPart],
) -> Merged:
    """An environment's documents: `documents` (the base) with its overlay `parts` applied."""
    result = Merged(dict(documents), dict(positions))
    for part in parts:
        base_doc = result.documents.get(part.name)
        base_pos = positions.get(part.name)
        if base_doc is None or base_pos is None:
            continue
        merger = _Merger(part, CONFIG_FILES[part.name], base_pos)
        list_key = TABLE_LIST_KEY.get(part.name)
        if list_key is None:
            merged = merger.mapping(base_doc, part.document, ())
        else:
            merged = merger.table(base_doc, part.document, list_key)
        result.problems.extend(merger.problems)
        if merger.overrides:
            result.touched.add(part.name)
            result.documents[part.name] = merged
            result.positions[part.name] = LayeredPositions(base_pos, merger.owners)
            result.overrides.extend((part.name, part.positions, p) for p in merger.overrides)
    return result
