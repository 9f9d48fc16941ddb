"""The report's pictures, drawn with matplotlib's Agg renderer into PNG bytes.

matplotlib is imported inside the functions: it takes a noticeable part of a second to load,
and only exports need it. The object-oriented API (a `Figure` with its own Agg canvas, no
pyplot) keeps no global state, so a chart drawn in an export's worker thread cannot disturb
anything else. Its bundled DejaVu Sans has æ, ø and å.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

BAR = "#2f6690"
MARK = "#b5523b"
GRID = "#d9dee4"
INK = "#2b2d31"
DPI = 144
# Shown at 96 CSS pixels an inch: the figure's width in inches times 96.
ACTIVITY_INCHES, TERMS_INCHES = (9.0, 2.6), 5.0
ACTIVITY_WIDTH, TERMS_WIDTH = round(ACTIVITY_INCHES[0] * 96), round(TERMS_INCHES * 96)
BIN = timedelta(minutes=5)


def _figure(width: float, height: float) -> tuple[Any, Any]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    # Constrained layout fits labels in while drawing, so each chart is drawn once.
    figure = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    for side in ("left", "bottom"):
        axes.spines[side].set_color(GRID)
    axes.tick_params(colors=INK, labelsize=8)
    return figure, axes


def _png(figure: Any) -> bytes:
    buffer = io.BytesIO()
    # No software/version metadata: the same data draws the same bytes.
    figure.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()


def bins(
    per_minute: Sequence[tuple[datetime, int]], size: timedelta = BIN
) -> list[tuple[datetime, int]]:
    """Per-minute counts gathered into bins of `size`, empty bins included."""
    if not per_minute:
        return []
    step = int(size.total_seconds())

    def floor(moment: datetime) -> datetime:
        seconds = int(moment.timestamp())
        return moment - timedelta(seconds=seconds % step, microseconds=moment.microsecond)

    counts: dict[datetime, int] = {}
    for minute, n in per_minute:
        key = floor(minute)
        counts[key] = counts.get(key, 0) + n
    first, last = min(counts), max(counts)
    out, moment = [], first
    while moment <= last:
        out.append((moment, counts.get(moment, 0)))
        moment += size
    return out


def activity_png(
    per_minute: Sequence[tuple[datetime, int]],
    starts: Sequence[tuple[datetime, str]],
    *,
    ylabel: str,
    tz: Any,
) -> bytes:
    """Inputs per five minutes at one site, in the event's local time, with a marked line
    where each agenda item started."""
    from matplotlib.dates import DateFormatter, MinuteLocator

    figure, axes = _figure(*ACTIVITY_INCHES)
    binned = bins(per_minute)
    if binned:
        axes.bar(
            [moment + BIN / 2 for moment, _ in binned],
            [n for _, n in binned],
            width=BIN * 0.85,
            color=BAR,
        )
    top = max((n for _, n in binned), default=1)
    axes.set_ylim(0, top * 1.35 + 0.5)
    for moment, label in starts:
        axes.axvline(moment, color=MARK, linewidth=0.8, linestyle=(0, (3, 2)))
        short = label if len(label) <= 22 else label[:21] + "…"
        axes.annotate(
            short,
            (moment, 1.0),
            xycoords=("data", "axes fraction"),
            xytext=(2, -2),
            textcoords="offset points",
            rotation=90,
            va="top",
            ha="left",
            fontsize=6.5,
            color=MARK,
        )
    moments = [m for m, _ in binned] + [m for m, _ in starts]
    if moments:
        axes.set_xlim(min(moments) - BIN, max(moments) + 2 * BIN)
    # matplotlib.dates has no type annotations.
    locator = MinuteLocator(byminute=[0, 30], tz=tz)  # type: ignore[no-untyped-call]
    formatter = DateFormatter("%H:%M", tz=tz)  # type: ignore[no-untyped-call]
    axes.xaxis.set_major_locator(locator)
    axes.xaxis.set_major_formatter(formatter)
    axes.yaxis.get_major_locator().set_params(integer=True)
    axes.set_ylabel(ylabel, fontsize=8, color=INK)
    axes.grid(axis="y", color=GRID, linewidth=0.6)
    axes.set_axisbelow(True)
    return _png(figure)


def terms_png(terms: Sequence[tuple[str, int]], *, xlabel: str) -> bytes:
    """The most frequent words as horizontal bars, the most frequent on top."""
    figure, axes = _figure(TERMS_INCHES, 0.6 + 0.24 * max(len(terms), 3))
    words = [word for word, _ in reversed(terms)]
    counts = [n for _, n in reversed(terms)]
    axes.barh(words, counts, color=BAR, height=0.7)
    for y, n in enumerate(counts):
        axes.annotate(
            str(n),
            (n, y),
            xytext=(3, 0),
            textcoords="offset points",
            va="center",
            fontsize=7,
            color=INK,
        )
    axes.set_xlim(0, max(counts, default=1) * 1.15)
    axes.xaxis.get_major_locator().set_params(integer=True)
    axes.set_xlabel(xlabel, fontsize=8, color=INK)
    axes.tick_params(axis="y", length=0, labelsize=8.5)
    axes.grid(axis="x", color=GRID, linewidth=0.6)
    axes.set_axisbelow(True)
    return _png(figure)
