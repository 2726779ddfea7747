"""Validation and the database agree on keys and ids: every key or id a database check refuses
is refused by validation first, and every one validation accepts is stored by a real apply."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest

from syncd.sync.gitsource import CommitInfo
from syncd.sync.outcomes import Outcome
from syncd.sync.transaction import apply_state
from tonsurance.config.sources import read_directory
from tonsurance.config.state import ConfigState, Parameter
from tonsurance.config.validation import validate_sources

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = read_directory(ROOT)
INFO = CommitInfo("f" * 40, "Test <t@tonsurance.test>", "keys", "keys", 0)

# Every ASCII character, the C1 controls' ends, and a few other characters PostgreSQL's
# [[:cntrl:]] might count depending on the locale (line and paragraph separators, no-break and
# zero-width spaces, a byte order mark), plus letters outside ASCII.
CHARACTERS = [chr(c) for c in range(128)] + [
    "\x80",
    "\x85",
    "\x9f",
    "\xa0",
    "\xe9",
    "\u2028",
    "\u2029",
    "\u200b",
    "\ufeff",
    "\U0001f600",
]
# Each CHECK constraint on a configuration table, and how validation stays ahead of it.
CONSTRAINTS = {
    "config_parameters_names_printable": "keys: reader refuses control characters; patterns",
    "config_parameters_value_matches_type": "values: value types come from keymap.value_type_of",
    "config_parameters_value_type_check": "values: value types come from keymap.value_type_of",
    "historical_depegs_id_check": "ids: the schema's id pattern, evaluated as ECMA 262",
    "historical_depegs_low_price_check": "values: the schema's exclusive range (0, 2)",
    "historical_depegs_duration_hours_check": "values: the schema's exclusiveMinimum 0",
    "stress_scenarios_id_check": "ids: the schema's id pattern, evaluated as ECMA 262",
    "stress_scenarios_severity_check": "values: the schema's enum",
    "stress_scenarios_annual_probability_check": "values: the schema's range [0, 1]",
    "stress_scenarios_price_impacts_check": "values: the schema's object type",
}


def _replace(files: dict[str, bytes], path: str, old: str, new: str) -> None:
    text = files[path].decode()
    assert old in text, (path, old)
    files[path] = text.replace(old, new).encode()


def _with_asset(files: dict[str, bytes], name: str) -> None:
    """Add a priced asset: a base rate and, as the rules require, an impact in each scenario."""
    quoted = json.dumps(name)
    rate = f"  {quoted}: 0.05\n  default: 0.10\n"
    _replace(files, "config/pricing.yaml", "  default: 0.10\n", rate)
    text = files["config/stress_scenarios.yaml"].decode()
    out = []
    for line in text.splitlines(keepends=True):
        out.append(line)
        if line.strip() == "price_impacts:":
            indent = " " * (len(line) - len(line.lstrip()) + 2)
            out.append(f"{indent}{quoted}: -0.01\n")
    files["config/stress_scenarios.yaml"] = "".join(out).encode()


@dataclass(frozen=True)
class Place:
    """Where a candidate key or id goes in the YAML, and the rows it becomes."""

    name: str
    base: str
    put: Callable[[dict[str, bytes], str], None]
    insert: str
    mine: Callable[[ConfigState, str], ConfigState]


def _own_row(table: str) -> Callable[[ConfigState, str], ConfigState]:
    def pick(state: ConfigState, row_id: str) -> ConfigState:
        return ConfigState({}, {table: {row_id: state.tables[table][row_id]}})

    return pick


PLACES = [
    Place(
        "pricing base rate key",
        "USDX",
        _with_asset,
        "insert into config_parameters (category, key, value, value_type)"
        " values ('pricing', 'base_rate_' || %s, '0.05', 'float')",
        lambda state, k: ConfigState(
            {("pricing", f"base_rate_{k}"): state.parameters[("pricing", f"base_rate_{k}")]}, {}
        ),
    ),
    Place(
        "tranche key",
        "SURE-BTC",
        lambda files, k: _replace(
            files, "config/tranche.yaml", "  SURE-BTC:", f"  {json.dumps(k)}:"
        ),
        "insert into config_parameters (category, key, value, value_type)"
        " values ('tranche', %s || '_tier', '1', 'int')",
        lambda state, k: ConfigState(
            {key: p for key, p in state.parameters.items() if key[1].startswith(f"{k}_")}, {}
        ),
    ),
    Place(
        "depeg event id",
        "usdc-svb-2023",
        lambda files, k: _replace(
            files, "config/historical_depegs.yaml", "id: usdc-svb-2023", f"id: {json.dumps(k)}"
        ),
        "insert into historical_depegs (id, asset, low_price, start_date, duration_hours)"
        " values (%s, 'USDC', 0.9, '2023-03-10', 48)",
        _own_row("historical_depegs"),
    ),
    Place(
        "stress scenario id",
        "banking_crisis",
        lambda files, k: _replace(
            files, "config/stress_scenarios.yaml", "id: banking_crisis", f"id: {json.dumps(k)}"
        ),
        "insert into stress_scenarios (id, name, severity, annual_probability, btc_change)"
        " values (%s, 'Scenario', 'low', 0.1, 0)",
        _own_row("stress_scenarios"),
    ),
]


def _candidates(base: str) -> list[str]:
    middle = len(base) // 2
    found: list[str] = []
    for c in CHARACTERS:
        found += [base + c, base[:middle] + c + base[middle:], c + base]
    return list(dict.fromkeys(found))


TRY_EACH = """
create function pg_temp.refused_keys(keys text[], statement text) returns setof text
language plpgsql as $$
declare k text;
begin
    foreach k in array keys loop
        begin
            execute statement using k;
        exception when check_violation or data_exception then
            return next k;
        end;
    end loop;
end $$
"""


def _refused_by_database(conn: psycopg.Connection[Any], insert: str, keys: list[str]) -> set[str]:
    """The keys whose row the database's constraints refuse, each tried in its own
    subtransaction, in one round trip; undone. PostgreSQL text cannot hold NUL at all."""
    sendable = [k for k in keys if "\x00" not in k]
    with conn.transaction(force_rollback=True):
        conn.execute(TRY_EACH)
        rows = conn.execute(
            "select pg_temp.refused_keys(%s, %s)", (sendable, insert.replace("%s", "$1"))
        ).fetchall()
    return {k for k in keys if "\x00" in k} | {k for (k,) in rows}


def _applies(conn: psycopg.Connection[Any], state: ConfigState) -> bool:
    """Whether the real apply stores `state`; undone either way."""
    with conn.transaction(force_rollback=True):
        return apply_state(conn, INFO, state, allow_empty=True).outcome is Outcome.APPLIED


def _merged(states: list[ConfigState]) -> ConfigState:
    parameters: dict[Any, Any] = {}
    tables: dict[str, dict[str, Any]] = {}
    for state in states:
        parameters.update(state.parameters)
        for table, rows in state.tables.items():
            tables.setdefault(table, {}).update(rows)
    return ConfigState(parameters, tables)


def test_every_check_constraint_is_accounted_for(db_dsn: str) -> None:
    """The list of CHECK constraints this test reasons about is the database's own list, so a
    new constraint cannot slip past validation unnoticed."""
    with psycopg.connect(db_dsn) as conn:
        rows = conn.execute(
            "select conname from pg_constraint where contype = 'c' and conrelid in"
            " ('config_parameters'::regclass, 'historical_depegs'::regclass,"
            " 'stress_scenarios'::regclass)"
        ).fetchall()
    assert {name for (name,) in rows} == set(CONSTRAINTS)


@pytest.mark.parametrize("place", PLACES, ids=lambda p: p.name)
def test_keys_the_database_refuses_are_refused_by_validation(db_dsn: str, place: Place) -> None:
    """Each candidate key or id (every ASCII character and some others, at the end, in the
    middle and at the start of a valid name) that the database refuses is refused by
    validation, and each one validation accepts is stored by a real apply of its own rows."""
    candidates = _candidates(place.base)
    accepted: list[ConfigState] = []
    verdicts: dict[str, bool] = {}
    for candidate in candidates:
        files = dict(SHIPPED.files)
        place.put(files, candidate)
        result = validate_sources(type(SHIPPED)(files=files, origin="test"))
        verdicts[candidate] = result.ok
        if result.ok:
            assert result.state is not None
            own = place.mine(result.state, candidate)
            assert own.parameters or any(own.tables.values()), (place.name, candidate)
            accepted.append(own)
    with psycopg.connect(db_dsn) as conn:
        refused = _refused_by_database(conn, place.insert, candidates)
        assert refused and accepted
        wrongly_accepted = sorted(k for k in refused if verdicts[k])
        assert not wrongly_accepted, (place.name, wrongly_accepted)
        # The other way round, through the real apply: every row validation accepted, at once.
        assert _applies(conn, _merged(accepted)), place.name
