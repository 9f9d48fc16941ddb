"""Rows of an XLSX sheet written whole, past XlsxWriter's work per cell.

In `constant_memory` mode XlsxWriter turns each row into XML when the next one starts, cell
by cell: six regular expressions and several writes to a temporary file per string. A site
sheet holds about 17 cells per input, 1.7 million for 100,000 inputs, and through XlsxWriter's own
writers the XLSX export took 2.3 times as long (11 s against 4.7 s). `PlainRows` writes a
plain row (see `PlainRows.write`) in one write, the XML XlsxWriter would write for it; any
other row goes through XlsxWriter's public writers.

That takes XlsxWriter's internals, which is why pyproject.toml pins its version: a sheet's
`constant_memory` and temporary file (`fh`), `_write_single_row` (writes out the row that
XlsxWriter holds: the header, or a row that was not plain), `_check_dimensions` (the sheet's
used range), `_convert_date_time` (a time as Excel's number) and a format's `_get_xf_index`.
A test in tests/export/test_writers.py writes rows both ways and compares the sheets' XML
byte for byte, so an XlsxWriter that writes them differently fails there, not at an event.

Imported only when an XLSX export runs: it loads XlsxWriter.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from xlsxwriter.utility import xl_col_to_name

# What XlsxWriter would change or mark in a string: control characters (tab and newline
# included), its own _xHHHH_ escapes and the two non-characters.
_ESCAPED = re.compile(r"[\x00-\x1f\ufffe\uffff]|_x[0-9a-fA-F]{4}_")
# Excel holds at most 32,767 UTF-16 units in a cell; a string of at most half that many
# characters fits whatever it holds, a longer one XlsxWriter measures (and may cut).
_SURELY_FITS = 32_767 // 2

Cell = str | int | bool | datetime | None


class PlainRows:
    """Writes rows to a sheet of a workbook in `constant_memory` mode, a row after the one
    before, into columns without a format of their own (a column format XlsxWriter would
    give the cells is not written here)."""

    def __init__(self, sheet: Any, time_format: Any) -> None:
        if not sheet.constant_memory:
            raise ValueError("PlainRows writes to a sheet in constant_memory mode only")
        self._sheet = sheet
        self._time_format = time_format
        self._time_style = time_format._get_xf_index()
        self._names: list[str] = []

    def write(self, row: int, cells: Sequence[Cell]) -> None:
        """The row's cells from the first column on, None for an empty one; times with the
        time format. A row is plain when its strings have no leading or trailing whitespace
        and nothing of what `_ESCAPED` finds, and none looks like a rich string or is long."""
        names = self._names
        while len(names) < len(cells):
            names.append(xl_col_to_name(len(names)))
        line = str(row + 1)
        parts = [f'<row r="{line}">']
        texts: list[str] = []
        first = last = -1
        for col, value in enumerate(cells):
            if value is None:
                continue
            kind = type(value)
            if kind is str:
                text: str = value  # type: ignore[assignment]
                if (
                    len(text) > _SURELY_FITS
                    or text.startswith("<r>")
                    or (text and (text[0].isspace() or text[-1].isspace()))
                ):
                    self._write_each(row, cells)
                    return
                texts.append(text)
                text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
                parts.append(f'<c r="{names[col]}{line}" t="inlineStr"><is><t>{text}</t></is></c>')
            elif kind is int:
                parts.append(f'<c r="{names[col]}{line}"><v>{value:.16G}</v></c>')
            elif kind is bool:
                parts.append(f'<c r="{names[col]}{line}" t="b"><v>{1 if value else 0}</v></c>')
            else:
                number = self._sheet._convert_date_time(value)
                parts.append(
                    f'<c r="{names[col]}{line}" s="{self._time_style}"><v>{number:.16G}</v></c>'
                )
            if first < 0:
                first = col
            last = col
        if first < 0:
            return
        # Looked for once per row; the separator is not what it finds, nor part of it.
        if texts and _ESCAPED.search("\x7f".join(texts)):
            self._write_each(row, cells)
            return
        sheet = self._sheet
        sheet._write_single_row(row)  # the row before, if XlsxWriter holds one, goes first
        sheet._check_dimensions(row, first)
        sheet._check_dimensions(row, last)
        parts.append("</row>")
        sheet.fh.write("".join(parts))

    def _write_each(self, row: int, cells: Sequence[Cell]) -> None:
        sheet = self._sheet
        for col, value in enumerate(cells):
            if value is None:
                continue
            if isinstance(value, str):
                sheet.write_string(row, col, value)
            elif isinstance(value, bool):
                sheet.write_boolean(row, col, value)
            elif isinstance(value, int):
                sheet.write_number(row, col, value)
            else:
                sheet.write_datetime(row, col, value, self._time_format)
