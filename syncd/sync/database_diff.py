"""Diff a desired state against the database without loading every value into Python.

Each parameter row is fetched as text (`value::text`, type, description) and compared with the
desired value serialised the way PostgreSQL prints JSONB. Equal text means equal values; rows
whose text differs are only candidates and are compared again in the normal form, so a value
written by hand as 0.040 is still equal to 0.04. Reading 100k rows as text costs a fraction of
decoding them as JSON.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import psycopg

from syncd.sync.database_state import read_tables
from syncd.sync.diff import Diff, ParamChange, diff_rows
from tonsurance.config.normal import normal_value
from tonsurance.config.state import ConfigState, Parameter

ParamKey = tuple[str, str]


_FIELD = "\x1f"
_RECORD = "\x1e"
_FINGERPRINTS = f"""
select string_agg(concat_ws(e'{_FIELD}', category, key, value::text, value_type, md5(description)), e'{_RECORD}')
  from config_parameters
"""


def jsonb_text(value: Any) -> str:
    """The text PostgreSQL prints for the JSONB of `value`, for the common cases."""
    kind = type(value)
    if kind is float:
        return repr(value)
    if kind is int:
        return str(value)
    return json.dumps(value, ensure_ascii=False)


def description_digest(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def read_fingerprints(conn: psycopg.Connection[Any]) -> dict[ParamKey, tuple[str, str, str]]:
    """(value as JSONB text, value type, md5 of the description) of every parameter row.

    Aggregated into one text server-side: one value to transfer and split, not 100k rows.
    """
    with conn.cursor() as cur:
        cur.execute(_FINGERPRINTS)
        row = cur.fetchone()
    blob = row[0] if row else None
    out: dict[ParamKey, tuple[str, str, str]] = {}
    if blob:
        for record in blob.split(_RECORD):
            category, key, text, value_type, digest = record.split(_FIELD)
            out[(category, key)] = (text, value_type, digest)
    return out


def _stored(conn: psycopg.Connection[Any], keys: list[ParamKey]) -> dict[ParamKey, Parameter]:
    """Full rows for the few keys whose fingerprint differs."""
    if not keys:
        return {}
    with conn.cursor() as cur:
        cur.execute(
            "select p.category, p.key, p.value, p.value_type, p.description from config_parameters p"
            " join unnest(%s::text[], %s::text[]) as k(category, key)"
            " on p.category = k.category and p.key = k.key",
            ([k[0] for k in keys], [k[1] for k in keys]),
        )
        return {(c, k): Parameter(c, k, normal_value(v, t), t, d) for c, k, v, t, d in cur}


def diff_database(conn: psycopg.Connection[Any], desired: ConfigState) -> Diff:
    """What must change in the database (read in the caller's transaction) to equal `desired`."""
    stored = read_fingerprints(conn)
    changes: list[ParamChange] = []
    candidates: list[ParamKey] = []
    for key, want in desired.parameters.items():
        have = stored.pop(key, None)
        if have is None:
            changes.append(ParamChange("add", key[0], key[1], None, want))
        elif (
            have[0] != jsonb_text(want.value)
            or have[1] != want.value_type
            or have[2] != description_digest(want.description)
        ):
            candidates.append(key)
    removed = list(stored)
    old_rows = _stored(conn, candidates + removed)
    for key in candidates:
        want = desired.parameters[key]
        if old_rows[key] != want:
            changes.append(ParamChange("change", key[0], key[1], old_rows[key], want))
    for key in removed:
        changes.append(ParamChange("remove", key[0], key[1], old_rows[key], None))
    changes.sort(key=lambda c: (c.category, c.key))
    return Diff(changes, diff_rows(read_tables(conn), desired.tables))
