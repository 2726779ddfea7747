"""The README's `/status` keys and its sample `/status` document are the daemon's own keys."""

from __future__ import annotations

import json
import re
from pathlib import Path

from syncd.daemon.runstate import RunState

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def real_document() -> dict[str, object]:
    state = RunState(repo="/srv/repo", branch="main", self_heal=True)
    state.attempt = {"commit": "a" * 40, "outcome": "applied", "at": "now", "error": None}
    return state.as_json()


def test_the_status_row_names_every_key_and_no_other() -> None:
    """The `GET /status` row of the endpoint table names exactly the top-level keys of /status."""
    row = next(line for line in README.splitlines() if line.startswith("| `GET /status` |"))
    described = row.split("|")[2]
    top_level = set(re.findall(r"`([a-z_]+)`", re.sub(r"\([^)]*\)", "", described)))
    assert top_level == set(real_document())


def test_the_sample_status_document_has_the_real_keys() -> None:
    """The README's sample /status JSON has the daemon's keys, nested ones included."""
    sample = json.loads(re.search(r"```json\n(\{\n  \"repo\".*?)```", README, re.DOTALL)[1])
    real = real_document()
    assert list(sample) == list(real)
    for nested in ("last_attempt", "drift"):
        assert set(sample[nested]) == set(real[nested]), nested  # type: ignore[arg-type]
