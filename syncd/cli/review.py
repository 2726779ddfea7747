"""The `syncd plan` and `syncd revert` commands: what a change does, and undoing one."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from syncd.cli.options import (
    PROG,
    allowed_signers_option,
    dsn_option,
    environment_option,
    gpg_keyring_option,
    keys_from,
    repo_option,
)
from syncd.errors import TonsuranceError, UsageProblem
from syncd.sync.signatures import TrustedKeys


@contextmanager
def _terraform_exit_codes(detailed_exitcode: bool) -> Iterator[None]:
    """Under --detailed-exitcode, 2 means "changes", so a usage error exits 1 as in terraform."""
    try:
        yield
    except UsageProblem as exc:
        if detailed_exitcode:
            raise TonsuranceError(str(exc)) from None
        raise


@click.command()
@repo_option
@click.option(
    "--commit",
    default=None,
    metavar="REV",
    help="Plan this commit against the database (default HEAD).",
)
@click.option(
    "--base",
    default=None,
    metavar="REV",
    help="Compare two commits without a database: the old side.",
)
@click.option("--head", default=None, metavar="REV", help="The new side of --base.")
@dsn_option
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "markdown"]),
    default="text",
    show_default=True,
)
@click.option(
    "--detailed-exitcode", is_flag=True, help="Exit 0 when nothing changes, 2 when something does."
)
@click.option(
    "--guardrails/--no-guardrails",
    default=None,
    help="Check the change against the review policy's guardrails (default: on with --base/--head).",
)
@click.option(
    "--policy",
    "policy_path",
    default=None,
    metavar="PATH",
    help="Review policy file (default: .github/config-policy.yaml of the base commit).",
)
@click.option(
    "--override",
    is_flag=True,
    help="Accept flagged changes (the pull-request label config-override).",
)
@allowed_signers_option(
    "Trusted SSH keys that prove a Config-Override trailer (with --base/--head)."
)
@gpg_keyring_option(
    "Trusted OpenPGP keys that prove a Config-Override trailer (with --base/--head)."
)
@environment_option
@click.pass_context
def plan(
    ctx: click.Context,
    repo: str,
    commit: str | None,
    base: str | None,
    head: str | None,
    dsn: str | None,
    fmt: str,
    detailed_exitcode: bool,
    guardrails: bool | None,
    policy_path: str | None,
    override: bool,
    allowed_signers: Path | None,
    gpg_keyring: Path | None,
    environment: str,
) -> None:
    """Show what applying a commit would change; with --base/--head also its impact and guardrails.

    Against a database, the plan is of one environment (--environment). With --base/--head it
    covers every environment the change moves, unless --environment is given on the command line.

    With --detailed-exitcode the codes are terraform's: 0 no change, 1 error, 2 changes, so a
    usage error exits 1 rather than 2 (an unreachable dependency still exits 3).
    """
    from syncd.render.plan import RENDERERS
    from syncd.render.validation import render_text as render_problems
    from syncd.sync import pipeline as engine

    with _terraform_exit_codes(detailed_exitcode):
        if base is not None or head is not None:
            if commit is not None:
                raise UsageProblem(
                    "--commit plans one commit against the database, --base/--head compare two"
                    " commits without one: give one or the other"
                )
            if base is None:
                raise UsageProblem(
                    f"--head {head} needs --base, the commit to compare it with (e.g. --base main);"
                    f" to plan {head} against the database, use --commit {head}"
                )
            explicit = (
                ctx.get_parameter_source("environment") is click.core.ParameterSource.COMMANDLINE
            )
            _plan_review(
                repo,
                base,
                head or "HEAD",
                fmt,
                detailed_exitcode,
                guardrails,
                policy_path,
                override,
                keys_from(allowed_signers, gpg_keyring, repo),
                environment if explicit else None,
            )
            return
        if guardrails or policy_path or override:
            raise UsageProblem(
                "--guardrails, --policy and --override judge a change: use them with --base/--head"
            )
        prepared, diff = engine.plan_against_database(repo, commit or "HEAD", dsn, environment)
        if not prepared.validation.ok:
            click.echo(render_problems(prepared.validation), err=True)
            raise click.exceptions.Exit(1)
        click.echo(RENDERERS[fmt](diff))
        if detailed_exitcode and not diff.empty:
            raise click.exceptions.Exit(2)


def _plan_review(
    repo: str,
    base: str,
    head: str,
    fmt: str,
    detailed_exitcode: bool,
    guardrails: bool | None,
    policy_path: str | None,
    override: bool,
    keys: TrustedKeys | None,
    only: str | None,
) -> None:
    """`plan --base --head`: the review of each environment (or only `only`, shown as a single
    plan), then one error line per flagged change and exit 1."""
    from syncd.render import review as single
    from syncd.render.environments import RENDERERS
    from syncd.render.validation import render_text as render_problems
    from syncd.review.review import review_environments

    reviews = review_environments(
        repo,
        base,
        head,
        policy_path=policy_path,
        guardrails=guardrails is not False,
        override=override,
        keys=keys,
        only=only,
    )
    for review in reviews.reviews.values():
        if not review.after.validation.ok:
            click.echo(render_problems(review.after.validation), err=True)
            raise click.exceptions.Exit(1)
    for name, review in reviews.reviews.items():
        if not review.before.validation.ok:
            count = len(review.before.validation.problems)
            problems = f"{count} problem{'s' if count != 1 else ''}"
            for_env = "" if only else f" for {name}"
            click.echo(
                f"{PROG}: warning: the base {base} does not validate{for_env} ({problems})",
                err=True,
            )
    if only:
        click.echo(single.RENDERERS[fmt](reviews.reviews[only]))
    else:
        click.echo(RENDERERS[fmt](reviews))
    failed = False
    for name, review in reviews.reviews.items():
        checks = review.guardrails
        if checks is None or not checks.findings:
            continue
        where = "" if only else f"{name}: "
        if checks.override is not None:
            click.echo(
                f"{PROG}: warning: {where}{len(checks.findings)} flagged,"
                f" {checks.override.describe()}",
                err=True,
            )
        else:
            for finding in checks.findings:
                click.echo(f"{PROG}: error: guardrail: {where}{finding}", err=True)
            for why in checks.rejected:
                click.echo(f"{PROG}: warning: {where}{why}", err=True)
            failed = True
    if failed:
        raise click.exceptions.Exit(1)
    if detailed_exitcode and reviews.changed:
        raise click.exceptions.Exit(2)


@click.command()
@click.argument("sha", metavar="SHA")
@repo_option
@click.option("--no-commit", is_flag=True, help="Leave the revert staged instead of committing it.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "markdown", "json"]),
    default="text",
    show_default=True,
)
@environment_option
def revert(sha: str, repo: str, no_commit: bool, fmt: str, environment: str) -> None:
    """Roll back one commit: git revert, validate the result in every environment, print the
    plan of one (--environment); refuse if invalid."""
    from syncd.render.revert import finding_lines, next_step, override_advice
    from syncd.render.review import RENDERERS
    from syncd.review.revert import revert as run_revert

    result = run_revert(repo, sha, commit=not no_commit, environment=environment)
    click.echo(RENDERERS[fmt](result.review))
    for line in finding_lines(result):
        click.echo(f"{PROG}: warning: {line}", err=True)
    click.echo(next_step(result), err=True)
    for line in override_advice(result):
        click.echo(line, err=True)
