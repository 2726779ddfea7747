"""The `syncd console` command: the read-only web console for a database without a daemon."""

from __future__ import annotations

import click

from syncd.cli.options import dsn_option


@click.command()
@dsn_option
@click.option(
    "--listen",
    default="127.0.0.1:9188",
    show_default=True,
    envvar="SYNCD_CONSOLE_LISTEN",
    show_envvar=True,
    metavar="HOST:PORT",
    help="Address of the console (pages under /ui/). Keep it on localhost or behind a proxy.",
)
@click.option(
    "--repo",
    default=None,
    metavar="PATH",
    help="A clone of the configuration repository, to show environments side by side.",
)
def console(dsn: str | None, listen: str, repo: str | None) -> None:
    """Serve the read-only web console of a database until SIGTERM or Ctrl-C."""
    import signal
    import threading

    from syncd.daemon.console import ConsoleServer
    from syncd.sync.gitsource import open_repo

    if repo is not None:
        open_repo(repo).close()  # a path that is not a repository is a usage error now
    server = ConsoleServer(dsn, listen, repo)
    stop = threading.Event()
    previous = {
        sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGTERM, signal.SIGINT)
    }
    server.start()
    click.echo(f"console on http://{server.address}/ui/ (read-only); Ctrl-C stops it", err=True)
    try:
        stop.wait()
    finally:
        server.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
