"""Plans show what changed inside a table row, leaf by leaf, in text and markdown."""

from __future__ import annotations

from syncd.sync.rowdiff import describe, leaf_changes
from syncd.sync.diff import RowChange
from tests.support import ConfigRepo
from tests.support import syncd_cli as cli

CRASH_USDT = "  - id: crypto_crash\n"


def change_crash(repo: ConfigRepo) -> None:
    text = repo.file("config/stress_scenarios.yaml").read_text()
    start = text.index(CRASH_USDT)
    at = text.index("      USDT: -0.03\n", start)
    edited = text[:at] + "      USDT: -0.05\n" + text[at + len("      USDT: -0.03\n") :]
    repo.write("config/stress_scenarios.yaml", edited)
    repo.commit("Crypto crash: USDT to $0.95")


def test_text_plan_names_the_leaf_that_changed(repo: ConfigRepo) -> None:
    """`plan --base --head` in text shows `price_impacts.USDT: -0.03 -> -0.05` for the row, and
    never the whole price_impacts mapping."""
    change_crash(repo)
    code, out = cli("plan", "--repo", str(repo.path), "--base", "HEAD~1", "--head", "HEAD")
    assert code == 0, out
    line = next(x for x in out.splitlines() if "stress_scenarios[crypto_crash]" in x)
    assert line.strip() == "~ stress_scenarios[crypto_crash]: price_impacts.USDT: -0.03 -> -0.05"
    assert "{" not in out.split("Premiums")[0]


def test_markdown_plan_names_the_leaf_that_changed(repo: ConfigRepo) -> None:
    """The markdown plan's row table says which leaf moved and from what to what."""
    change_crash(repo)
    code, out = cli(
        "plan",
        "--repo",
        str(repo.path),
        "--base",
        "HEAD~1",
        "--head",
        "HEAD",
        "--format",
        "markdown",
    )
    assert code == 0, out
    assert "| ~ | stress_scenarios | `crypto_crash` | price_impacts.USDT: -0.03 -> -0.05 |" in out


def test_added_removed_and_list_leaves() -> None:
    """Keys that appear or go show (absent) on their missing side (a new mapping once, whole), lists are compared by index,
    nested dicts by key, and a long change is cut with a count of the rest."""
    old = {"a": 1, "m": {"x": 1, "gone": 2}, "l": ["p", "q"]}
    new = {"a": 1, "m": {"x": 3, "new": {"deep": 4}}, "l": ["p", "r", "s"]}
    change = RowChange("change", "t", "r1", old, new)
    assert [leaf.text() for leaf in leaf_changes(change)] == [
        "m.x: 1 -> 3",
        "m.gone: 2 -> (absent)",
        'm.new: (absent) -> {"deep": 4}',
        "l[1]: q -> r",
        "l[2]: (absent) -> s",
    ]
    assert describe(change, limit=2) == ["m.x: 1 -> 3", "m.gone: 2 -> (absent)", "and 3 more"]
