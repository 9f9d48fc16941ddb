"""The report's pictures: inline SVG built as text for the HTML report, and PNG drawn with
matplotlib's Agg renderer for the Markdown report's picture files.

The SVG charts need no library and cost a millisecond each, so a report of fifty sites with
hundreds of charts stays fast. matplotlib is imported inside the PNG functions: it takes a
noticeable part of a second to load, and only the Markdown report with pictures needs it.
The object-oriented API (a `Figure` with its own Agg canvas, no pyplot) keeps no global
state, so a chart drawn in an export's worker thread cannot disturb anything else. Its
bundled DejaVu Sans has æ, ø and å.
"""

from __future__ import annotations

import html
import io
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from bot.i18n import clock

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
    lang: str = "en",
) -> bytes:
    """Inputs per five minutes at one site, in the event's local time, with a marked line
    where each agenda item started; clock times as `lang` writes them."""
    from matplotlib.dates import MinuteLocator, num2date
    from matplotlib.ticker import FuncFormatter

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
    formatter = FuncFormatter(
        lambda value, _: clock(lang, num2date(value, tz=tz))  # type: ignore[no-untyped-call]
    )
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


# --- SVG ------------------------------------------------------------------------------------
# The HTML report draws its charts as inline SVG: a few hundred bytes of text each, sharp at any
# zoom and in print, no image library to load, and fast enough for hundreds of charts.

_FONT = 'font-family="system-ui, -apple-system, Segoe UI, Roboto, DejaVu Sans, sans-serif"'
ACTIVITY_HEIGHT = round(ACTIVITY_INCHES[1] * 96)
TERM_ROW = 23  # pixels per word in the top-terms chart
LABEL_LIMIT = 22  # characters of an agenda item's title beside its start line


def _x(text: str) -> str:
    return html.escape(text, quote=True)


def _n(value: float) -> str:
    """A coordinate, short: 12.0 → "12", 12.345 → "12.3"."""
    return f"{value:.1f}".removesuffix(".0")


def ticks(top: float, most: int = 6) -> list[int]:
    """Whole-number axis ticks from 0 up to `top`, at a step of 1, 2 or 5 times a power of
    ten, so that there are at most `most` intervals."""
    step = 1
    while top / step > most:
        for factor in (2, 2.5, 2):
            step = int(step * factor)
            if top / step <= most:
                break
    return list(range(0, int(top) + 1, step))


def _svg(width: int, height: int, alt: str, body: list[str]) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" role="img" {_FONT}>'
        f"<title>{_x(alt)}</title>{''.join(body)}</svg>"
    )


def activity_svg(
    per_minute: Sequence[tuple[datetime, int]],
    starts: Sequence[tuple[datetime, str]],
    *,
    ylabel: str,
    tz: Any,
    alt: str,
    lang: str = "en",
) -> str:
    """`activity_png` as SVG: inputs per five minutes in the event's local time, a dashed
    line where each agenda item started."""
    width, height = ACTIVITY_WIDTH, ACTIVITY_HEIGHT
    left, right, top_pad, bottom = 46.0, 8.0, 6.0, 24.0
    plot_w, plot_h = width - left - right, height - top_pad - bottom
    binned = bins(per_minute)
    moments = [m for m, _ in binned] + [m for m, _ in starts]
    if not moments:
        return _svg(width, height, alt, [])
    first, last = min(moments) - BIN, max(moments) + 2 * BIN
    span = (last - first).total_seconds()
    peak = max((n for _, n in binned), default=1)
    y_max = peak * 1.35 + 0.5

    def x(moment: datetime) -> float:
        return left + (moment - first).total_seconds() / span * plot_w

    def y(value: float) -> float:
        return top_pad + plot_h - value / y_max * plot_h

    base = y(0)
    body: list[str] = []
    for tick in ticks(peak * 1.3):
        body.append(
            f'<line x1="{_n(left)}" x2="{_n(width - right)}" y1="{_n(y(tick))}" '
            f'y2="{_n(y(tick))}" stroke="{GRID}" stroke-width="0.6"/>'
            f'<text x="{_n(left - 5)}" y="{_n(y(tick) + 3.5)}" font-size="10.5" '
            f'text-anchor="end" fill="{INK}">{tick}</text>'
        )
    bar = BIN.total_seconds() / span * plot_w * 0.85
    for moment, n in binned:
        if n:
            middle = x(moment + BIN / 2)
            body.append(
                f'<rect x="{_n(middle - bar / 2)}" y="{_n(y(n))}" width="{_n(bar)}" '
                f'height="{_n(base - y(n))}" fill="{BAR}"><title>{n}</title></rect>'
            )
    # Ticks on the hour and the half hour, in the event's local time.
    local = first.astimezone(tz)
    moment = local.replace(minute=0, second=0, microsecond=0)
    while moment <= last:
        if moment >= first and moment.minute in (0, 30):
            at = x(moment)
            body.append(
                f'<line x1="{_n(at)}" x2="{_n(at)}" y1="{_n(base)}" y2="{_n(base + 4)}" '
                f'stroke="{GRID}"/><text x="{_n(at)}" y="{_n(base + 15)}" font-size="10.5" '
                f'text-anchor="middle" fill="{INK}">{clock(lang, moment.astimezone(tz))}</text>'
            )
        moment += timedelta(minutes=30)
    for moment, label in starts:
        at = x(moment)
        short = label if len(label) <= LABEL_LIMIT else label[: LABEL_LIMIT - 1] + "…"
        body.append(
            f'<line x1="{_n(at)}" x2="{_n(at)}" y1="{_n(top_pad)}" y2="{_n(base)}" '
            f'stroke="{MARK}" stroke-width="0.9" stroke-dasharray="3 2"/>'
            f'<text transform="translate({_n(at + 3)} {_n(top_pad + 2)}) rotate(90)" '
            f'font-size="8.5" fill="{MARK}">{_x(short)}</text>'
        )
    body.append(
        f'<line x1="{_n(left)}" x2="{_n(width - right)}" y1="{_n(base)}" y2="{_n(base)}" '
        f'stroke="{GRID}"/><line x1="{_n(left)}" x2="{_n(left)}" y1="{_n(top_pad)}" '
        f'y2="{_n(base)}" stroke="{GRID}"/>'
        f'<text transform="translate(11 {_n(top_pad + plot_h / 2)}) rotate(-90)" '
        f'font-size="10.5" text-anchor="middle" fill="{INK}">{_x(ylabel)}</text>'
    )
    return _svg(width, height, alt, body)


def terms_svg(terms: Sequence[tuple[str, int]], *, xlabel: str, alt: str) -> str:
    """`terms_png` as SVG: the most frequent words as horizontal bars, the most frequent on
    top, each with its count."""
    width = TERMS_WIDTH
    rows = max(len(terms), 3)
    top_pad, bottom = 6.0, 36.0
    height = round(top_pad + rows * TERM_ROW + bottom)
    # Room for the longest word at about 6.6 pixels a character, within reason.
    left = min(8 + 6.6 * max((len(word) for word, _ in terms), default=4), width * 0.45)
    right = 14.0
    plot_w = width - left - right
    peak = max((n for _, n in terms), default=1)
    x_max = peak * 1.15

    def x(value: float) -> float:
        return left + value / x_max * plot_w

    base = top_pad + rows * TERM_ROW
    body: list[str] = []
    for tick in ticks(peak * 1.1):
        body.append(
            f'<line x1="{_n(x(tick))}" x2="{_n(x(tick))}" y1="{_n(top_pad)}" y2="{_n(base)}" '
            f'stroke="{GRID}" stroke-width="0.6"/><text x="{_n(x(tick))}" '
            f'y="{_n(base + 14)}" font-size="10.5" text-anchor="middle" '
            f'fill="{INK}">{tick}</text>'
        )
    for row, (word, n) in enumerate(terms):
        top = top_pad + row * TERM_ROW + TERM_ROW * 0.15
        middle = top_pad + row * TERM_ROW + TERM_ROW / 2
        body.append(
            f'<text x="{_n(left - 6)}" y="{_n(middle + 4)}" font-size="11.5" '
            f'text-anchor="end" fill="{INK}">{_x(word)}</text>'
            f'<rect x="{_n(left)}" y="{_n(top)}" width="{_n(x(n) - left)}" '
            f'height="{_n(TERM_ROW * 0.7)}" fill="{BAR}"/>'
            f'<text x="{_n(x(n) + 4)}" y="{_n(middle + 3.5)}" font-size="10" '
            f'fill="{INK}">{n}</text>'
        )
    body.append(
        f'<line x1="{_n(left)}" x2="{_n(width - right)}" y1="{_n(base)}" y2="{_n(base)}" '
        f'stroke="{GRID}"/><text x="{_n(left + plot_w / 2)}" y="{_n(base + 30)}" '
        f'font-size="10.5" text-anchor="middle" fill="{INK}">{_x(xlabel)}</text>'
    )
    return _svg(width, height, alt, body)
