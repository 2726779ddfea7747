"""What the configuration version (migration 010) adds to each statement that writes the
configuration: its trigger, enabled and disabled in turn, on the same table and rows.

    .venv/bin/python bench/bench_version_trigger.py [--statements 2000] [--rounds 10]

In a fresh migrated database on the local server (TONSURANCE_TEST_ADMIN_DSN, default the
postgres user on 127.0.0.1:5432), a PL/pgSQL loop runs single-row UPDATEs of
`config_parameters` (100 rows, in turn) inside the server, so no client round trip is timed:
once all in one transaction (the trigger bumps the version at the first and finds it bumped at
the others), once each in its own transaction (every one bumps it and sends a NOTIFY). Each
round times both with the version trigger enabled and then disabled (the audit trigger stays on
in both); the table shows the best and median microseconds per UPDATE.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root, for tests
from syncd.sync.migrate import migrate
from tests.support import fresh_database

LOOP = """
create function bench_updates(n int) returns float8 language plpgsql as $$
declare
    started timestamptz := clock_timestamp();
begin
    for i in 1..n loop
        update config_parameters set description = 'bench ' || i
         where category = 'pricing' and key = 'k' || (i % 100 + 1);
    end loop;
    return extract(epoch from clock_timestamp() - started) * 1e6 / n;
end
$$;
create procedure bench_commits(n int, inout us float8 default null) language plpgsql as $$
declare
    started timestamptz := clock_timestamp();
begin
    for i in 1..n loop
        update config_parameters set description = 'bench ' || i
         where category = 'pricing' and key = 'k' || (i % 100 + 1);
        commit;
    end loop;
    us := extract(epoch from clock_timestamp() - started) * 1e6 / n;
end
$$
"""
CASES = {
    "statements": "select bench_updates(%s)",
    "transactions": "call bench_commits(%s)",
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--statements", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=10)
    options = parser.parse_args()
    timings: dict[tuple[str, str], list[float]] = {}
    with fresh_database() as dsn:
        migrate(dsn)
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(
                "insert into config_parameters (category, key, value, value_type, description)"
                " select 'pricing', 'k' || g, '1', 'int', '' from generate_series(1, 100) g"
            )
            conn.execute(LOOP)
            for _ in range(options.rounds):
                for case, statement in CASES.items():
                    for state in ("enabled", "disabled"):
                        verb = "enable" if state == "enabled" else "disable"
                        conn.execute(
                            f"alter table config_parameters {verb} trigger"  # type: ignore[arg-type]
                            " config_parameters_version"
                        )
                        conn.execute("vacuum config_parameters, config_version")
                        row = conn.execute(statement, (options.statements,)).fetchone()  # type: ignore[arg-type]
                        assert row is not None
                        timings.setdefault((case, state), []).append(float(row[0]))
    print(
        f"{options.rounds} rounds x {options.statements} single-row UPDATEs, timed inside the"
        " server: all in one transaction, or each in its own (a COMMIT after each)"
    )
    print(f"{'UPDATEs':14} {'version trigger':16} {'best us':>9} {'median us':>10}")
    for (case, state), values in timings.items():
        print(f"{case:14} {state:16} {min(values):9.1f} {statistics.median(values):10.1f}")
    for case in CASES:
        added = min(timings[(case, "enabled")]) - min(timings[(case, "disabled")])
        print(f"added per UPDATE, {case} (best vs best): {added:.1f} us")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
