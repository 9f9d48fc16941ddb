"""A worksheet that turns its rows into XML faster than XlsxWriter's own.

In `constant_memory` mode XlsxWriter turns each row into XML when the next one starts,
cell by cell: six regular expressions and several writes to a temporary file per string.
The per-site sheets hold 1.7 million cells for 100,000 inputs, and that was most of the XLSX
export's time. `FastRows` writes a plain row itself, in one write: strings with nothing to
escape but & < > (no control characters, no `_xHHHH_`, no whitespace at either end, not a
rich string), numbers, dates and booleans, with or without a cell format. Any other row goes
to XlsxWriter as before. The XML is the same byte for byte (a test writes rows both ways
and compares them), so a newer XlsxWriter that writes cells differently shows up there.

Imported only when an XLSX export runs: it loads XlsxWriter.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from xlsxwriter.utility import xl_col_to_name
from xlsxwriter.worksheet import (
    Worksheet,
)

# What XlsxWriter's inline-string path would change or mark: control characters (tab and
# newline included), its own _xHHHH_ escapes, the two non-characters, and whitespace at
# either end (which needs xml:space="preserve").
_SPECIAL = re.compile(r"[\x00-\x1f\ufffe\uffff]|_x[0-9a-fA-F]{4}_|^\s|\s$")
_ESCAPED = re.compile(r"[\x00-\x1f\ufffe\uffff]|_x[0-9a-fA-F]{4}_")


class FastRows(Worksheet):  # type: ignore[misc] # XlsxWriter has no type information
    """For sheets written in `constant_memory` mode without row formats: the per-site sheets."""

    previous_row: int  # XlsxWriter's: the row that waits to be written

    def __init__(self) -> None:
        super().__init__()
        self._columns: dict[int, str] = {}
        self._letters: list[str] = []
        self._formatted_columns: set[int] | None = None
        self._text_limit = self.xls_strmax // 2  # longer may need cutting: XlsxWriter's

    def cell_writers(self) -> tuple[Callable[..., Any], ...]:
        """write_string, write_number, write_boolean and write_datetime without the wrapper
        that first checks for "A1" cell names: these sheets give rows and columns."""
        return self._write_string, self._write_number, self._write_boolean, self._write_datetime

    def write_plain_row(self, row: int, values: Sequence[object], date_format: Any) -> None:
        """Write a whole row at once: the value of each column in order, None for an empty
        cell; text, whole numbers, booleans and dates (with `date_format`). The row goes
        straight to the sheet's file, past XlsxWriter's per-cell table, unless it is not
        plain (see `_cell`), when each value goes through XlsxWriter's own writers.
        Column formats are read at the first row: set them before writing rows."""
        if not self.constant_memory or row <= self.previous_row:
            self._write_each(row, values, date_format)
            return
        if self._formatted_columns is None:
            self._formatted_columns = {
                col
                for col, info in self.col_info.items()
                if getattr(info, "column_format", None) is not None
            }
        names, formatted = self._names(len(values)), self._formatted_columns
        limit = self._text_limit
        line = str(row + 1)
        parts = [f'<row r="{line}">']
        texts: list[str] = []
        first = last = -1
        for col, value in enumerate(values):
            if value is None:
                continue
            if col in formatted:
                self._write_each(row, values, date_format)
                return
            kind = type(value)
            if kind is str:
                text: str = value  # type: ignore[assignment]
                if (
                    len(text) > limit
                    or text.startswith("<r>")  # XlsxWriter would write it as a rich string
                    or (text and (text[0].isspace() or text[-1].isspace()))
                ):
                    self._write_each(row, values, date_format)
                    return
                texts.append(text)
                text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
                parts.append(f'<c r="{names[col]}{line}" t="inlineStr"><is><t>{text}</t></is></c>')
            elif kind is int:
                parts.append(f'<c r="{names[col]}{line}"><v>{value:.16G}</v></c>')
            elif kind is bool:
                parts.append(f'<c r="{names[col]}{line}" t="b"><v>{1 if value else 0}</v></c>')
            elif kind is datetime:
                number = self._convert_date_time(value)
                style = date_format._get_xf_index()
                parts.append(f'<c r="{names[col]}{line}" s="{style}"><v>{number:.16G}</v></c>')
            else:
                self._write_each(row, values, date_format)
                return
            if first < 0:
                first = col
            last = col
        # Control characters and _xHHHH_ (see _SPECIAL), looked for once per row; the
        # separator is neither, and a match cannot run across it.
        if first < 0 or (texts and _ESCAPED.search("\x7f".join(texts))):
            if first >= 0:
                self._write_each(row, values, date_format)
            return
        # The row before this one (the header) is written first, as XlsxWriter would.
        self._write_single_row(row)
        self._check_dimensions(row, first)
        self._check_dimensions(row, last)
        parts.append("</row>")
        self.fh.write("".join(parts))

    def _names(self, count: int) -> list[str]:
        while len(self._letters) < count:
            self._letters.append(xl_col_to_name(len(self._letters)))
        return self._letters

    def _write_each(self, row: int, values: Sequence[object], date_format: Any) -> None:
        for col, value in enumerate(values):
            if value is None:
                continue
            if isinstance(value, datetime):
                self._write_datetime(row, col, value, date_format)
            elif isinstance(value, bool):
                self._write_boolean(row, col, value)
            elif isinstance(value, int):
                self._write_number(row, col, value)
            else:
                self._write_string(row, col, str(value))

    def _write_single_row(self, current_row_num: int = 0) -> None:
        row_num = self.previous_row
        cells: dict[int, Any] | None = self.table.get(row_num)
        if (
            not cells
            or not self.constant_memory
            or row_num in self.row_info
            or row_num in self.comments
            or self.excel_version != 2007
            or self.default_row_height != self.original_row_height
        ):
            super()._write_single_row(current_row_num)
            return
        line = str(row_num + 1)
        parts = [f'<row r="{line}">']
        for col in sorted(cells):
            xml = self._cell(line, col, cells[col])
            if xml is None:
                super()._write_single_row(current_row_num)
                return
            parts.append(xml)
        parts.append("</row>")
        self.previous_row = current_row_num
        self.fh.write("".join(parts))
        self.table.clear()

    def _cell(self, line: str, col: int, cell: Any) -> str | None:
        """The cell's XML as XlsxWriter writes it, or None to leave the row to XlsxWriter."""
        name = self._columns.get(col)
        if name is None:
            name = self._columns[col] = xl_col_to_name(col)
        if cell.format is not None:
            style = f' s="{cell.format._get_xf_index()}"'
        elif getattr(self.col_info.get(col), "column_format", None) is not None:
            return None  # XlsxWriter would give the cell its column's format
        else:
            style = ""
        kind = type(cell).__name__
        if kind == "String":
            text = cell.string
            if _SPECIAL.search(text) or text.startswith("<r>"):
                return None
            text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            return f'<c r="{name}{line}"{style} t="inlineStr"><is><t>{text}</t></is></c>'
        if kind in {"Number", "Datetime"}:
            return f'<c r="{name}{line}"{style}><v>{cell.number:.16G}</v></c>'
        if kind == "Boolean" and cell.boolean in {0, 1}:
            return f'<c r="{name}{line}"{style} t="b"><v>{cell.boolean}</v></c>'
        return None
