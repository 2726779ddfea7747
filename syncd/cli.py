"""The `syncd` command: a thin click layer over the library functions that tests call directly.

Errors are handled once, here: a TonsuranceError becomes one line `syncd: error: <message>` on
stderr and its exit code (0 ok, 1 invalid, 2 usage, 3 unavailable); anything unexpected becomes
one line and exit 1, with the traceback on stderr only under `--debug` (and to logging).
To add a subcommand, decorate a function with `@main.command()` and call the library from it.
"""

from __future__ import annotations

import logging
import sys
import traceback
from typing import Any

import click

from syncd.errors import PlanRefused, TonsuranceError, UsageProblem

log = logging.getLogger("syncd")
log.addHandler(logging.NullHandler())

PROG = "syncd"


def fail(message: str, exit_code: int) -> None:
    """Print one error line on stderr and exit with `exit_code`."""
    click.echo(f"{PROG}: error: {message}", err=True)
    raise click.exceptions.Exit(exit_code)


def _database_problem(exc: BaseException) -> str | None:
    """A sentence for database errors a user can act on; psycopg is only looked at when loaded."""
    psycopg = sys.modules.get("psycopg")
    if psycopg is None:
        return None
    if isinstance(exc, psycopg.errors.UndefinedTable):
        return "the database has no tonsurance tables yet; run `syncd migrate` against it first"
    if isinstance(exc, psycopg.OperationalError):
        return f"lost the database connection: {_one_line(exc)}"
    return None


def _one_line(exc: BaseException) -> str:
    from tonsurance.db import redact

    return redact(" ".join(str(exc).split()))


class ErrorBoundary(click.Group):
    """A click group that turns every error of its subcommands into one line and an exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except TonsuranceError as exc:
            log.debug("command failed", exc_info=True)
            fail(str(exc), exc.exit_code)
        except Exception as exc:
            problem = _database_problem(exc)
            if problem is not None:
                log.debug("database error", exc_info=True)
                fail(problem, 3)
            log.exception("unexpected error in %s", ctx.invoked_subcommand)
            if ctx.params.get("debug"):
                traceback.print_exc()
            fail(f"unexpected {type(exc).__name__}: {_one_line(exc)}", 1)
        return None


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
    "--repo", default=".", show_default=True, metavar="PATH", help="The git repository holding config/."
)


@main.command()
@repo_option
@click.option("--commit", default=None, metavar="REV", help="Validate this commit's tree instead of the working tree.")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "github"]), default="text", show_default=True)
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
@click.option("--commit", default=None, metavar="REV", help="Plan this commit against the database (default HEAD).")
@click.option("--base", default=None, metavar="REV", help="Compare two commits without a database: the old side.")
@click.option("--head", default=None, metavar="REV", help="The new side of --base.")
@dsn_option
@click.option("--format", "fmt", type=click.Choice(["text", "json", "markdown"]), default="text", show_default=True)
@click.option("--detailed-exitcode", is_flag=True, help="Exit 0 when nothing changes, 2 when something does.")
@click.option(
    "--guardrails/--no-guardrails", default=None,
    help="Check the change against the review policy's guardrails (default: on with --base/--head).",
)
@click.option(
    "--policy", "policy_path", default=None, metavar="PATH",
    help="Review policy file (default: .github/config-policy.yaml of the base commit).",
)
@click.option("--override", is_flag=True, help="Accept flagged changes (the pull-request label config-override).")
def plan(
    repo: str, commit: str | None, base: str | None, head: str | None, dsn: str | None, fmt: str,
    detailed_exitcode: bool, guardrails: bool | None, policy_path: str | None, override: bool,
) -> None:
    """Show what applying a commit would change; with --base/--head also its impact and guardrails.

    With --detailed-exitcode the codes are terraform's: 0 no change, 1 error, 2 changes, so a
    usage error exits 1 rather than 2 (an unreachable dependency still exits 3).
    """
    try:
        _plan(repo, commit, base, head, dsn, fmt, detailed_exitcode, guardrails, policy_path, override)
    except UsageProblem as exc:
        if detailed_exitcode:
            raise TonsuranceError(str(exc)) from None
        raise


def _plan(
    repo: str, commit: str | None, base: str | None, head: str | None, dsn: str | None, fmt: str,
    detailed_exitcode: bool, guardrails: bool | None, policy_path: str | None, override: bool,
) -> None:
    from syncd import engine
    from syncd.planview import RENDERERS
    from syncd.report import render_text as render_problems

    if base is not None or head is not None:
        if commit is not None or base is None:
            raise UsageProblem("--base and --head go together (head defaults to HEAD), without --commit")
        _plan_review(repo, base, head or "HEAD", fmt, detailed_exitcode, guardrails, policy_path, override)
        return
    if guardrails or policy_path or override:
        raise UsageProblem("--guardrails, --policy and --override judge a change: use them with --base/--head")
    prepared, diff = engine.plan_against_database(repo, commit or "HEAD", dsn)
    if not prepared.validation.ok:
        click.echo(render_problems(prepared.validation), err=True)
        raise click.exceptions.Exit(1)
    click.echo(RENDERERS[fmt](diff))
    if detailed_exitcode and not diff.empty:
        raise click.exceptions.Exit(2)


def _plan_review(
    repo: str, base: str, head: str, fmt: str, detailed_exitcode: bool,
    guardrails: bool | None, policy_path: str | None, override: bool,
) -> None:
    """`plan --base --head`: the review, then one error line per flagged change and exit 1."""
    from syncd.report import render_text as render_problems
    from syncd.review import review_between
    from syncd.reviewview import RENDERERS

    review = review_between(
        repo, base, head, policy_path=policy_path, guardrails=guardrails is not False, override=override
    )
    if not review.after.validation.ok:
        click.echo(render_problems(review.after.validation), err=True)
        raise click.exceptions.Exit(1)
    if not review.before.validation.ok:
        count = len(review.before.validation.problems)
        problems = f"{count} problem{'s' if count != 1 else ''}"
        click.echo(f"{PROG}: warning: the base {base} does not validate ({problems})", err=True)
    click.echo(RENDERERS[fmt](review))
    checks = review.guardrails
    if checks is not None and checks.findings:
        if checks.override is not None:
            click.echo(f"{PROG}: warning: {len(checks.findings)} flagged, {checks.override.describe()}", err=True)
        else:
            for finding in checks.findings:
                click.echo(f"{PROG}: error: guardrail: {finding}", err=True)
            raise click.exceptions.Exit(1)
    if detailed_exitcode and not review.diff.empty:
        raise click.exceptions.Exit(2)


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
        click.echo(f"{PROG}: warning: {short} is older than the applied commit {str(outcome.previous)[:12]}", err=True)
    if outcome.problems:
        for problem in outcome.problems:
            click.echo(str(problem), err=True)
    if outcome.outcome in ("refused", "superseded"):
        raise PlanRefused(f"{short} not applied: {outcome.reason}")
    click.echo(render_text(outcome.diff))
    verb = {"applied": "applied", "unchanged": "already applied; nothing to change", "dry-run": "dry run; nothing changed"}
    drift = " (drift in the database was put back)" if outcome.drift and outcome.outcome == "applied" else ""
    click.echo(f"{short}: {verb.get(outcome.outcome, outcome.outcome)}{drift}")


@main.command()
@dsn_option
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def status(dsn: str | None, fmt: str) -> None:
    """Show the applied commit, the last attempt and any drift."""
    import json

    from syncd.status import read_status, render_status

    current = read_status(dsn)
    click.echo(json.dumps(current, indent=2, default=str) if fmt == "json" else render_status(current))


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


@main.command()
@click.argument("sha", metavar="SHA")
@repo_option
@click.option("--no-commit", is_flag=True, help="Leave the revert staged instead of committing it.")
@click.option("--format", "fmt", type=click.Choice(["text", "markdown", "json"]), default="text", show_default=True)
def revert(sha: str, repo: str, no_commit: bool, fmt: str) -> None:
    """Roll back one commit: git revert, validate the result, print its plan; refuse if invalid."""
    from syncd.revert import revert as run_revert
    from syncd.reviewview import RENDERERS

    result = run_revert(repo, sha, commit=not no_commit)
    click.echo(RENDERERS[fmt](result.review))
    what = f"revert of {result.target[:12]} ({result.target_summary})"
    if result.commit is None:
        click.echo(f"Staged the {what}; commit it with `git commit --no-edit`, then push.", err=True)
    else:
        click.echo(
            f"Committed the {what} as {result.commit[:12]}. Push it (git push origin HEAD:main, or open a"
            " pull request) and syncd applies it like any other commit.",
            err=True,
        )


@main.command()
@click.option(
    "--repo", required=True, envvar="SYNCD_REPO", show_envvar=True, metavar="PATH_OR_URL",
    help="The repository to follow: a local path, file://, ssh:// or https:// address.",
)
@click.option("--branch", default="main", show_default=True, envvar="SYNCD_BRANCH", show_envvar=True)
@dsn_option
@click.option(
    "--interval", type=click.FloatRange(min=0.05), default=30.0, show_default=True,
    envvar="SYNCD_INTERVAL", show_envvar=True, metavar="SECONDS", help="Seconds between fetches.",
)
@click.option(
    "--listen", default="127.0.0.1:9187", show_default=True, envvar="SYNCD_LISTEN", show_envvar=True,
    metavar="HOST:PORT", help="Address of /healthz, /readyz, /status, /metrics and POST /hooks/git.",
)
@click.option(
    "--state-dir", type=click.Path(file_okay=False), default=None, envvar="SYNCD_STATE_DIR",
    show_envvar=True, help="Where the mirror lives [default: $STATE_DIRECTORY, else ~/.cache/syncd].",
)
@click.option(
    "--self-heal/--no-self-heal", default=True, show_default=True,
    help="Put drift back to the applied commit, or only report it.",
)
@click.option(
    "--watch/--no-watch", default=True, show_default=True,
    help="For a local repository, watch the branch ref and apply within a second.",
)
@click.option(
    "--fetch-timeout", type=click.FloatRange(min=0.1), default=60.0, show_default=True,
    metavar="SECONDS", help="Give up on a fetch after this long.",
)
@click.option(
    "--stop-timeout", type=click.FloatRange(min=0), default=10.0, show_default=True,
    metavar="SECONDS", help="On SIGTERM, time for the apply in flight before it is rolled back.",
)
@click.option(
    "--log-format", type=click.Choice(["text", "json"]), default="text", show_default=True,
    envvar="SYNCD_LOG_FORMAT", show_envvar=True,
)
@click.option(
    "--once", is_flag=True,
    help="Run one cycle and exit: 1 if the head was refused or applying it failed, 3 if the"
    " database, git or the disk is unavailable.",
)
def run(
    repo: str, branch: str, dsn: str | None, interval: float, listen: str, state_dir: str | None,
    self_heal: bool, watch: bool, fetch_timeout: float, stop_timeout: float, log_format: str, once: bool,
) -> None:
    """Keep the database at the newest commit of a branch: poll, watch, webhook, self-heal."""
    from pathlib import Path

    from syncd.daemon import RunOptions, run_daemon
    from syncd.logs import setup_logging

    setup_logging(log_format)
    options = RunOptions(
        repo=repo, branch=branch, dsn=dsn, interval=interval, listen=listen or None,
        state_dir=Path(state_dir) if state_dir else None, self_heal=self_heal, watch=watch,
        fetch_timeout=fetch_timeout, stop_timeout=stop_timeout, once=once,
    )
    code = run_daemon(options)
    if code:
        raise click.exceptions.Exit(code)


if __name__ == "__main__":
    main(prog_name=PROG)
