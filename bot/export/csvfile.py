"""CSV: one row per visible input, UTF-8 with a byte-order mark so that Excel shows æ, ø and å.

A cell that begins with = + - @ or a tab gets a leading apostrophe, so that a spreadsheet
does not run a participant's text as a formula (the JSON export keeps every text as written).
"""

from __future__ import annotations

import csv
from collections.abc import AsyncIterator
from pathlib import Path

from bot.export.fields import COLUMNS, Presenter, Value
from bot.export.records import ExportedInput

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def cell(value: Value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(value)
    if isinstance(value, str):
        return "'" + value if value.startswith(_FORMULA_START) else value
    return str(value)


async def write_csv(path: Path, presenter: Presenter, rows: AsyncIterator[ExportedInput]) -> int:
    """Write the rows as they arrive; returns how many were written."""
    count = 0
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        async for row in rows:
            record = presenter.record(row)
            writer.writerow([cell(record[column]) for column in COLUMNS])
            count += 1
    return count
