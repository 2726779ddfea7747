"""The `syncd` command: a thin click layer over the library functions that tests call directly.

Errors are handled once, at the boundary (`tonsurance.cliboundary`): one line `syncd: error: ...`
on stderr and an exit code (0 ok, 1 invalid, 2 usage, 3 unavailable).
To add a subcommand, decorate a function with `@main.command()` and call the library from it.
"""

from __future__ import annotations

import logging

import click

from tonsurance import cliboundary

from syncd.errors import PlanRefused

log = logging.getLogger("syncd")
log.addHandler(logging.NullHandler())

PROG = "syncd"


class ErrorBoundary(cliboundary.ErrorBoundary):
    """The shared error boundary, with `syncd:` before every error line."""

    prog = PROG


dsn_option = click.option(
    "--dsn",
    default=None,
    metavar="DSN",
    help="Database address; default TONSURANCE_DSN, else libpq's PG* variables.",
)


@click.group(cls=ErrorBoundary)
@click.option("--debug", is_flag=True, help="Print tracebacks of unexpected errors.")
def main(debug: bool) -> None:
    """Sync the configuration in git into PostgreSQL."""


@main.command()
@dsn_option
def migrate(dsn: str | None) -> None:
    """Apply the pending database migrations, each once, in order."""
    from syncd.migrate import migrate as run_migrate

    result = run_migrate(dsn)
    click.echo(result.message)


repo_option = click.option(
    "--repo",
    default=".",
    show_default=True,
    metavar="PATH",
    help="The git repository holding config/.",
)


@main.command()
@repo_option
@click.option(
    "--commit",
    default=None,
    metavar="REV",
    help="Validate this commit's tree instead of the working tree.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "github"]),
    default="text",
    show_default=True,
)
def validate(repo: str, commit: str | None, fmt: str) -> None:
    """Check config/ against its schemas and the business rules."""
    from syncd.report import RENDERERS
    from syncd.validate import validate as run_validate

    result = run_validate(repo, commit)
    click.echo(RENDERERS[fmt](result))
    if not result.ok:
        raise click.exceptions.Exit(1)


@main.command()
@repo_option
@click.option("--commit", default="HEAD", show_default=True, metavar="REV")
@dsn_option
@click.option("--dry-run", is_flag=True, help="Print the plan and change nothing.")
@click.option("--allow-empty", is_flag=True, help="Allow a commit that removes every parameter.")
def apply(repo: str, commit: str, dsn: str | None, dry_run: bool, allow_empty: bool) -> None:
    """Make the database equal to a commit's configuration, in one transaction."""
    from syncd import engine
    from syncd.planview import render_text

    report = engine.apply_commit(repo, commit, dsn, allow_empty=allow_empty, dry_run=dry_run)
    outcome = report.outcome
    short = outcome.commit[:12]
    if report.lineage == "rewritten":
        click.echo(
            f"{PROG}: warning: {short} does not descend from the applied commit {str(outcome.previous)[:12]};"
            " the branch history was rewritten",
            err=True,
        )
    elif report.lineage == "backward":
        click.echo(
            f"{PROG}: warning: {short} is older than the applied commit {str(outcome.previous)[:12]}",
            err=True,
        )
    if outcome.problems:
        for problem in outcome.problems:
            click.echo(str(problem), err=True)
    if outcome.outcome in ("refused", "superseded"):
        raise PlanRefused(f"{short} not applied: {outcome.reason}")
    click.echo(render_text(outcome.diff))
    verb = {
        "applied": "applied",
        "unchanged": "already applied; nothing to change",
        "dry-run": "dry run; nothing changed",
    }
    drift = (
        " (drift in the database was put back)"
        if outcome.drift and outcome.outcome == "applied"
        else ""
    )
    click.echo(f"{short}: {verb.get(outcome.outcome, outcome.outcome)}{drift}")


@main.command()
@dsn_option
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
def status(dsn: str | None, fmt: str) -> None:
    """Show the applied commit, the last attempt and any drift."""
    import json

    from syncd.status import read_status, render_status

    current = read_status(dsn)
    click.echo(
        json.dumps(current, indent=2, default=str) if fmt == "json" else render_status(current)
    )


@main.command()
@click.argument("name", metavar="CATEGORY.KEY")
@repo_option
@dsn_option
def history(name: str, repo: str, dsn: str | None) -> None:
    """The life of one value: the commits that changed it and when each reached the database."""
    from syncd.history import history as run_history
    from syncd.history import render_history

    entries, drift = run_history(repo, name, dsn)
    click.echo(render_history(name, entries, drift))


from syncd import cli_review, cli_run  # noqa: E402,F401  (registers plan, revert and run)

if __name__ == "__main__":
    # Run as `python -m syncd.cli`, this file is `__main__`; the imported `syncd.cli` is the
    # module the command modules registered their commands on.
    from syncd.cli import main as registered_main

    registered_main(prog_name=PROG)
