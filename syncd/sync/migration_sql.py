"""What a migration's SQL may contain: no transaction control, checked before anything runs.

`syncd migrate` runs each file inside a transaction of its own and records it in the ledger in
that same transaction. A `COMMIT` (or `BEGIN`, `ROLLBACK`, `SAVEPOINT`, `END`, ...) inside the
file would end that transaction early and leave the file half applied and unrecorded, so such a
file is refused. The SQL is read by PostgreSQL's own parser (pglast, libpg_query): statements
inside strings, comments, dollar-quoted function bodies, `DO` blocks and `BEGIN ATOMIC` bodies
are what they are, never transaction control.
"""

from __future__ import annotations

from pathlib import Path

import pglast
from pglast import ast
from pglast.parser import ParseError


def _place(sql: str, offset: int) -> tuple[int, int]:
    """1-based line and column of a byte offset into `sql`'s UTF-8 text."""
    before = sql.encode()[:offset].decode(errors="replace")
    line = before.count("\n") + 1
    return line, len(before) - (before.rfind("\n") + 1) + 1


def transaction_control_problem(path: Path | str, sql: str) -> str | None:
    """A one-line `file:line:col: ...` problem when `sql` cannot run inside one transaction."""
    try:
        statements = pglast.parse_sql(sql)
    except ParseError as exc:
        message, offset = (exc.args + (0,))[:2]
        line, col = _place(sql, int(offset))
        return f"{path}:{line}:{col}: {message}; the file is not valid SQL"
    for raw in statements:
        if isinstance(raw.stmt, ast.TransactionStmt):
            start = raw.stmt_location or 0
            line, col = _place(sql, start)
            text = sql.encode()[start : start + (raw.stmt_len or 20)].decode(errors="replace")
            words = " ".join(text.split()[:3])
            return (
                f"{path}:{line}:{col}: {words!r} is transaction control; syncd runs each"
                " migration in one transaction of its own, so remove it"
            )
    return None
