"""CSV: one row per visible input, UTF-8 with a byte-order mark so that Excel shows æ, ø and å.

A cell that begins with = + - @ or a tab gets a leading apostrophe, so that a spreadsheet
does not run a participant's text as a formula (the JSON export keeps every text as written).
"""

from __future__ import annotations

import csv
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

from bot.export.fields import COLUMNS, Presenter, Value
from bot.export.records import ExportedInput

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# Rows are handed to the csv module this many at a time.
CHUNK = 1000


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


# The columns that may hold text, and the two that are not text or numbers. The times are
# left out: an ISO date begins with a digit.
_TEXTS = tuple(
    i
    for i, c in enumerate(COLUMNS)
    if c not in {"id", "adhoc_id", "stars", "votes", "created_at", "edited_at"}
    and c not in {"highlight", "relayed_to"}
)
_HIGHLIGHT, _RELAYED = COLUMNS.index("highlight"), COLUMNS.index("relayed_to")
_FORMULA_FIRST = frozenset(_FORMULA_START)


def cells(values: Sequence[Value]) -> list[Value]:
    """What `cell` does, for a row of `COLUMNS` and without a call per value: None and whole
    numbers are left to the csv module, which writes them as "" and digits, as `cell` would."""
    out = list(values)
    for i in _TEXTS:
        text = out[i]
        if text and text[0] in _FORMULA_FIRST:  # type: ignore[index]
            out[i] = "'" + text  # type: ignore[operator]
    out[_HIGHLIGHT] = "true" if out[_HIGHLIGHT] else "false"
    out[_RELAYED] = ",".join(out[_RELAYED])  # type: ignore[arg-type]
    return out


async def write_csv(path: Path, presenter: Presenter, rows: AsyncIterator[ExportedInput]) -> int:
    """Write the rows as they arrive, a chunk at a time; returns how many were written."""
    count = 0
    values = presenter.values
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        chunk: list[list[Value]] = []
        async for row in rows:
            chunk.append(cells(values(row)))
            if len(chunk) >= CHUNK:
                writer.writerows(chunk)
                count += len(chunk)
                chunk.clear()
        writer.writerows(chunk)
        count += len(chunk)
    return count
