"""Database passwords never printed: addresses built without them, error texts scrubbed of them.

Two tools, used everywhere an address or an error reaches a person, a log or an HTTP answer:

- `describe(dsn)` builds the printed address from the parsed connection string (psycopg's
  `conninfo_to_dict`, that is libpq's own parser) with the password left out, so no way of
  writing it (percent-encoded, raw `#`, quoted with spaces, in the URL's query) can slip through.
- `scrub(text)` replaces every password this process has been given (each address resolved
  through `remember`, and `PGPASSWORD`), in every form it was written, by `***`, then masks any
  other `user:password@` or `password=` left in the text (`redact`).

Git remote addresses have their own redactor, `syncd.sync.gitsource.redact_url`.
"""

from __future__ import annotations

import os
import re
import threading
from urllib.parse import quote

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

MASK = "***"
SECRET_KEYS = ("password", "sslpassword")
ANYWHERE = 8
PG_ENV = "the address given by the PG* environment variables"

_URL_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)
# libpq's reading of a URL: the user information runs to the first "@" before any "/".
_URL_USERINFO = re.compile(r"^([a-z][a-z0-9+.-]*://[^:@/]*):([^@/]*)@", re.IGNORECASE)
_QUERY_PASSWORD = re.compile(r"([?&](?:ssl)?password=)([^&]*)", re.IGNORECASE)
_KV_PASSWORD = re.compile(
    r"(\b(?:ssl)?password\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s']\S*|'.*)", re.IGNORECASE
)

# Everything between `scheme://user:` and the last "@": what a person meant as the password.
_MEANT_PASSWORD = re.compile(r"^[a-z][a-z0-9+.-]*://[^:@/?\[]*:(.*)@", re.IGNORECASE)
_URL_DELIMITERS = re.compile(r"[/?@]")
MISREAD_URL = (
    "the database address is a postgresql:// URL whose password holds an unencoded '/', '?' or '@',"
    " which libpq would read as part of the host or database: percent-encode the password"
    " (python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=\"\"))'"
    " PASSWORD); check --dsn or TONSURANCE_DSN"
)

_known: set[str] = set()
_known_lock = threading.Lock()


def redact(text: str) -> str:
    """`text` with the password of any URL or key=value address in it replaced by ***."""
    if _URL_SCHEME.match(text):
        text = _URL_USERINFO.sub(rf"\1:{MASK}@", text)
        return _QUERY_PASSWORD.sub(rf"\1{MASK}", text)
    return _KV_PASSWORD.sub(rf"\1{MASK}", text)


def _written_forms(address: str, parsed: dict[str, object]) -> set[str]:
    """Each password of `address` as parsed and as written in its text."""
    forms: set[str] = set()
    for key in SECRET_KEYS:
        value = str(parsed.get(key) or "")
        if value:
            forms |= {value, quote(value, safe=""), quote(value)}
    if _URL_SCHEME.match(address):
        userinfo = _URL_USERINFO.match(address)
        if userinfo:
            forms.add(userinfo.group(2))
        forms |= {m.group(2) for m in _QUERY_PASSWORD.finditer(address)}
    else:
        for m in _KV_PASSWORD.finditer(address):
            forms |= {m.group(2), m.group(2).strip("'")}
    return {form for form in forms if form}


def misread_password(address: str) -> str | None:
    """The password meant in a URL that libpq would misread (a raw `/`, `?` or `@` in it).

    Misread: the first "@" comes only after a "/" or "?" that follows `user:` (libpq then reads
    no password, and its pieces as port and database), or the part before the first "/" or "?"
    holds two "@" (libpq reads the rest of the password as the host). `host:5432/db?user=a@b`
    (a port) and `u:p@h/db?sslrootcert=/x@y` (an "@" in the query) are ordinary URLs.
    """
    found = _MEANT_PASSWORD.match(address) if _URL_SCHEME.match(address) else None
    if found is None:
        return None
    rest = address.split("://", 1)[1]
    end = min((i for i in (rest.find("/"), rest.find("?")) if i >= 0), default=len(rest))
    authority, first_at = rest[:end], rest.find("@")
    after_colon = authority.split(":", 1)[1] if ":" in authority else ""
    past_delimiter = (first_at < 0 or first_at > end) and not after_colon.isdigit()
    if past_delimiter or authority.count("@") > 1:
        return found.group(1)
    return None


def remember(address: str) -> None:
    """Note the passwords of `address`, so `scrub` removes them from every later text."""
    if not address:
        return
    try:
        parsed: dict[str, object] = dict(conninfo_to_dict(address))
    except psycopg.Error:
        parsed = {}
    forms = _written_forms(address, parsed)
    meant = misread_password(address)
    if meant is not None:
        forms |= {meant, *(piece for piece in _URL_DELIMITERS.split(meant) if piece)}
    if forms:
        with _known_lock:
            _known.update(forms)


def secrets() -> list[str]:
    """Every password known to this process, longest first (so a longer form wins)."""
    with _known_lock:
        found = set(_known)
    env = os.environ.get("PGPASSWORD")
    if env:
        found |= {env, quote(env, safe="")}
    return sorted(found, key=len, reverse=True)


def mask(text: str) -> str:
    """`text` as it is, with every known password and any address's password masked.

    A password shorter than `ANYWHERE` characters is masked only where it stands apart from
    letters and digits, so a short one does not shred the words around it ("database").
    """
    for secret in secrets():
        if len(secret) >= ANYWHERE:
            text = text.replace(secret, MASK)
        else:
            text = re.sub(rf"(?<![^\W_]){re.escape(secret)}(?![^\W_])", MASK, text)
    return redact(text)


def scrub(text: str) -> str:
    """`text` on one line, with every known password and any address's password masked."""
    return mask(" ".join(str(text).split()))


def describe(address: str) -> str:
    """The address to print: rebuilt from its parsed parts, the password shown as ***."""
    if not address:
        return PG_ENV
    remember(address)
    if misread_password(address) is not None:
        return "a postgresql:// URL whose password needs percent-encoding"
    try:
        parsed = dict(conninfo_to_dict(address))
    except psycopg.Error:
        return "an address that is not a valid connection string"
    hidden = any(parsed.pop(key, None) for key in SECRET_KEYS)
    if not _URL_SCHEME.match(address):
        return scrub(make_conninfo("", **parsed) + (f" password={MASK}" if hidden else ""))
    user = quote(str(parsed.pop("user", "")), safe="")
    hosts = str(parsed.pop("host", "")).split(",")
    ports = str(parsed.pop("port", "")).split(",")
    ports = ports * len(hosts) if len(ports) == 1 else ports
    dbname = quote(str(parsed.pop("dbname", "")), safe="")
    authority = (user + (f":{MASK}" if hidden else "") + "@") if user or hidden else ""
    where = ",".join(
        (f"[{host}]" if ":" in host else host) + (f":{port}" if port else "")
        for host, port in zip(hosts, ports, strict=False)
    )
    query = "&".join(f"{k}={quote(str(v), safe='')}" for k, v in parsed.items())
    path = (f"/{dbname}" if dbname else "") + (f"?{query}" if query else "")
    return scrub(f"postgresql://{authority}{where}{path}")
