"""Where the database is and how to reach it, without ever showing its password
(`tonsurance.redaction`: every address resolved here is remembered and scrubbed from errors).

The address comes from `--dsn`, else `TONSURANCE_DSN`, else an empty string so that libpq's own
`PG*` variables (PGHOST, PGUSER, PGPASSWORD, ...) apply.
"""

from __future__ import annotations

import os
from typing import Any

import psycopg
from psycopg import pq
from psycopg.conninfo import conninfo_to_dict

from tonsurance.errors import Unavailable, UsageProblem
from tonsurance.redaction import (
    MISREAD_URL,
    describe,
    misread_password,
    redact,
    remember,
    scrub,
)

__all__ = [
    "DSN_ENV",
    "NOTIFY_CHANNEL",
    "check_address",
    "connect",
    "connect_primary",
    "describe",
    "no_tables",
    "redact",
    "resolve_dsn",
    "scrub",
    "servers",
    "target",
]

NOTIFY_CHANNEL = "tonsurance_config"
DSN_ENV = "TONSURANCE_DSN"
DEFAULT_CONNECT_TIMEOUT = 10

WRITABLE_SESSIONS = ("read-write", "primary")
# What libpq says of a server that target_session_attrs=read-write (or primary) turned down.
_READ_ONLY_MARKERS = ("session is read-only", "server is in hot standby mode")


def resolve_dsn(dsn: str | None) -> str:
    """The address to use: the explicit one, else TONSURANCE_DSN, else "" (libpq PG* defaults)."""
    address = dsn or os.environ.get(DSN_ENV, "")
    remember(address)
    return address


def _text(value: bytes | None) -> str:
    return value.decode(errors="replace") if value else ""


def target(dsn: str | None) -> str:
    """Which database an address reaches, as libpq fills it in (PG* variables, defaults), e.g.
    `database "tonsurance" on 127.0.0.1:5432 as user postgres`; no connection is made."""
    address = resolve_dsn(dsn)
    if misread_password(address) is not None:
        return describe(address)
    try:
        given = {o.keyword: o.val for o in pq.Conninfo.parse(address.encode())}
    except psycopg.Error:
        return describe(address)
    defaults = {o.keyword: o.val for o in pq.Conninfo.get_defaults()}
    value = {k: given.get(k) or defaults.get(k) for k in (b"dbname", b"host", b"port", b"user")}
    return _name(
        _text(value[b"dbname"]) or _text(value[b"user"]),
        _text(value[b"host"]),
        _text(value[b"port"]) or "5432",
        _text(value[b"user"]),
    )


def _name(dbname: str, host: str, port: str, user: str) -> str:
    where = (
        f"{host}:{port}" if host and not host.startswith("/") else f"the local socket, port {port}"
    )
    return f'database "{dbname}" on {where}' + (f" as user {user}" if user else "")


def explicit_address(dsn: str | None) -> bool:
    """Whether the address came from --dsn or TONSURANCE_DSN, not from libpq's defaults."""
    return bool(resolve_dsn(dsn))


def no_tables(dsn: str | None) -> str:
    """The sentence for a database without the schema: which database, and the one fix."""
    where = target(dsn)
    if explicit_address(dsn):
        return (
            f"{where} has no tonsurance tables yet; create them with `syncd migrate` and the"
            " same address (--dsn or TONSURANCE_DSN)"
        )
    return (
        f"{where} has no tonsurance tables: no --dsn or TONSURANCE_DSN was given, so libpq's"
        " defaults chose it; export TONSURANCE_DSN=<the tonsurance database> (`make demo` prints"
        " the line), or run `syncd migrate` if this is the database to use"
    )


def connect_primary(dsn: str | None, **kwargs: Any) -> psycopg.Connection[Any]:
    """Open a connection to a server that accepts writes, for syncd (the writer).

    libpq's `target_session_attrs=read-write` makes it skip standbys, so a multi-host address
    (`host=a,b,c`) finds the primary wherever it is; an address naming only standbys raises
    Unavailable saying so (a standby promoted later is accepted then).
    """
    address = resolve_dsn(dsn)
    try:
        wanted = conninfo_to_dict(address).get("target_session_attrs")
    except psycopg.Error:
        wanted = None
    if wanted not in WRITABLE_SESSIONS and "target_session_attrs" not in kwargs:
        kwargs["target_session_attrs"] = "read-write"
    try:
        return connect(address, **kwargs)
    except Unavailable as exc:
        if not any(marker in str(exc) for marker in _READ_ONLY_MARKERS):
            raise
        hosts = str(conninfo_to_dict(address).get("host") or "")
        subject = (
            f"PostgreSQL at {describe(address)} is a standby (read-only)"
            if "," not in hosts
            else f"no server at {describe(address)} accepts writes (each one that answered is a"
            " standby)"
        )
        raise Unavailable(
            f"{subject}; syncd writes to the primary: point --dsn or TONSURANCE_DSN at it"
        ) from None


def servers(params: dict[str, Any]) -> str:
    """The `host:port` pairs a connection string names (several for a multi-host address)."""
    hosts = str(params.get("host") or os.environ.get("PGHOST") or "localhost").split(",")
    ports = str(params.get("port") or os.environ.get("PGPORT") or "5432").split(",")
    if len(ports) == 1:
        ports = ports * len(hosts)
    return ", ".join(
        f"{host or 'localhost'}:{port or '5432'}" for host, port in zip(hosts, ports, strict=False)
    )


def check_address(dsn: str | None) -> dict[str, Any]:
    """The parsed address; UsageProblem (one line, no part of it) for one libpq cannot read or
    would misread, so a daemon refuses it at start instead of failing each cycle."""
    address = resolve_dsn(dsn)
    if misread_password(address) is not None:
        raise UsageProblem(MISREAD_URL)
    try:
        return dict(conninfo_to_dict(address))
    except psycopg.Error:
        raise UsageProblem(
            "the database address is neither a key=value connection string nor a "
            "postgresql:// URL (a URL needs special characters percent-encoded); "
            "check --dsn or TONSURANCE_DSN"
        ) from None


def connect(
    dsn: str | None,
    *,
    default_connect_timeout: int = DEFAULT_CONNECT_TIMEOUT,
    **kwargs: Any,
) -> psycopg.Connection[Any]:
    """Open a connection; an unreachable server raises Unavailable naming the redacted address
    and every server it names (libpq tries each host of a multi-host address in turn)."""
    address = resolve_dsn(dsn)
    params = check_address(address)
    if "connect_timeout" not in params and "connect_timeout" not in kwargs:
        kwargs["connect_timeout"] = default_connect_timeout
    try:
        return psycopg.connect(address, **kwargs)
    except psycopg.OperationalError as exc:
        first = str(exc).split("\n", 1)[0]
        raise Unavailable(
            f"cannot connect to PostgreSQL at {describe(address)} (tried {servers(params)}): "
            f"{scrub(first)}; {_connect_advice(exc, address)}"
        ) from None


def _connect_advice(exc: psycopg.OperationalError, address: str) -> str:
    """The one step that fixes a failed connection, read from libpq's message."""
    failed = exc.pgconn
    dbname = host = port = user = ""
    if failed is not None:
        dbname, host, port, user = (
            _text(v) for v in (failed.db, failed.host, failed.port, failed.user)
        )
    reached = _name(dbname, host, port or "5432", user) if dbname else target(address)
    message = str(exc)
    origin = (
        "" if address else " (no --dsn or TONSURANCE_DSN was given, so libpq's defaults chose it)"
    )
    if dbname and f'database "{dbname}" does not exist' in message:
        flags = [
            f"-h {host}" if host else "",
            f"-p {port}" if port else "",
            f"-U {user}" if user else "",
        ]
        command = " ".join([*(f for f in flags if f), dbname])
        return (
            f"{reached} does not exist{origin}; create it with `createdb {command}`"
            " (as a role that may create databases), then run `syncd migrate`"
        )
    if user and f'role "{user}" does not exist' in message:
        where = _name(dbname, host, port or "5432", "").split(" on ", 1)[1]
        return (
            f'role "{user}" does not exist on {where}{origin}; connect as an existing role'
            " (user= in the address, or PGUSER)"
        )
    if "password authentication failed" in message or "no password supplied" in message:
        return f"the password for {reached} was refused{origin}; give it in PGPASSWORD or ~/.pgpass"
    return (
        f"no server accepted {reached}{origin}; start PostgreSQL there (`make demo` starts a"
        " local one) or point --dsn or TONSURANCE_DSN at a running server"
    )
