"""`syncd compare` and `syncd promote`: environments side by side, and a promotion for review."""

from __future__ import annotations

import click

from syncd.cli.options import repo_option


@click.command()
@click.argument("a", metavar="A")
@click.argument("b", metavar="B")
@repo_option
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "markdown", "json"]),
    default="text",
    show_default=True,
)
@click.option(
    "--policy",
    "policy_path",
    default=None,
    metavar="PATH",
    help="Review policy whose grid and vault the impact uses (default: the one of A's commit).",
)
def compare(a: str, b: str, repo: str, fmt: str, policy_path: str | None) -> None:
    """Every parameter and row that differs between A and B, and the premium and risk impact of
    moving B to A's values. A side is NAME (an environment at HEAD) or NAME@REV."""
    from syncd.render.compare import RENDERERS
    from syncd.review.compare import compare as run_compare

    click.echo(RENDERERS[fmt](run_compare(repo, a, b, policy_path=policy_path)))


@click.command()
@click.option(
    "--from", "source", required=True, metavar="ENV", help="The environment to copy from."
)
@click.option("--to", "target", required=True, metavar="ENV", help="The environment to change.")
@click.argument("keys", nargs=-1, metavar="[KEY]...")
@repo_option
@click.option(
    "--branch",
    default=None,
    metavar="NAME",
    help="The new branch (default promote/FROM-to-TO-<head>).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "markdown", "json"]),
    default="text",
    show_default=True,
)
def promote(
    source: str, target: str, keys: tuple[str, ...], repo: str, branch: str | None, fmt: str
) -> None:
    """Write a commit on a new branch that gives --to the values of --from: the KEYs named
    (category.key or table.id), else every one that differs. Prints the plan the pull request
    will show."""
    from syncd.render.review import RENDERERS
    from syncd.review.promote import promote as run_promote

    done = run_promote(repo, source, target, keys, branch)
    click.echo(RENDERERS[fmt](done.review))
    click.echo(
        f"Committed the promotion of {len(done.keys)} value{'s' if len(done.keys) != 1 else ''}"
        f" from {done.source} to {done.target} as {done.commit[:12]} on the new branch"
        f" {done.branch} ({', '.join(done.files)}). Push it (git push origin {done.branch}) and"
        " open a pull request.",
        err=True,
    )
