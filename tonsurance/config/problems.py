"""Validation findings as data: each one names a file, a line, a column and the value's path."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Path = tuple[str | int, ...]


def format_path(path: Path) -> str:
    """`('events', 3, 'low_price')` -> `events[3].low_price`; a key that does not print as
    itself (a control character, say) is shown quoted and escaped, `base_rates['USDC\\n']`."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif not part.isprintable():
            out += f"[{part!r}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(document)"


@dataclass(frozen=True, slots=True)
class Problem:
    file: str
    line: int
    column: int
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.where}: {self.message}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "path": self.where,
            "message": self.message,
        }


class Positions:
    """Where each value (and each mapping key) of one YAML document starts, 1-based.

    `load`, when given, reads them the first time a position is asked for: a file that passed
    every check never needs them, and reading them costs more than the check."""

    __slots__ = ("file", "values", "keys", "_load")

    def __init__(self, file: str, load: Callable[[], Positions] | None = None) -> None:
        self.file = file
        self.values: dict[Path, tuple[int, int]] = {}
        self.keys: dict[Path, tuple[int, int]] = {}
        self._load = load

    def _loaded(self) -> None:
        load = self._load
        if load is not None:
            found = load()
            self.values, self.keys = found.values, found.keys
            self._load = None

    def locate(self, path: Path, *, key: bool = False) -> tuple[int, int]:
        """The position of `path`, or of its nearest ancestor that has one."""
        if self._load is not None:
            self._loaded()
        table = self.keys if key else self.values
        probe = tuple(path)
        while probe:
            if probe in table:
                return table[probe]
            if probe in self.values:
                return self.values[probe]
            probe = probe[:-1]
        return self.values.get((), (1, 1))

    def problem(self, path: Path, message: str, *, key: bool = False) -> Problem:
        line, column = self.locate(path, key=key)
        return Problem(self.file, line, column, format_path(path), message)
