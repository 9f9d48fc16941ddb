"""XLSX: a summary sheet, then one sheet per site with a row per visible input.

Written with XlsxWriter in `constant_memory` mode: each row goes to a temporary file as soon
as the next one starts, so a large event costs disk, not memory. Texts are always written as
text (never as formulas, numbers or links), headers are frozen and filterable.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from bot.export.fields import COLUMNS, Presenter, percent
from bot.export.outline import prompts_of, site_keys
from bot.export.records import ExportedInput, Participation, Scope

# Characters per column: wide enough to read, narrow enough to see several columns at once.
_WIDTHS = {
    "id": 7,
    "event": 14,
    "site": 11,
    "site_name": 14,
    "table": 7,
    "table_name": 10,
    "item": 14,
    "item_title": 22,
    "adhoc_id": 8,
    "prompt": 40,
    "created_at": 19,
    "edited_at": 19,
    "author": 22,
    "category": 12,
    "category_name": 14,
    "kind": 9,
    "text": 70,
    "file_id": 16,
    "file_name": 16,
    "mime_type": 14,
    "stars": 7,
    "votes": 7,
    "highlight": 10,
    "relayed_to": 14,
    "media_file": 16,
}
_SHEET_NAME_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")
SHEET_NAME_LIMIT = 31

Rows = Callable[[Scope], AsyncIterator[ExportedInput]]


def sheet_name(name: str, taken: set[str]) -> str:
    """Excel's rules: at most 31 characters, none of []:*?/\\, unique ignoring case."""
    base = _SHEET_NAME_FORBIDDEN.sub("-", name).strip("'") or "-"
    candidate, n = base[:SHEET_NAME_LIMIT], 2
    while candidate.lower() in taken:
        suffix = f" ({n})"
        candidate, n = base[: SHEET_NAME_LIMIT - len(suffix)] + suffix, n + 1
    taken.add(candidate.lower())
    return candidate


async def write_xlsx(
    path: Path,
    presenter: Presenter,
    participation: Participation,
    only: tuple[str, ...] | None,
    rows: Rows,
) -> int:
    import xlsxwriter  # deferred: only exports need it

    workbook = xlsxwriter.Workbook(
        str(path),
        {
            "constant_memory": True,
            "strings_to_numbers": False,
            "strings_to_formulas": False,
            "strings_to_urls": False,
        },
    )
    try:
        styles = {
            "title": workbook.add_format({"bold": True, "font_size": 14}),
            "header": workbook.add_format({"bold": True, "bg_color": "#E8EEF4", "bottom": 1}),
            "time": workbook.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"}),
            "percent": workbook.add_format({"num_format": "0%"}),
        }
        taken: set[str] = set()
        summary = workbook.add_worksheet(sheet_name(presenter.say("export.sheet_summary"), taken))
        _summary(summary, presenter, participation, only, styles)
        count = 0
        for site_key in site_keys(presenter.event, only):
            sheet = workbook.add_worksheet(sheet_name(presenter.site_name(site_key), taken))
            count += await _site_sheet(sheet, presenter, rows(Scope(site_key=site_key)), styles)
    finally:
        workbook.close()
    return count


def _excel_time(moment: datetime | None) -> datetime | None:
    # Excel has no time zones: the event's local time, as the organisers lived it.
    return None if moment is None else moment.replace(tzinfo=None)


async def _site_sheet(
    sheet: Any, presenter: Presenter, rows: AsyncIterator[ExportedInput], styles: dict[str, Any]
) -> int:
    from bot.export.xlsxrows import PlainRows  # deferred: it loads XlsxWriter

    for col, column in enumerate(COLUMNS):
        sheet.set_column(col, col, _WIDTHS.get(column, 12))
        sheet.write_string(0, col, presenter.say(f"export.column.{column}"), styles["header"])
    sheet.freeze_panes(1, 0)
    plain, row = PlainRows(sheet, styles["time"]), presenter.row
    line = 0
    async for item in rows:
        line += 1
        shown = row(item)
        plain.write(
            line,
            (
                shown.id,
                *shown.place,
                _excel_time(shown.created_at),
                _excel_time(shown.edited_at),
                shown.author,
                shown.category,
                shown.category_name,
                shown.kind,
                shown.text,
                shown.file_id,
                shown.file_name,
                shown.mime_type,
                shown.stars,
                shown.votes,
                shown.highlight,
                ",".join(shown.relayed_to) or None,
                shown.media_file,
            ),
        )
    sheet.autofilter(0, 0, max(line, 1), len(COLUMNS) - 1)
    return line


def _summary(
    sheet: Any,
    presenter: Presenter,
    participation: Participation,
    only: tuple[str, ...] | None,
    styles: dict[str, Any],
) -> None:
    event = presenter.event
    say = presenter.say
    sheet.set_column(0, 0, 28)
    sheet.set_column(1, 1, 40)
    sheet.set_column(2, 6, 14)
    line = 0

    def put(*cells: str | int | float | None, style: str | None = None) -> None:
        nonlocal line
        for col, value in enumerate(cells):
            fmt = styles[style] if style else None
            if value is None:
                continue
            if isinstance(value, str):
                sheet.write_string(line, col, value, fmt)
            elif isinstance(value, float):
                sheet.write_number(line, col, value, styles["percent"])
            else:
                sheet.write_number(line, col, value, fmt)
        line += 1

    put(event.title.get(presenter.lang, presenter.default), style="title")
    put(say("export.summary.date"), event.event.date.isoformat())
    put(say("export.summary.question"), event.question.get(presenter.lang, presenter.default))
    put(say("export.summary.anonymity"), say(f"report.anonymity.{event.event.anonymity.value}"))
    line += 1
    put(
        say("export.column.site_name"),
        say("export.column.table_name"),
        say("export.summary.checked_in"),
        say("export.summary.answered"),
        say("export.summary.share"),
        say("export.summary.inputs"),
        style="header",
    )
    for site_key in site_keys(event, only):
        figures = participation.site(site_key)
        share = percent(figures.total.answered, figures.checked_in)
        put(
            presenter.site_name(site_key),
            None,
            figures.checked_in,
            figures.total.answered,
            None if share is None else figures.total.answered / figures.checked_in,
            figures.total.inputs,
        )
        site = event.site(site_key)
        for group in site.groups if site else []:
            put(
                None, presenter.table_name(site_key, group.key), figures.by_table.get(group.key, 0)
            )
    line += 1
    put(
        say("export.column.site_name"),
        say("export.column.item_title"),
        say("export.summary.checked_in"),
        say("export.summary.answered"),
        say("export.summary.share"),
        say("export.summary.inputs"),
        style="header",
    )
    for site_key in site_keys(event, only):
        checked_in = participation.site(site_key).checked_in
        for entry in prompts_of(event, participation, site_key):
            tally = entry.figures.total
            put(
                presenter.site_name(site_key),
                presenter.item_title(entry.ref, entry.adhoc),
                checked_in,
                tally.answered,
                tally.answered / checked_in if checked_in else None,
                tally.inputs,
            )
