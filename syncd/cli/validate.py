"""`syncd validate`: check config/ and print every problem."""

from __future__ import annotations

import click

from syncd.cli.options import repo_option


@click.command()
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
    """Check config/ and every environment against the schemas and the business rules."""
    from syncd.render.validation import RENDERERS
    from syncd.sync.validate import validate_all as run_validate

    result = run_validate(repo, commit)
    click.echo(RENDERERS[fmt](result))
    if not result.ok:
        raise click.exceptions.Exit(1)
