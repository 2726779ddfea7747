"""The command-line boundary of both commands (`syncd`, `tonsurance`): the one place where errors
become one line on stderr and an exit code (0 ok, 1 invalid, 2 usage, 3 unavailable).

A TonsuranceError prints its own sentence; a database error a user can act on gets a sentence
that says what to do; anything unexpected is one line and exit 1, with the traceback in the log
and on stderr only under `--debug`. Messages pass through
`tonsurance.redaction.scrub`: no password this process was given is ever printed.
"""

from __future__ import annotations

import logging
import sys
import traceback
from typing import Any, NoReturn

import click

from tonsurance.db import no_tables
from tonsurance.errors import TonsuranceError
from tonsurance.redaction import scrub


def one_line(exc: BaseException) -> str:
    """The error's message on one line, with any password in it replaced by ***."""
    return scrub(str(exc))


DSN_META = "tonsurance.dsn"


def remember_dsn(ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    """Callback of every `--dsn` option: keeps the address for the error messages below."""
    ctx.meta[DSN_META] = value
    return value


def database_problem(exc: BaseException, dsn: str | None = None) -> str | None:
    """A sentence for database errors a user can act on; psycopg is only looked at when loaded."""
    psycopg = sys.modules.get("psycopg")
    if psycopg is None:
        return None
    if isinstance(exc, psycopg.errors.UndefinedTable):
        return no_tables(dsn)
    if isinstance(exc, psycopg.OperationalError):
        return f"lost the database connection: {one_line(exc)}"
    return None


class ErrorBoundary(click.Group):
    """A click group that turns every error of its subcommands into one line and an exit code.

    Subclasses name their program in `prog`, which prefixes every line.
    """

    prog = "tonsurance"

    def fail(self, message: str, exit_code: int) -> NoReturn:
        click.echo(f"{self.prog}: error: {scrub(message)}", err=True)
        raise click.exceptions.Exit(exit_code)

    def invoke(self, ctx: click.Context) -> Any:
        log = logging.getLogger(self.prog)
        try:
            return super().invoke(ctx)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except TonsuranceError as exc:
            log.debug("command failed", exc_info=True)
            self.fail(str(exc), exc.exit_code)
        except Exception as exc:
            problem = database_problem(exc, ctx.meta.get(DSN_META))
            if problem is not None:
                log.debug("database error", exc_info=True)
                self.fail(problem, 3)
            log.error("unexpected error in %s", ctx.invoked_subcommand, exc_info=True)
            if ctx.params.get("debug"):
                traceback.print_exc()
            self.fail(f"unexpected {type(exc).__name__}: {one_line(exc)}", 1)
