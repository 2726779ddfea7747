"""The log lines a starting daemon writes: what it follows, where it listens, what is off."""

from __future__ import annotations

import logging

from syncd.daemon.httpserver import HttpServer
from syncd.daemon.logs import event
from syncd.daemon.mirror import Mirror
from syncd.daemon.notify import Notifier
from syncd.daemon.options import RunOptions
from syncd.daemon.refwatch import RefWatcher
from syncd.daemon.webhook import SECRET_ENV
from tonsurance.db import describe, resolve_dsn


def log_start(
    opts: RunOptions,
    mirror: Mirror,
    descriptors: int,
    notifier: Notifier | None,
    http: HttpServer | None,
    watcher: RefWatcher | None,
    secret: bytes | None,
) -> None:
    event(
        "started",
        f"following {opts.branch} of {mirror.display_url} every {opts.interval:g} s"
        f" into {describe(resolve_dsn(opts.dsn))} as the {opts.environment} environment",
        repo=mirror.display_url,
        branch=opts.branch,
        environment=opts.environment,
        interval=opts.interval,
        listen=http.address if http else None,
        max_connections=http.limits.max_connections if http else None,
        descriptors=descriptors,
        watch=watcher is not None,
        self_heal=opts.self_heal,
        state_dir=str(mirror.path.parent.parent),
    )
    if http and secret is None:
        event(
            "webhook_off",
            f"webhook disabled: {SECRET_ENV} is not set; POST /hooks/git answers 404",
            logging.WARNING,
        )
    if not opts.self_heal:
        event("self_heal_off", "--no-self-heal: drift is reported, not put back")
    if notifier is not None:
        names = ", ".join(target.name for target in notifier.targets)
        event(
            "notify_on",
            f"notifications go to {names}; a dependency is reported after"
            f" {opts.notify_after:g} s down",
            targets=[target.name for target in notifier.targets],
        )
