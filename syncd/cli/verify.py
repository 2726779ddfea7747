"""`syncd verify [REV]`: check one commit's signature with the rules the daemon applies."""

from __future__ import annotations

from pathlib import Path

import click

from syncd.cli.options import (
    allowed_signers_option,
    gpg_keyring_option,
    keys_from,
    repo_option,
)
from syncd.errors import PlanRefused, UsageProblem


@click.command()
@click.argument("rev", default="HEAD", metavar="[REV]")
@repo_option
@allowed_signers_option()
@gpg_keyring_option()
def verify(rev: str, repo: str, allowed_signers: Path | None, gpg_keyring: Path | None) -> None:
    """Check that a commit carries a good signature by a trusted key; exit 1 when it does not."""
    from syncd.sync.gitsource import open_repo, resolve_commit
    from syncd.sync.signatures import verify_commit

    keys = keys_from(allowed_signers, gpg_keyring, repo)
    if keys is None:
        raise UsageProblem(
            "syncd verify needs trusted keys: --allowed-signers FILE and/or --gpg-keyring FILE"
        )
    try:
        git_repo = open_repo(repo)
        sha = resolve_commit(git_repo, rev).hexsha
        signature = verify_commit(git_repo.git_dir, sha, keys)
    finally:
        keys.close()
    if not signature.good:
        raise PlanRefused(signature.describe())
    click.echo(signature.describe())
