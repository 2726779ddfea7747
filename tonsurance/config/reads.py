"""The loader's reads: typed accessors over the current view.

`ConfigLoader` inherits these. Each read looks at `self._view` (or `self.snapshot`) once and
takes no lock; a hit costs one dict lookup and one `next()` on the hit counter. A miss, or a key
of another type, gives the caller's default, counts a miss and warns once, also without a lock: a
missing key once per key (its reads are counted per key), a key of another type once per key and
type.
"""

from __future__ import annotations

import copy
import itertools
import logging
from typing import Any, TypeVar

from tonsurance.config.model import Snapshot
from tonsurance.config.stats import Counters, MissingKeys
from tonsurance.config.typed import TypedView

log = logging.getLogger("tonsurance.config")

_MISSING: Any = object()
T = TypeVar("T")


class TypedReads:
    """Typed reads of the current configuration, each falling back to the caller's default."""

    snapshot: Snapshot
    _view: TypedView
    _ticks: itertools.count[int]
    _counters: Counters
    _missing: MissingKeys
    _warned: dict[tuple[str, str, str], object]

    def get_float(self, category: str, key: str, default: float) -> float:
        """A float (or int) parameter as a float; the default when missing or of another type."""
        value = self._view.floats.get((category, key))
        if value is None:
            return self._fallback(category, key, default, "float")
        next(self._ticks)
        return value

    def get_int(self, category: str, key: str, default: int) -> int:
        """An int parameter; the default when missing or of another type."""
        value = self._view.ints.get((category, key))
        if value is None:
            return self._fallback(category, key, default, "int")
        next(self._ticks)
        return value

    def get_str(self, category: str, key: str, default: str) -> str:
        """A string parameter; the default when missing or of another type."""
        value = self._view.strs.get((category, key))
        if value is None:
            return self._fallback(category, key, default, "string")
        next(self._ticks)
        return value

    get_string = get_str  # the source document's name

    def get_json(self, category: str, key: str, default: Any) -> Any:
        """Any parameter as its JSON value (objects and arrays copied); the default when missing."""
        value = self._view.values.get((category, key), _MISSING)
        if value is _MISSING:
            return self._fallback(category, key, default, "json")
        next(self._ticks)
        return copy.deepcopy(value) if isinstance(value, (dict, list)) else value

    def _fallback(self, category: str, key: str, default: T, wanted: str) -> T:
        self._counters.miss()
        found = self._view.types.get((category, key))
        if found is None:
            if self._missing.count(category, key):
                log.warning(
                    "configuration %s.%s is missing; using the default %r (warned once per key;"
                    " stats()['missing_keys'] counts the reads)",
                    category,
                    key,
                    default,
                )
        elif self._first_time(category, key, wanted):
            log.warning(
                "configuration %s.%s is of type %s, not %s; using the default %r",
                category,
                key,
                found,
                wanted,
                default,
            )
        return default

    def _first_time(self, category: str, key: str, wanted: str) -> bool:
        """True for exactly one caller per key and type, without a lock: `dict.setdefault` is
        atomic, so only the caller whose own token was stored sees it come back."""
        token = object()
        return self._warned.setdefault((category, key, wanted), token) is token
