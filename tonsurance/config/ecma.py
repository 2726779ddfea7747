"""JSON Schema's regular expressions, evaluated as the specification says: ECMA 262.

In ECMA 262, `$` matches only at the very end of the text. Python's `re` also lets `$` match
before a final newline, so with `re.search` the pattern `^[a-z]+$` passes `"abc\n"`, a key that
a database check written `'^[a-z]+$'` then refuses. Every schema pattern goes through here.
"""

from __future__ import annotations

import functools

import regress


@functools.lru_cache(maxsize=1024)
def ecma_regex(pattern: str) -> regress.Regex:
    """The compiled pattern; raises regress.RegressError when it is not a valid ECMA regex."""
    return regress.Regex(pattern)


def ecma_search(pattern: str, text: str) -> bool:
    """Whether `pattern` matches anywhere in `text`, as JSON Schema's `pattern` keyword asks."""
    return ecma_regex(pattern).find(text) is not None
