"""The README's first command: a database, the schema, the repository's HEAD applied, the status,
and a quote read back from the database by a read-only service role.

The database is `TONSURANCE_DSN` when set; else the `tonsurance` database on the local server at
127.0.0.1:5432 (created when missing); else, when only the PostgreSQL binaries are installed, a
private server started in `.local/postgres` of the project (ignored by git) and left running.
On a server it chose itself it also creates the login role `tonsurance_service` (no password,
member of tonsurance_reader) to show a service reading; a server named by `TONSURANCE_DSN` gets
no new role, and the quote reads with the same address.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from syncd.local.server import PrivateServer, postgres_bindir
from syncd.render.plan import summary_line
from syncd.render.status import render_text as render_status
from syncd.sync import pipeline as engine
from syncd.sync.migrate import migrate
from syncd.sync.outcomes import Outcome
from syncd.sync.status import read_status
from tonsurance.config.environments import DEFAULT_ENVIRONMENT, check_name, environment_from_env
from tonsurance.db import DSN_ENV, connect, describe
from tonsurance.errors import TonsuranceError, UsageProblem
from tonsurance.redaction import scrub

ROOT = Path(__file__).resolve().parents[2]
LOCAL_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
LOCAL_DIR = ROOT / ".local" / "postgres"
LOCAL_PORT = 54329
SERVICE_ROLE = "tonsurance_service"


def _reachable(dsn: str) -> bool:
    try:
        with psycopg.connect(dsn, connect_timeout=3):
            return True
    except psycopg.Error:
        return False


def _ensure_database(admin_dsn: str, name: str) -> str:
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        if not conn.execute("select 1 from pg_database where datname = %s", (name,)).fetchone():
            conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    return make_conninfo(admin_dsn, dbname=name)


def _private_server() -> str:
    """Start (creating it the first time) a server in .local/postgres; return its admin DSN."""
    server = PrivateServer(LOCAL_DIR, postgres_bindir(), LOCAL_PORT)
    if _reachable(server.dsn):
        return server.dsn
    server.prepare_folder()
    if os.geteuid() == 0:
        subprocess.run(["chown", "-R", "postgres:postgres", str(LOCAL_DIR)], check=True)
    if not server.datadir.exists():
        print(f"starting a private PostgreSQL in {LOCAL_DIR}", file=sys.stderr)
        server.initialize()
    server.start()
    return server.dsn


def server_admin_dsn() -> str:
    """The admin address of the local server, or of the private one (started if needed)."""
    return LOCAL_SERVER if _reachable(LOCAL_SERVER) else _private_server()


def database_name(environment: str) -> str:
    """`tonsurance` for the default environment, `tonsurance_<name>` for the others: one
    database per environment."""
    if environment == DEFAULT_ENVIRONMENT:
        return "tonsurance"
    return "tonsurance_" + environment.replace("-", "_")


def choose_database(environment: str = DEFAULT_ENVIRONMENT) -> str:
    explicit = os.environ.get(DSN_ENV)
    if explicit:
        return explicit
    if _reachable(LOCAL_SERVER):
        return _ensure_database(LOCAL_SERVER, database_name(environment))
    return _ensure_database(_private_server(), database_name(environment))


def _environment(args: list[str]) -> str:
    """`--environment NAME` (or `--environment=NAME`), else SYNCD_ENVIRONMENT, else dev."""
    for i, arg in enumerate(args):
        if arg == "--environment" and i + 1 < len(args):
            return check_name(args[i + 1])
        if arg.startswith("--environment="):
            return check_name(arg.split("=", 1)[1])
    if args:
        raise UsageProblem(f"unknown arguments {' '.join(args)!r}; use --environment NAME")
    return environment_from_env()


def service_dsn(dsn: str) -> str:
    """A login role in tonsurance_reader, as services connect (created when missing)."""
    with connect(dsn, autocommit=True) as conn:
        exists = conn.execute(
            "select 1 from pg_roles where rolname = %s", (SERVICE_ROLE,)
        ).fetchone()
        if not exists:
            try:
                conn.execute(
                    sql.SQL("create role {} login in role tonsurance_reader").format(
                        sql.Identifier(SERVICE_ROLE)
                    )
                )
            except psycopg.errors.DuplicateObject:
                pass
    params = conninfo_to_dict(dsn)
    params.pop("password", None)
    params["user"] = SERVICE_ROLE
    return make_conninfo(**{k: str(v) for k, v in params.items()})


def next_steps(dsn: str) -> str:
    """The lines that make the README's next commands reach this database from this shell."""
    bindir = shlex.quote(str(Path(sys.executable).parent))
    lines = ["", "Ready. For the commands of the README, in this shell:"]
    lines.append(f'  export PATH={bindir}:"$PATH"')
    if os.environ.get(DSN_ENV):
        lines.append(f"  (TONSURANCE_DSN is already set: {describe(dsn)})")
    else:
        lines.append(f"  export TONSURANCE_DSN={shlex.quote(dsn)}")
    return "\n".join(lines)


def main() -> int:
    if sys.argv[1:] == ["--admin-dsn"]:
        try:
            print(server_admin_dsn())
            return 0
        except (OSError, subprocess.CalledProcessError, TonsuranceError) as exc:
            print(
                f"quickstart: error: no PostgreSQL server could be found or started: {exc}",
                file=sys.stderr,
            )
            return 3
    try:
        environment = _environment(sys.argv[1:])
        dsn = choose_database(environment)
        print(f"database: {describe(dsn)}, environment {environment}")
        print(migrate(dsn).message)
        report = engine.apply_commit(ROOT, "HEAD", dsn, environment=environment)
        result = report.result
        if result.outcome is Outcome.REFUSED:
            print(f"HEAD was refused: {result.reason}", file=sys.stderr)
            return 1
        print(f"apply {result.commit[:12]}: {result.outcome}. {summary_line(result.diff)}")
        print(render_status(read_status(dsn)))
        if os.environ.get(DSN_ENV):
            reader = dsn
            print("\nquote read back from the database:")
        else:
            reader = service_dsn(dsn)
            print(f"\nquote read by the read-only service role {SERVICE_ROLE}:")
        code = subprocess.call(
            [
                sys.executable,
                "-c",
                "from tonsurance.cli.main import main; main()",
                "quote",
                "USDC",
                "100000",
                "--days",
                "90",
                "--dsn",
                reader,
                "--environment",
                environment,
            ]
        )
        print(next_steps(dsn))
        return code
    except TonsuranceError as exc:
        print(f"quickstart: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except psycopg.Error as exc:
        print(
            f"quickstart: error: PostgreSQL refused: {scrub(str(exc))}",
            file=sys.stderr,
        )
        return 3
    except (OSError, subprocess.CalledProcessError) as exc:
        detail = (
            exc.stderr.strip()
            if isinstance(exc, subprocess.CalledProcessError) and exc.stderr
            else str(exc)
        )
        print(
            f"quickstart: error: could not start a private PostgreSQL ({' '.join(str(detail).split())});"
            " install PostgreSQL or set TONSURANCE_DSN",
            file=sys.stderr,
        )
        return 3


if __name__ == "__main__":
    raise SystemExit(main())
