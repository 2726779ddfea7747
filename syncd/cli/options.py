"""What every `syncd` command shares: the program name, the error boundary and common options."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from syncd.errors import UsageProblem
from syncd.review.gate import TrustGate
from syncd.sync.signatures import TrustedKeys
from tonsurance.cli import boundary
from tonsurance.config.environments import DEFAULT_ENVIRONMENT, check_name

PROG = "syncd"


class ErrorBoundary(boundary.ErrorBoundary):
    """The shared error boundary, with `syncd:` before every error line."""

    prog = PROG


dsn_option = click.option(
    "--dsn",
    default=None,
    metavar="DSN",
    callback=boundary.remember_dsn,
    help="Database address; default TONSURANCE_DSN, else libpq's PG* variables.",
)

repo_option = click.option(
    "--repo",
    default=".",
    show_default=True,
    metavar="PATH",
    help="The git repository holding config/.",
)


def _environment_name(ctx: click.Context, param: click.Parameter, value: str) -> str:
    """A malformed name is a UsageProblem: one line and exit 2 at the boundary."""
    return check_name(value)


environment_option = click.option(
    "--environment",
    default=DEFAULT_ENVIRONMENT,
    show_default=True,
    envvar="SYNCD_ENVIRONMENT",
    metavar="NAME",
    callback=_environment_name,
    help="The environment (declared in config/environments.yaml); default SYNCD_ENVIRONMENT,"
    f" else {DEFAULT_ENVIRONMENT}.",
)


def warn(message: str) -> None:
    """One `syncd: warning: ...` line on stderr."""
    click.echo(f"{PROG}: warning: {message}", err=True)


def allowed_signers_option(
    help: str = "Trusted SSH keys, in git's gpg.ssh.allowedSignersFile format.",
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """--allowed-signers FILE (SYNCD_ALLOWED_SIGNERS), with the help text of the command."""
    return click.option(
        "--allowed-signers",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        envvar="SYNCD_ALLOWED_SIGNERS",
        show_envvar=True,
        metavar="FILE",
        help=help,
    )


def gpg_keyring_option(
    help: str = "Trusted OpenPGP public keys (gpg --export of them).",
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """--gpg-keyring FILE (SYNCD_GPG_KEYRING), with the help text of the command."""
    return click.option(
        "--gpg-keyring",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        envvar="SYNCD_GPG_KEYRING",
        show_envvar=True,
        metavar="FILE",
        help=help,
    )


def trust_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """--verify-signatures, --allowed-signers, --gpg-keyring and --guardrails, for apply and run."""
    options: list[Callable[[Callable[..., Any]], Callable[..., Any]]] = [
        click.option(
            "--verify-signatures/--no-verify-signatures",
            default=False,
            show_default=True,
            envvar="SYNCD_VERIFY_SIGNATURES",
            show_envvar=True,
            help="Apply a commit only when it carries a good signature by a trusted key.",
        ),
        allowed_signers_option(),
        gpg_keyring_option(),
        click.option(
            "--guardrails/--no-guardrails",
            "guardrails",
            default=None,
            envvar="SYNCD_GUARDRAILS",
            show_envvar=True,
            help="Judge the change from the applied commit with the applied commit's review"
            " policy, as a pull request is judged [default: on with --verify-signatures].",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def keys_from(
    allowed_signers: Path | None, gpg_keyring: Path | None, repo: str | None = None
) -> TrustedKeys | None:
    """The trusted keys named on the command line, checked; None when none are named.

    A key file inside `repo` (when it is a local folder) is refused: its content is what the
    keys verify, so whoever writes the branch would choose them.
    """
    if allowed_signers is None and gpg_keyring is None:
        return None
    keys = TrustedKeys(allowed_signers, gpg_keyring)
    if repo is not None and Path(repo).is_dir():
        keys.refuse_inside(Path(repo))
    keys.check()
    return keys


def gate_from(
    verify_signatures: bool,
    allowed_signers: Path | None,
    gpg_keyring: Path | None,
    guardrails: bool | None,
    repo: str | None = None,
) -> TrustGate | None:
    """The gate the trust options ask for, or None when they ask for nothing."""
    keys = keys_from(allowed_signers, gpg_keyring, repo)
    if verify_signatures and keys is None:
        raise UsageProblem(
            "--verify-signatures needs trusted keys: --allowed-signers FILE and/or --gpg-keyring FILE"
        )
    judge = verify_signatures if guardrails is None else guardrails
    if not verify_signatures and not judge:
        return None
    return TrustGate(keys, verify_signatures, judge)
