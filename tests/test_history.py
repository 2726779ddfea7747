"""`syncd history`: the commits that changed one value and when each reached the database."""

from __future__ import annotations

import psycopg

from syncd.sync.pipeline import apply_commit
from tests.support import ConfigRepo
from tests.support import syncd_cli as cli

PRICING = "config/pricing.yaml"


def test_history_of_one_value(repo: ConfigRepo, db_dsn: str):
    """history lists each commit that changed a value and when it reached the database."""
    apply_commit(repo.path, "HEAD", db_dsn)
    first = repo.change(PRICING, "USDC: 0.04", "USDC: 0.05", "Raise USDC")
    repo.change(PRICING, "USDT: 0.06", "USDT: 0.061", "Unrelated change")
    apply_commit(repo.path, "HEAD", db_dsn)
    code, out = cli("history", "pricing.base_rate_USDC", "--repo", str(repo.path), "--dsn", db_dsn)
    assert code == 0, out
    assert "Raise USDC" in out and "0.04 -> 0.05" in out
    assert "Unrelated change" not in out
    assert first[:12] in out


def test_history_shows_drift_and_its_correction_in_order(repo: ConfigRepo, db_dsn: str):
    """history lists a hand edit and the correction that put it back, oldest first."""
    apply_commit(repo.path, "HEAD", db_dsn)
    with psycopg.connect(db_dsn) as conn:
        conn.execute("update config_parameters set value = '0.5' where key = 'base_rate_GHO'")
    apply_commit(repo.path, "HEAD", db_dsn)
    code, out = cli("history", "pricing.base_rate_GHO", "--repo", str(repo.path), "--dsn", db_dsn)
    assert code == 0, out
    tail = out.split("\nnotes:")[0].splitlines()[-2:]
    assert tail[0].endswith("UPDATE 0.065 -> 0.5: changed by hand (drift)")
    assert tail[1].endswith(
        f"UPDATE 0.5 -> 0.065: put back by syncd to {repo.head()[:12]} (drift correction)"
    )


def test_history_of_an_unknown_key_fails(repo: ConfigRepo, db_dsn: str):
    """history of a key that never existed says so and exits 1."""
    code, out = cli("history", "pricing.base_rate_NOPE", "--repo", str(repo.path), "--dsn", db_dsn)
    assert code == 1 and "no commit on this branch defines it" in out


def test_history_explains_its_notes(repo: ConfigRepo, db_dsn: str):
    """A commit that reached the database with a later one shows "(with X)", one not applied
    shows "not applied to this database", and a notes section says what each of them and
    "unverified" means."""
    apply_commit(repo.path, "HEAD", db_dsn)
    skipped = repo.change(PRICING, "USDC: 0.04", "USDC: 0.05", "Raise USDC")
    carrier = repo.change(PRICING, "USDT: 0.06", "USDT: 0.061", "Unrelated change")
    apply_commit(repo.path, "HEAD", db_dsn)
    pending = repo.change(PRICING, "USDC: 0.05", "USDC: 0.055", "Raise USDC again")
    code, out = cli("history", "pricing.base_rate_USDC", "--repo", str(repo.path), "--dsn", db_dsn)
    assert code == 0, out
    lines = out.splitlines()
    at = lines.index(next(x for x in lines if x.startswith(f"  {skipped[:12]}")))
    assert lines[at + 1].endswith(f"(with {carrier[:12]})")
    at = lines.index(next(x for x in lines if x.startswith(f"  {pending[:12]}")))
    assert lines[at + 1].endswith("in the database: not applied to this database")
    notes = lines[lines.index("notes:") + 1 :]
    assert [n.split(":")[0].strip() for n in notes] == [
        "(with X)",
        "unverified",
        "not applied to this database",
    ]


def test_history_of_a_table_row_shows_the_field_that_moved(repo: ConfigRepo, db_dsn: str):
    """A change to one field of a table row shows that field's old and new value, not the whole
    row twice."""
    apply_commit(repo.path, "HEAD", db_dsn)
    text = repo.file("config/stress_scenarios.yaml").read_text()
    start = text.index("  - id: crypto_crash\n")
    at = text.index("      USDT: -0.03\n", start)
    repo.write(
        "config/stress_scenarios.yaml",
        text[:at] + "      USDT: -0.05\n" + text[at + len("      USDT: -0.03\n") :],
    )
    sha = repo.commit("Crypto crash: USDT to $0.95")
    apply_commit(repo.path, "HEAD", db_dsn)
    code, out = cli(
        "history", "stress_scenarios.crypto_crash", "--repo", str(repo.path), "--dsn", db_dsn
    )
    assert code == 0, out
    lines = out.splitlines()
    at_line = lines.index(next(x for x in lines if x.startswith(f"  {sha[:12]}")))
    assert lines[at_line + 1].strip().startswith(
        "price_impacts.USDT: -0.03 -> -0.05; in the database"
    )
