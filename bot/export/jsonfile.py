"""JSON: the event, its sites with participation figures, and every visible input.

The document follows a versioned JSON Schema, `prompts/export-v1.schema.json`, so that others
can reuse the material without reading this code. `schema_version` changes only when a field
changes meaning or disappears; new optional fields keep it.

Inputs come last and are written one per line as they arrive from the database, so the file
is streamed, never built in memory.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import datetime
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path
from typing import Any

from bot.export.fields import COLUMNS, Presenter, RowParts, Value
from bot.export.outline import prompts_of, site_keys
from bot.export.records import ExportedInput, Participation

SCHEMA_NAME = "samtidig-export"
SCHEMA_VERSION = 1
SCHEMA_FILE = "export-v1.schema.json"
# Input lines are written this many at a time.
CHUNK = 1000


def schema_file() -> Traversable:
    return resources.files("prompts") / SCHEMA_FILE


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def document_head(
    presenter: Presenter,
    participation: Participation,
    only: tuple[str, ...] | None,
    generated_at: datetime,
) -> dict[str, Any]:
    event, lang, default = presenter.event, presenter.lang, presenter.default
    sites: list[dict[str, Any]] = []
    for key in site_keys(event, only):
        site = event.site(key)
        assert site is not None  # noqa: S101 - site_keys come from the event
        figures = participation.site(key)
        sites.append(
            {
                "key": key,
                "name": site.name.get(lang, default),
                "venue": site.venue.get(lang, default),
                "angle": site.angle.get(lang, default),
                "checked_in": figures.checked_in,
                "answered": figures.total.answered,
                "share": _share(figures.total.answered, figures.checked_in),
                "inputs": figures.total.inputs,
                "tables": [
                    {
                        "key": group.key,
                        "name": group.name.get(lang, default),
                        "checked_in": figures.by_table.get(group.key, 0),
                    }
                    for group in site.groups
                ],
                "prompts": [
                    {
                        "item": entry.ref.item_key,
                        "adhoc_id": entry.ref.adhoc_id,
                        "title": presenter.item_title(entry.ref, entry.adhoc),
                        "text": presenter.prompt_text(
                            key, None, entry.ref, entry.adhoc.text if entry.adhoc else None
                        ),
                        "inputs": entry.figures.total.inputs,
                        "answered": entry.figures.total.answered,
                        "share": _share(entry.figures.total.answered, figures.checked_in),
                    }
                    for entry in prompts_of(event, participation, key)
                ],
            }
        )
    return {
        "schema": SCHEMA_NAME,
        "schema_version": SCHEMA_VERSION,
        "generated_at": presenter.iso(generated_at),
        "language": lang,
        "event": {
            "key": event.key,
            "title": event.title.get(lang, default),
            "date": event.event.date.isoformat(),
            "timezone": event.event.timezone,
            "question": event.question.get(lang, default),
            "anonymity": event.event.anonymity.value,
        },
        "sites": sites,
    }


def _encoder() -> Callable[[Any], str]:
    return json.JSONEncoder(ensure_ascii=False).encode


class Lines:
    """Rows of `COLUMNS` as JSON objects on one line, byte for byte as `json.JSONEncoder`
    (`ensure_ascii=False`) encodes `dict(zip(COLUMNS, row))`.

    The members that repeat (event, site, table and prompt; author and kind) are encoded once
    per combination and joined; only the text, the times, the file and the counts per row.
    """

    def __init__(self) -> None:
        self._encode = _encoder()
        self._where: dict[tuple[Value, ...], str] = {}
        self._who: dict[tuple[Value, ...], str] = {}

    def _members(self, columns: Sequence[str], values: Sequence[Value]) -> str:
        encode = self._encode
        return ", ".join(
            f"{encode(column)}: {encode(value)}"
            for column, value in zip(columns, values, strict=True)
        )

    def line(self, values: tuple[Value, ...]) -> str:
        row = RowParts.of(values)
        author, text = row.author, row.text
        where = self._where.get(row.where)
        if where is None:
            where = self._where[row.where] = self._members(_WHERE, row.where)
        # The author is mostly a name, one per participant: encoded per row like the text.
        who = self._who.get(row.who)
        if who is None:
            who = self._who[row.who] = self._members(_WHO, row.who)
        string = _string
        files = (
            _NO_FILE
            if row.file_id is None and row.file_name is None and row.mime_type is None
            else self._members(_FILES, (row.file_id, row.file_name, row.mime_type))
        )
        relays = self._encode(row.relayed_to) if row.relayed_to else "[]"
        return (
            f'{{"id": {row.input_id}, {where}, "created_at": {string(row.created_at)}, '
            f'"edited_at": {"null" if row.edited_at is None else string(row.edited_at)}, '
            f'"author": {"null" if author is None else string(author)}, {who}, '
            f'"text": {"null" if text is None else string(text)}, {files}, '
            f'"stars": {row.stars}, "votes": {row.votes}, '
            f'"highlight": {"true" if row.highlight else "false"}, "relayed_to": {relays}}}'
        )


# How the encoder writes a string (with `ensure_ascii=False`); the ids and counts are whole
# numbers, which it writes as `int.__repr__` does.
_string: Callable[[Any], str] = json.encoder.encode_basestring
_WHERE = COLUMNS[1:10]
_WHO = COLUMNS[13:16]
_FILES = COLUMNS[17:20]
_NO_FILE = ", ".join(f'"{column}": null' for column in _FILES)


async def write_json(
    path: Path,
    presenter: Presenter,
    participation: Participation,
    only: tuple[str, ...] | None,
    generated_at: datetime,
    rows: AsyncIterator[ExportedInput],
) -> int:
    head = json.dumps(
        document_head(presenter, participation, only, generated_at), ensure_ascii=False, indent=2
    )
    # One encoder for every input (`json.dumps` with options builds one per call), its lines
    # written a chunk at a time.
    values = presenter.values
    line = Lines().line
    count = 0
    with path.open("w", encoding="utf-8") as handle:
        # The head is an indented object ending in "\n}": reopen it for the inputs.
        handle.write(head.removesuffix("\n}") + ',\n  "inputs": [')
        chunk: list[str] = []
        async for row in rows:
            chunk.append(line(values(row)))
            if len(chunk) >= CHUNK:
                handle.write(("\n    " if not count else ",\n    ") + ",\n    ".join(chunk))
                count += len(chunk)
                chunk.clear()
        if chunk:
            handle.write(("\n    " if not count else ",\n    ") + ",\n    ".join(chunk))
            count += len(chunk)
        handle.write("\n  ]\n}\n" if count else "]\n}\n")
    return count
