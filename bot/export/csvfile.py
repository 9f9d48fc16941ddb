"""CSV: one row per visible input, UTF-8 with a byte-order mark so that Excel shows æ, ø and å.

A cell that begins with = + - @ or a tab gets a leading apostrophe, so that a spreadsheet
does not run a participant's text as a formula (the JSON export keeps every text as written).
"""

from __future__ import annotations

import csv
import re
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

from bot.export.fields import COLUMNS, Presenter, RowParts, Value
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


# What makes the csv module (excel dialect, minimal quoting) quote a field.
_QUOTED = re.compile('[,"\r\n]')


def field(value: Value, *, text: bool = True) -> str:
    """One field as the csv module writes `cell(value)` (`text`: a column that may hold a
    participant's text, so a leading = + - @ is defused; the times are left as they are)."""
    if value is None:
        return ""
    if isinstance(value, str):
        if text and value and value[0] in _FORMULA_FIRST:
            value = "'" + value
    else:
        value = cell(value)
    if _QUOTED.search(value) is None:
        return value
    return '"' + value.replace('"', '""') + '"'


class Lines:
    """Rows of `COLUMNS` as CSV lines, byte for byte as `csv.writer` writes `cells(row)`.

    The fields that repeat (event, site, table and prompt; author and kind) are quoted once
    per combination and joined; only the text, the file and the counts are quoted per row.
    """

    def __init__(self) -> None:
        self._where: dict[tuple[Value, ...], str] = {}
        self._who: dict[tuple[Value, ...], str] = {}

    def line(self, values: tuple[Value, ...]) -> str:
        row = RowParts.of(values)
        author, text = row.author, row.text
        where = self._where.get(row.where)
        if where is None:
            where = self._where[row.where] = ",".join(
                field(value, text=not isinstance(value, int)) for value in row.where
            )
        # The author is mostly a name, one per participant: quoted per row like the text.
        who = self._who.get(row.who)
        if who is None:
            who = self._who[row.who] = ",".join(field(value) for value in row.who)
        if (
            isinstance(author, str)
            and author
            and (author[0] in _FORMULA_FIRST or _QUOTED.search(author))
        ):
            author = field(author)
        if isinstance(text, str) and text and (text[0] in _FORMULA_FIRST or _QUOTED.search(text)):
            text = field(text)
        files = (
            ",,"
            if row.file_id is None and row.file_name is None and row.mime_type is None
            else f"{field(row.file_id)},{field(row.file_name)},{field(row.mime_type)}"
        )
        return (
            # An ISO time has nothing to quote or defuse.
            f"{row.input_id},{where},{row.created_at},"
            f"{'' if row.edited_at is None else row.edited_at},"
            f"{'' if author is None else author},{who},"
            f"{'' if text is None else text},{files},{row.stars},{row.votes},"
            f"{'true' if row.highlight else 'false'},"
            f"{field(row.relayed_to, text=False) if row.relayed_to else ''}\r\n"
        )


async def write_csv(path: Path, presenter: Presenter, rows: AsyncIterator[ExportedInput]) -> int:
    """Write the rows as they arrive, a chunk at a time; returns how many were written."""
    count = 0
    values = presenter.values
    line = Lines().line
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        csv.writer(handle).writerow(COLUMNS)
        chunk: list[str] = []
        async for row in rows:
            chunk.append(line(values(row)))
            if len(chunk) >= CHUNK:
                handle.write("".join(chunk))
                count += len(chunk)
                chunk.clear()
        handle.write("".join(chunk))
        count += len(chunk)
    return count
