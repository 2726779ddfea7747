"""The `syncd run` command: the daemon's options, handed to syncd.daemon.loop."""

from __future__ import annotations

from pathlib import Path

import click

from syncd.cli.options import dsn_option, environment_option, gate_from, trust_options


@click.command()
@click.option(
    "--repo",
    required=True,
    envvar="SYNCD_REPO",
    show_envvar=True,
    metavar="PATH_OR_URL",
    help="The repository to follow: a local path, file://, ssh://, https:// or git@host:path.",
)
@click.option(
    "--branch", default="main", show_default=True, envvar="SYNCD_BRANCH", show_envvar=True
)
@dsn_option
@click.option(
    "--interval",
    type=click.FloatRange(min=0.05),
    default=30.0,
    show_default=True,
    envvar="SYNCD_INTERVAL",
    show_envvar=True,
    metavar="SECONDS",
    help="Seconds between fetches.",
)
@click.option(
    "--listen",
    default="127.0.0.1:9187",
    show_default=True,
    envvar="SYNCD_LISTEN",
    show_envvar=True,
    metavar="HOST:PORT",
    help="Address of the console (/ui/), /healthz, /readyz, /status, /metrics and POST /hooks/git.",
)
@click.option(
    "--state-dir",
    type=click.Path(file_okay=False),
    default=None,
    envvar="SYNCD_STATE_DIR",
    show_envvar=True,
    help="Where the mirror lives [default: $STATE_DIRECTORY, else ~/.cache/syncd].",
)
@click.option(
    "--self-heal/--no-self-heal",
    envvar="SYNCD_SELF_HEAL",
    show_envvar=True,
    default=True,
    show_default=True,
    help="Put drift back to the applied commit, or only report it.",
)
@click.option(
    "--watch/--no-watch",
    envvar="SYNCD_WATCH",
    show_envvar=True,
    default=True,
    show_default=True,
    help="For a local repository, watch the branch ref and apply within a second.",
)
@click.option(
    "--fetch-timeout",
    envvar="SYNCD_FETCH_TIMEOUT",
    show_envvar=True,
    type=click.FloatRange(min=0.1),
    default=60.0,
    show_default=True,
    metavar="SECONDS",
    help="Give up on a fetch after this long.",
)
@click.option(
    "--stop-timeout",
    envvar="SYNCD_STOP_TIMEOUT",
    show_envvar=True,
    type=click.FloatRange(min=0),
    default=10.0,
    show_default=True,
    metavar="SECONDS",
    help="On SIGTERM, time for the apply in flight before it is rolled back.",
)
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    envvar="SYNCD_LOG_FORMAT",
    show_envvar=True,
)
@click.option(
    "--notify",
    multiple=True,
    metavar="URL",
    help="Send applies, refusals, drift and outages to this Apprise URL (slack://, pagerduty://,"
    " json://, mailto://, ...); repeatable. Default: SYNCD_NOTIFY, URLs separated by spaces or"
    " commas.",
)
@click.option(
    "--public-url",
    default=None,
    envvar="SYNCD_PUBLIC_URL",
    show_envvar=True,
    metavar="URL",
    help="The address people reach this daemon at; notifications link to its console (/ui/).",
)
@click.option(
    "--notify-after",
    type=click.FloatRange(min=0),
    default=60.0,
    show_default=True,
    envvar="SYNCD_NOTIFY_AFTER",
    show_envvar=True,
    metavar="SECONDS",
    help="Notify about a database, git or disk fault once it has lasted this long.",
)
@click.option(
    "--console/--no-console",
    default=True,
    envvar="SYNCD_CONSOLE",
    show_envvar=True,
    show_default=True,
    help="Serve the read-only web console under /ui/ on --listen.",
)
@click.option(
    "--console-dsn",
    default=None,
    envvar="SYNCD_CONSOLE_DSN",
    show_envvar=True,
    metavar="DSN",
    help="The console's database address, for example a tonsurance_reader login; default --dsn.",
)
@click.option(
    "--once",
    is_flag=True,
    help="Run one cycle and exit: 1 if the head was refused or applying it failed, 3 if the"
    " database, git, the disk or file descriptors are unavailable.",
)
@trust_options
@environment_option
def run(
    repo: str,
    branch: str,
    dsn: str | None,
    interval: float,
    listen: str,
    state_dir: str | None,
    self_heal: bool,
    watch: bool,
    fetch_timeout: float,
    stop_timeout: float,
    log_format: str,
    notify: tuple[str, ...],
    public_url: str | None,
    notify_after: float,
    console: bool,
    console_dsn: str | None,
    once: bool,
    verify_signatures: bool,
    allowed_signers: Path | None,
    gpg_keyring: Path | None,
    guardrails: bool | None,
    environment: str,
) -> None:
    """Keep the database at the newest commit of a branch: poll, watch, webhook, self-heal."""
    import os
    import socket

    from syncd.daemon.logs import setup_logging
    from syncd.daemon.loop import RunOptions, run_daemon
    from syncd.daemon.notify_targets import split_urls
    from syncd.render.notification import NotifyContext, check_public_url, render
    from tonsurance.db import check_address

    check_address(dsn)
    if console_dsn:
        check_address(console_dsn)
    urls = notify or tuple(split_urls(os.environ.get("SYNCD_NOTIFY")))
    context = NotifyContext(branch, socket.gethostname(), check_public_url(public_url))
    setup_logging(log_format)
    options = RunOptions(
        repo=repo,
        branch=branch,
        dsn=dsn,
        interval=interval,
        listen=listen or None,
        state_dir=Path(state_dir) if state_dir else None,
        self_heal=self_heal,
        watch=watch,
        fetch_timeout=fetch_timeout,
        stop_timeout=stop_timeout,
        once=once,
        notify=urls,
        notify_after=notify_after,
        gate=gate_from(verify_signatures, allowed_signers, gpg_keyring, guardrails, repo),
        console=console,
        console_dsn=console_dsn,
        environment=environment,
    )
    code = run_daemon(options, lambda event: render(event, context))
    if code:
        raise click.exceptions.Exit(code)
