"""The unit of a parameter, read from the wording of its description.

The schemas describe every parameter in a sentence that names its unit ("in USD", "as a
fraction", "in percent", "(days)"); the database keeps that sentence. The first phrase found
below gives the unit; a description naming none gives "".
"""

from __future__ import annotations

import re

_PHRASES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), unit)
    for pattern, unit in (
        (r"\bin USD per coin\b", "USD/coin"),
        (r"\bprice in USD\b", "USD/coin"),
        (r"\bin USD\b", "USD"),
        (r"\bin percent\b", "%"),
        (r"\bfraction per year\b", "fraction/year"),
        (r"\bfraction of coverage per year\b", "fraction/year"),
        (r"\bin years\b", "years"),
        (r"\bin days\b|\(days\)", "days"),
        (r"\bin hours\b", "hours"),
        (r"\(count\)", "count"),
        (r"\bas a multiple\b|\bmultiple of\b|^Factor\b", "×"),
        (r"^Weight\b", "weight"),
        (r"\bas a fraction\b|\bfraction\b", "fraction"),
        (r"\bdimensionless\b", "—"),
    )
)


def unit_of(description: str) -> str:
    """The unit named by `description`, or "" when it names none."""
    for pattern, unit in _PHRASES:
        if pattern.search(description):
            return unit
    return ""
