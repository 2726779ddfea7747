"""The `tonsurance` command: a premium quote from the configuration syncd put in the database.

Errors are handled once, at the boundary (`tonsurance.cli.boundary`): one line
`tonsurance: error: ...` on stderr and an exit code (0 ok, 1 invalid, 2 usage, 3 unavailable).
"""

from __future__ import annotations

import logging
import math

import click

from tonsurance.cli import boundary as cliboundary
from tonsurance.config.layout import CONFIG_DIR, default_root
from tonsurance.config.environments import DEFAULT_ENVIRONMENT, check_name, environment_from_env
from tonsurance.config.loader import ConfigLoader
from tonsurance.config.served import check_served
from tonsurance.config.model import Snapshot
from tonsurance.db import describe, resolve_dsn
from tonsurance.errors import UsageProblem
from tonsurance.pricing import Quote, calculate_premium

log = logging.getLogger("tonsurance")
log.addHandler(logging.NullHandler())

PROG = "tonsurance"


class ErrorBoundary(cliboundary.ErrorBoundary):
    """The shared error boundary, with `tonsurance:` before every error line."""

    prog = PROG


@click.group(cls=ErrorBoundary)
@click.option("--debug", is_flag=True, help="Print tracebacks of unexpected errors.")
def main(debug: bool) -> None:
    """Tonsurance pricing from the configuration synced from git."""


def load_snapshot(dsn: str | None, environment: str | None = None) -> tuple[Snapshot, str | None]:
    """The database's snapshot, else `environment`'s file defaults with the reason the database
    failed; InvalidConfig when the database serves another environment."""
    name = environment or environment_from_env()
    loader = ConfigLoader(dsn, listen=False, environment=name)
    try:
        loader.start(background=False)
        snap = loader.snapshot
        reason = None if snap.source == "database" else loader.stats()["last_error"]
    finally:
        loader.stop()
    if snap.source == "database":
        check_served(dsn, name)
    return snap, reason


def _usd(amount: float) -> str:
    return f"{amount:,.2f} USD"


def _cents(cents: int) -> str:
    return f"{cents // 100:,}.{cents % 100:02d} USD"


def render_quote(
    quote: Quote, snap: Snapshot, coverage_usd: float, days: int, dsn: str | None
) -> str:
    """The premium, each factor that made it, and where the configuration came from."""
    p = snap.pricing
    rate_note = "" if quote.asset in p.base_rate else f"  (no rate for {quote.asset}: default rate)"
    minimum_note = "  (applied)" if quote.minimum_applied else ""
    if snap.source == "database":
        origin = f"database {describe(resolve_dsn(dsn))}, commit {snap.commit}"
    else:
        origin = f"file defaults in {default_root() / CONFIG_DIR}"
    lines = [
        f"{quote.asset}: {_usd(coverage_usd)} of coverage for {days} days",
        f"premium              {_cents(quote.premium_cents)}",
        f"  base rate          {quote.base_rate:.6f} a year{rate_note}",
        f"  risk factor        {quote.risk_factor:.6f}",
        f"  trigger factor     {quote.trigger_factor:.6f}",
        f"  size factor        {quote.size_factor:.6f}",
        f"  utilization mult.  {quote.utilization_multiplier:.6f}",
        f"  claims factor      {quote.claims_factor:.6f}",
        f"  duration factor    {quote.duration_factor:.6f}"
        f"  (sqrt({days} / {p.duration_base_days}))",
        f"  rated premium      {_usd(quote.computed_usd)}",
        f"  minimum premium    {_usd(quote.minimum_usd)}{minimum_note}",
        f"configuration: {origin}",
    ]
    return "\n".join(lines)


def _finite(name: str, value: float | None) -> None:
    if value is not None and not math.isfinite(value):
        raise UsageProblem(f"{name} must be a finite number, got {value}")


@main.command(context_settings={"ignore_unknown_options": True})
@click.argument("asset")
@click.argument("coverage_usd", type=float, metavar="COVERAGE_USD")
@click.option(
    "--days",
    type=int,
    default=None,
    metavar="N",
    help="Policy duration in days, 1 or more; default the configured duration_base_days.",
)
@click.option(
    "--trigger",
    type=float,
    default=None,
    metavar="PRICE",
    help="Trigger price, in (0, 1]; default the base trigger.",
)
@click.option(
    "--utilization",
    type=float,
    default=0.0,
    show_default=True,
    metavar="U",
    help="Vault utilization, 0 to 1.",
)
@click.option(
    "--risk-score",
    "risk_scores",
    multiple=True,
    metavar="FACTOR=SCORE",
    help="A risk score in [0, 1] for one weighted factor, e.g. reserve_quality=0.4; repeatable.",
)
@click.option(
    "--loss-ratio",
    type=float,
    default=None,
    metavar="RATIO",
    help="The book's loss ratio (0 or more) for the claims adjustment; default the target loss"
    " ratio.",
)
@click.option(
    "--dsn",
    default=None,
    metavar="DSN",
    callback=cliboundary.remember_dsn,
    help="Database address; default TONSURANCE_DSN, else libpq's PG* variables.",
)
@click.option(
    "--environment",
    default=DEFAULT_ENVIRONMENT,
    show_default=True,
    envvar="SYNCD_ENVIRONMENT",
    metavar="NAME",
    callback=lambda ctx, param, value: check_name(value),
    help="The environment whose configuration to quote with (its file defaults when the database"
    " is down); a database serving another one is refused.",
)
def quote(
    asset: str,
    coverage_usd: float,
    days: int | None,
    trigger: float | None,
    utilization: float,
    risk_scores: tuple[str, ...],
    loss_ratio: float | None,
    dsn: str | None,
    environment: str,
) -> None:
    """Quote the premium for COVERAGE_USD of ASSET (file defaults if the database is down)."""
    for name, value in (
        ("coverage", coverage_usd),
        ("trigger", trigger),
        ("utilization", utilization),
        ("loss ratio", loss_ratio),
    ):
        _finite(name, value)
    _check_ranges(coverage_usd, days, trigger, utilization, loss_ratio)
    scores = _parse_scores(risk_scores)
    snap, reason = load_snapshot(dsn, environment)
    if reason is not None:
        click.echo(f"{PROG}: warning: using the file defaults; {reason}", err=True)
    _check_spelling(asset, snap)
    if days is None:
        days = snap.pricing.duration_base_days
    result = calculate_premium(
        snap,
        asset,
        coverage_usd,
        days,
        trigger,
        utilization=utilization,
        risk_scores=scores or None,
        loss_ratio=loss_ratio,
    )
    click.echo(render_quote(result, snap, coverage_usd, days, dsn))


def _check_ranges(
    coverage_usd: float,
    days: int | None,
    trigger: float | None,
    utilization: float,
    loss_ratio: float | None,
) -> None:
    """Each input inside the range its help names, else one usage line naming it."""
    if not coverage_usd > 0:
        raise UsageProblem(f"coverage must be a positive amount of USD, got {coverage_usd:g}")
    if days is not None and days < 1:
        raise UsageProblem(f"--days must be 1 or more, got {days}")
    if trigger is not None and not 0 < trigger <= 1:
        raise UsageProblem(f"trigger price must be in (0, 1], got {trigger:g}")
    if not 0 <= utilization <= 1:
        raise UsageProblem(f"--utilization must be between 0 and 1, got {utilization:g}")
    if loss_ratio is not None and not loss_ratio >= 0:
        raise UsageProblem(f"--loss-ratio must be 0 or more, got {loss_ratio:g}")


def _check_spelling(asset: str, snap: Snapshot) -> None:
    """An asset that matches a priced one only when case is ignored is refused with the right
    spelling: symbols are case-sensitive, and a near miss would quietly get the default rate."""
    if asset in snap.pricing.base_rate:
        return
    for known in sorted(snap.pricing.base_rate):
        if known.casefold() == asset.casefold():
            raise UsageProblem(
                f"no asset {asset!r}: asset symbols are case-sensitive; did you mean {known}?"
            )


def _parse_scores(pairs: tuple[str, ...]) -> dict[str, float]:
    """`FACTOR=SCORE` options as a dict; a malformed one is a usage error naming it."""
    scores: dict[str, float] = {}
    for pair in pairs:
        factor, sep, text = pair.partition("=")
        try:
            score = float(text)
        except ValueError:
            score = math.nan
        if not sep or not factor or not math.isfinite(score):
            raise UsageProblem(
                f"--risk-score {pair!r}: expected FACTOR=SCORE with a number, e.g. reserve_quality=0.4"
            )
        if not 0 <= score <= 1:
            raise UsageProblem(f"--risk-score {pair!r}: the score must be between 0 and 1")
        scores[factor] = score
    return scores
