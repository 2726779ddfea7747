"""Every sentence of the project that speaks for the source document says what the document says.

A line of the README, BENCHMARKS.md, config/, schemas/, migrations/, deploy/, bench/ or the
Python packages that mentions the source document must hold one of the claims below, and each
claim names the document lines that give it (words that must be there) or the words the document
must not hold (for "the document gives no ..."). A new mention fails until it is checked here.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
REPORT = ROOT / "tests" / "data" / "source_report.txt"
SCANNED = (
    "README.md",
    "BENCHMARKS.md",
    "config",
    "schemas",
    "migrations",
    "deploy",
    "bench",
    "tonsurance",
    "syncd",
)
MENTION = re.compile(
    r"source document|source's|phase 2|the report\b|configuration report|the seed\b|the document\b",
    re.IGNORECASE,
)
COMMENT_MARK = re.compile(r"^\s*(?:#|--|//)?\s*")


@dataclass(frozen=True)
class Claim:
    """`fragment` on a line of `file`, true because the document has `present` (line -> words)
    and lacks `absent` (words, case-insensitive, anywhere in the document)."""

    file: str
    fragment: str
    present: tuple[tuple[int, str], ...] = ()
    absent: tuple[str, ...] = ()


NOTABLE = ((60, "USDC @ $0.88"), (61, "USDT @ $0.95"), (62, "FRAX @ $0.88"), (63, "GHO @ $0.96"))
EVENTS_BY_ASSET = ((443, "**14 Depeg Events:**"), (444, "- USDC: 2 (SVB crisis, minor 2022)"))
CURVES = ((413, "Curve: Flat"), (418, "Curve: Logarithmic"), (428, "Curve: Sigmoidal"))
DASHBOARD = (
    (685, "config_cache_hits"),
    (686, "config_cache_requests"),
    (703, "config_cache_entries"),
    (710, "config_db_query_duration_seconds"),
)
GET_STRING = ((132, "get_string(category, key, default)"),)
DEPEGS = "config/historical_depegs.yaml"
SCENARIOS = "config/stress_scenarios.yaml"

CLAIMS = (
    Claim(
        "README.md",
        "(the source document gives the pricing",
        ((391, "Duration base: 90 days"),),
        ("formula", "sqrt", "square root"),
    ),
    Claim(
        "README.md",
        "are also this project's choices, kept in `config/` like the document's values.",
        absent=("floor", "steepness", "depeg threshold"),
    ),
    Claim(
        "README.md",
        "The source document's alerts map onto these",
        (
            (718, "Cache hit rate <90% for 5 minutes"),
            (720, "Database connection failures"),
            (723, "Cache hit rate <95% for 15 minutes"),
            (724, "Config update frequency >10/hour"),
            (725, "Auto-reload failed to run"),
            (719, "Admin API returning 500 errors"),
            (728, "New config parameter added"),
            (729, "Config rollback detected"),
            (730, "Unusual admin API access pattern"),
        ),
    ),
    Claim(
        "README.md",
        "the source document's four panels (cache performance from `config_cache_hits` /",
        (
            (682, "Panel 1: Cache Performance"),
            (690, "Panel 2: Config Update Frequency"),
            (701, "Panel 3: Cache Size"),
            (707, "Panel 4: Database Query Latency"),
            *DASHBOARD,
        ),
    ),
    Claim(
        "README.md",
        "lists the 14 events the source document names.",
        ((53, "14 verified depeg events across 11 stablecoins"), *EVENTS_BY_ASSET),
    ),
    Claim("README.md", "the document's own figures (USDC $0.88 for 48 h in March 2023", NOTABLE),
    Claim("README.md", "as in the document's risk model", ((494, "verified=true"),)),
    Claim("README.md", "pins every value the document gives to its line", ((368, "USDC: 4.0%"),)),
    Claim("README.md", "(also `get_string`, the source document's name)", GET_STRING),
    Claim("README.md", "The source document's dashboard names are exported as they are", DASHBOARD),
    Claim(
        "config/tranche.yaml",
        "The source document names the curve types but gives no formulas",
        CURVES,
        ("formula", "steepness"),
    ),
    Claim(
        "tonsurance/config/loader.py",
        "this registers the source document's names (`config_cache_hits`",
        DASHBOARD,
    ),
    Claim(
        "tonsurance/config/metrics.py",
        "The source document's dashboard names are kept where they mean the same thing",
        DASHBOARD,
    ),
    Claim("tonsurance/config/metrics.py", "and the source document's cache metrics.", DASHBOARD),
    Claim(
        "tonsurance/config/reads.py",
        "get_string = get_str # the source document's name",
        GET_STRING,
    ),
    Claim(DEPEGS, "as in the Phase 2 report's risk model", ((494, "verified=true"),)),
    Claim(
        DEPEGS,
        "the Tonsurance Phase 2 configuration report of 2025-10-15",
        ((1, "Phase 2"), (3, "October 15, 2025"), (59, "Notable Events")),
    ),
    Claim(DEPEGS, 'Events"), which gives the month and year but not the day', NOTABLE),
    Claim(DEPEGS, "the report by asset and cause only, without figures", EVENTS_BY_ASSET),
    Claim(DEPEGS, "Tonsurance Phase 2 configuration report, 2025-10-15, Notable Events:", NOTABLE),
    Claim(DEPEGS, "The report lists this", EVENTS_BY_ASSET),
    Claim("config/pricing.yaml", "Not from the source document, which", absent=("floor",)),
    Claim("config/risk.yaml", "as the source document gives it", ((405, "Risk-free rate: 5%"),)),
    Claim(
        "config/risk.yaml",
        "Carlo VaR (an event with a low under $0.99). Not from the source document,",
        absent=("depeg threshold", "depeg_threshold"),
    ),
    Claim(
        SCENARIOS,
        "Severities, probabilities and BTC changes come from the Phase 2 report,",
        (
            (81, "High severity, 2% annual probability"),
            (82, "BTC +27%"),
            (85, "High severity, 5% annual probability"),
            (86, "BTC -50%"),
            (89, "Extreme severity, 1% annual probability"),
            (93, "Extreme severity, 0.5% annual probability"),
            (95, "(+50%)"),
        ),
    ),
    Claim(SCENARIOS, "crisis comes from the report", ((82, "USDC → $0.88"),)),
    Claim(SCENARIOS, "from the report: USDC at $0.88", ((82, "USDC → $0.88"),)),
    Claim(
        SCENARIOS,
        "(the report gives no figure)",
        ((89, "**Regulatory Shutdown**"), (90, "offline"), (91, "USDC/USDT/BUSD most impacted")),
    ),
    Claim(
        "deploy/grafana/tonsurance-config.json",
        "Source document panel 2: per hour, the parameters and table rows applied commits added,",
        (
            (690, "Panel 2: Config Update Frequency"),
            (693, "DATE_TRUNC('hour', changed_at)"),
            (694, "COUNT(*) AS update_count"),
            (695, "FROM config_audit_log"),
        ),
    ),
    Claim(
        "deploy/grafana/tonsurance-config.json",
        "Source document panel 3: parameters in each service's snapshot (config_cache_entries).",
        ((701, "Panel 3: Cache Size"), (703, "config_cache_entries")),
    ),
    Claim(
        "deploy/grafana/tonsurance-config.json",
        "Source document panel 4: p95 of the loader's database reads",
        (
            (707, "Panel 4: Database Query Latency"),
            (709, "histogram_quantile(0.95,"),
            (710, "config_db_query_duration_seconds_bucket"),
            (713, "Target: <0.010 (10ms)"),
        ),
    ),
    Claim(
        "deploy/grafana/tonsurance-config.json",
        "Source document panel 1: share of typed reads",
        ((682, "Panel 1: Cache Performance"), (688, "Target: >95%")),
    ),
    Claim(
        "schemas/pricing.schema.json",
        "A project parameter: the source document gives no floor.",
        absent=("floor",),
    ),
    Claim(
        "schemas/risk.schema.json",
        "A project parameter: the source document gives no VaR depeg threshold.",
        absent=("depeg threshold", "depeg_threshold"),
    ),
    Claim(
        "schemas/tranche.schema.json",
        "the source document names the curve types but gives no formulas.",
        CURVES,
        ("formula", "steepness"),
    ),
    Claim(
        "tonsurance/pricing.py",
        "(the source document gives",
        ((373, "**Risk Adjustment Weights (5 factors):**"),),
        ("score",),
    ),
    Claim(
        "tonsurance/pricing.py",
        'the source document lists a "Duration base:',
        ((391, "Duration base: 90 days"),),
        ("formula", "sqrt", "square root"),
    ),
    Claim(
        "tonsurance/tranches.py",
        "The source document names the curve types but gives no formulas and no steepness",
        CURVES,
        ("formula", "steepness"),
    ),
)


def flowing(text: str) -> str:
    """The text as one line: comment marks at line starts dropped, whitespace runs made one space,
    so a sentence reads the same however it is wrapped."""
    return " ".join(COMMENT_MARK.sub("", line) for line in text.splitlines()).strip()


def mentions() -> list[tuple[str, str, re.Match[str]]]:
    """(file, its flowing text, match) of every mention of the source document."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--", *SCANNED],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    found = []
    for name in filter(None, listed.split("\0")):
        path = ROOT / name
        if not path.is_file():
            continue
        try:
            text = " ".join(flowing(path.read_text(encoding="utf-8")).split())
        except UnicodeDecodeError:
            continue
        found.extend((name, text, match) for match in MENTION.finditer(text))
    return found


def test_every_mention_of_the_source_document_is_a_checked_claim():
    """No sentence speaks for the source document without a claim below that covers it."""
    unchecked = [
        f"{name}: {text[max(0, match.start() - 60) : match.end() + 60]!r}"
        for name, text, match in mentions()
        if not any(c.file == name and covers(c.fragment, text, match) for c in CLAIMS)
    ]
    assert unchecked == [], (
        "a sentence speaks for the source document: check it against tests/data/source_report.txt"
        " and add a Claim to CLAIMS naming the lines that give it"
    )


def covers(fragment: str, text: str, match: re.Match[str]) -> bool:
    """True when an occurrence of `fragment` in `text` spans the whole mention `match`."""
    start = text.find(fragment)
    while start >= 0:
        if start <= match.start() and match.end() <= start + len(fragment):
            return True
        start = text.find(fragment, start + 1)
    return False


@pytest.mark.parametrize("claim", CLAIMS, ids=lambda c: f"{c.file}:{c.fragment[:30]}")
def test_claim_is_in_its_file_and_the_document_supports_it(claim: Claim):
    """The claim's words are in its file, the document has the words it rests on, and lacks
    the ones the claim says it does not give."""
    text = " ".join(flowing((ROOT / claim.file).read_text(encoding="utf-8")).split())
    assert claim.fragment in text
    lines = REPORT.read_text(encoding="utf-8").splitlines()
    assert [(n, w) for n, w in claim.present if w not in lines[n - 1]] == []
    whole = REPORT.read_text(encoding="utf-8").lower()
    assert [w for w in claim.absent if w.lower() in whole] == []
