"""Geometry of the console's two inline SVG charts, computed here so the templates only place it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from syncd.console.pages import Bars, Chart

WIDTH, HEIGHT = 640, 200
_LEFT, _RIGHT, _TOP, _BOTTOM = 64, 12, 12, 28


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _label(value: float) -> str:
    return f"{value:.6g}"


def value_chart(
    points: Sequence[tuple[dt.datetime, object, str]], now: dt.datetime
) -> Chart | None:
    """A step line of a numeric value over time (oldest first; each point's kind of change
    names its dot's class), held until `now`; None when no value is a number."""
    numeric = [(when, v, kind) for when, raw, kind in points if (v := _number(raw)) is not None]
    if not numeric:
        return None
    start = numeric[0][0].timestamp()
    end = max(now.timestamp(), numeric[-1][0].timestamp())
    span = (end - start) or 1.0
    low = min(v for _, v, _ in numeric)
    high = max(v for _, v, _ in numeric)
    if high == low:
        low, high = low - (abs(low) or 1.0) * 0.1, high + (abs(high) or 1.0) * 0.1
    plot_w, plot_h = WIDTH - _LEFT - _RIGHT, HEIGHT - _TOP - _BOTTOM

    def x(stamp: float) -> float:
        return round(_LEFT + (stamp - start) / span * plot_w, 1)

    def y(value: float) -> float:
        return round(_TOP + (high - value) / (high - low) * plot_h, 1)

    coords: list[tuple[float, float]] = []
    dots = []
    for when, value, kind in numeric:
        px, py = x(when.timestamp()), y(value)
        if coords:
            coords.append((px, coords[-1][1]))
        coords.append((px, py))
        label = f"{_label(value)} at {when.isoformat(timespec='seconds')} ({kind})"
        dots.append((px, py, label, kind.replace(" ", "-")))
    coords.append((x(end), coords[-1][1]))
    y_labels = tuple((y(v), _label(v)) for v in (high, (high + low) / 2, low))
    shape = "%Y-%m-%d" if span > 2 * 86400 else "%m-%d %H:%M"
    x_labels = tuple(
        (float(px), dt.datetime.fromtimestamp(stamp, dt.UTC).strftime(shape))
        for px, stamp in ((_LEFT, start), (WIDTH - _RIGHT, end))
    )
    return Chart(
        WIDTH,
        HEIGHT,
        " ".join(f"{a},{b}" for a, b in coords),
        tuple(dots),
        y_labels,
        x_labels,
    )


def hour_bars(counts: dict[dt.datetime, int], days: int, now: dt.datetime) -> Bars:
    """One bar per hour of the last `days` days (hours without changes have none)."""
    hours = days * 24
    first = now.replace(minute=0, second=0, microsecond=0) - dt.timedelta(hours=hours - 1)
    plot_w, plot_h = WIDTH - _LEFT - _RIGHT, HEIGHT - _TOP - _BOTTOM
    step = plot_w / hours
    peak = max(counts.values(), default=0)
    bars = []
    for hour, count in sorted(counts.items()):
        index = int((hour - first).total_seconds() // 3600)
        if not 0 <= index < hours or count <= 0:
            continue
        height = max(1.0, count / peak * plot_h)
        bars.append(
            (
                round(_LEFT + index * step, 2),
                round(_TOP + plot_h - height, 2),
                round(max(step - 0.5, 0.5), 2),
                round(height, 2),
                f"{count} change(s) in the hour from {hour.isoformat(timespec='minutes')}",
            )
        )
    midnight = (first + dt.timedelta(days=1)).replace(hour=0)
    labels = tuple(
        (
            round(_LEFT + (day - first).total_seconds() / 3600 * step, 1),
            day.strftime("%m-%d"),
        )
        for day in (midnight + dt.timedelta(days=n) for n in range(days))
        if (day - first).total_seconds() / 3600 * step < plot_w - 32  # room for its text
    )
    return Bars(WIDTH, HEIGHT, tuple(bars), labels, peak)
