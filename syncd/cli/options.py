"""What every `syncd` command shares: the program name, the error boundary and common options."""

from __future__ import annotations

import click

from tonsurance.cli import boundary

PROG = "syncd"


class ErrorBoundary(boundary.ErrorBoundary):
    """The shared error boundary, with `syncd:` before every error line."""

    prog = PROG


dsn_option = click.option(
    "--dsn",
    default=None,
    metavar="DSN",
    help="Database address; default TONSURANCE_DSN, else libpq's PG* variables.",
)

repo_option = click.option(
    "--repo",
    default=".",
    show_default=True,
    metavar="PATH",
    help="The git repository holding config/.",
)


def warn(message: str) -> None:
    """One `syncd: warning: ...` line on stderr."""
    click.echo(f"{PROG}: warning: {message}", err=True)
