"""The `syncd` command group: a thin click layer over the library functions that tests call directly.

Errors are handled once, at the boundary (`tonsurance.cli.boundary`): one line `syncd: error: ...`
on stderr and an exit code (0 ok, 1 invalid, 2 usage, 3 unavailable). Each command lives in its
own module and is registered here, so no command module imports this one.
"""

from __future__ import annotations

import logging

import click

from syncd.cli import console, database, environments, review, run, validate, verify
from syncd.cli.options import PROG, ErrorBoundary

log = logging.getLogger("syncd")
log.addHandler(logging.NullHandler())


@click.group(cls=ErrorBoundary)
@click.option("--debug", is_flag=True, help="Print tracebacks of unexpected errors.")
def main(debug: bool) -> None:
    """Sync the configuration in git into PostgreSQL."""


for command in (
    validate.validate,
    database.migrate,
    review.plan,
    database.apply,
    run.run,
    database.status,
    database.history,
    review.revert,
    verify.verify,
    console.console,
    environments.compare,
    environments.promote,
):
    main.add_command(command)


if __name__ == "__main__":
    main(prog_name=PROG)
