"""`syncd migrate`, `apply`, `status` and `history`: the commands that read or write one database."""

from __future__ import annotations

from pathlib import Path

import click

from syncd.cli.options import (
    dsn_option,
    environment_option,
    gate_from,
    repo_option,
    trust_options,
    warn,
)
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
@click.option(
    "--lock-timeout",
    type=click.FloatRange(min=0.1),
    default=30.0,
    show_default=True,
    metavar="SECONDS",
    help="Give up (exit 3, nothing written) after waiting this long for a lock.",
)
@trust_options
@environment_option
def apply(
    repo: str,
    commit: str,
    dsn: str | None,
    dry_run: bool,
    allow_empty: bool,
    verify_signatures: bool,
    allowed_signers: Path | None,
    gpg_keyring: Path | None,
    guardrails: bool | None,
    lock_timeout: float,
    environment: str,
) -> None:
    """Make the database equal to a commit's configuration of one environment, in one transaction."""
    from syncd.render import apply as view
    from syncd.sync.outcomes import Outcome
    from syncd.sync.pipeline import apply_commit

    gate = gate_from(verify_signatures, allowed_signers, gpg_keyring, guardrails, repo)
    report = apply_commit(
        repo,
        commit,
        dsn,
        allow_empty=allow_empty,
        dry_run=dry_run,
        gate=gate,
        lock_timeout=lock_timeout,
        environment=environment,
    )
    warning = view.lineage_warning(report)
    if warning:
        warn(warning)
    for problem in report.result.problems:
        click.echo(str(problem), err=True)
    if report.outcome is Outcome.SUPERSEDED:
        click.echo(view.superseded(report))
        return
    if report.outcome is Outcome.REFUSED:
        raise PlanRefused(view.refusal(report))
    click.echo(view.render_applied(report))


@click.command()
@dsn_option
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@environment_option
def status(dsn: str | None, fmt: str, environment: str) -> None:
    """Show the environment, the applied commit, the last attempt and any drift."""
    from syncd.render.status import RENDERERS
    from syncd.sync.status import read_status

    current = read_status(dsn)
    click.echo(RENDERERS[fmt](current))
    if current.environment and current.environment != environment:
        warn(f"this database serves the environment {current.environment!r}, not {environment!r}")


@click.command()
@click.argument("name", metavar="CATEGORY.KEY")
@repo_option
@dsn_option
@environment_option
def history(name: str, repo: str, dsn: str | None, environment: str) -> None:
    """The life of one value in one environment: the commits that changed it and when each
    reached the database."""
    from syncd.sync.history import history as run_history
    from syncd.sync.history import render_history

    entries, drift = run_history(repo, name, dsn, environment)
    click.echo(render_history(name, entries, drift))
