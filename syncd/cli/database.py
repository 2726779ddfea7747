"""`syncd migrate`, `apply`, `status` and `history`: the commands that read or write one database."""

from __future__ import annotations

import click

from syncd.cli.options import PROG, dsn_option, repo_option
from syncd.errors import PlanRefused


@click.command()
@dsn_option
def migrate(dsn: str | None) -> None:
    """Apply the pending database migrations, each once, in order."""
    from syncd.sync.migrate import migrate as run_migrate

    result = run_migrate(dsn)
    click.echo(result.message)


@click.command()
@repo_option
@click.option("--commit", default="HEAD", show_default=True, metavar="REV")
@dsn_option
@click.option("--dry-run", is_flag=True, help="Print the plan and change nothing.")
@click.option("--allow-empty", is_flag=True, help="Allow a commit that removes every parameter.")
def apply(repo: str, commit: str, dsn: str | None, dry_run: bool, allow_empty: bool) -> None:
    """Make the database equal to a commit's configuration, in one transaction."""
    from syncd.render.plan import render_text
    from syncd.sync import pipeline as engine

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


@click.command()
@dsn_option
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
def status(dsn: str | None, fmt: str) -> None:
    """Show the applied commit, the last attempt and any drift."""
    import json

    from syncd.sync.status import read_status, render_status

    current = read_status(dsn)
    click.echo(
        json.dumps(current, indent=2, default=str) if fmt == "json" else render_status(current)
    )


@click.command()
@click.argument("name", metavar="CATEGORY.KEY")
@repo_option
@dsn_option
def history(name: str, repo: str, dsn: str | None) -> None:
    """The life of one value: the commits that changed it and when each reached the database."""
    from syncd.sync.history import history as run_history
    from syncd.sync.history import render_history

    entries, drift = run_history(repo, name, dsn)
    click.echo(render_history(name, entries, drift))
