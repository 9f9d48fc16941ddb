"""JSON: the event, its sites with participation figures, and every visible input.

The document follows a versioned JSON Schema, `prompts/export-v1.schema.json`, so that others
can reuse the material without reading this code. `schema_version` changes only when a field
changes meaning or disappears; new optional fields keep it.

Inputs come last and are written one per line as they arrive from the database, so the file
is streamed, never built in memory.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import datetime
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path
from typing import Any

from bot.export.fields import ExportRow, Place, Presenter, iso
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


# How `json.JSONEncoder(ensure_ascii=False)` writes a string: one call per string, not one
# encoder per value.
_string = json.encoder.encode_basestring


def _text(value: str | None) -> str:
    return "null" if value is None else _string(value)


class Lines:
    """Rows as the JSON objects `json.JSONEncoder(ensure_ascii=False)` writes for them (their
    members in the order of `COLUMNS`), each on one line.

    A row's place is encoded once per place and put into each of its rows' objects as it is:
    an object is its members with commas between them, so the place's members, encoded
    together, stand for themselves in any object.
    """

    def __init__(self) -> None:
        self._encode = json.JSONEncoder(ensure_ascii=False).encode
        self._places: dict[Place, str] = {}

    def line(self, row: ExportRow) -> str:
        place = self._places.get(row.place)
        if place is None:
            # The place's members, without the braces around them.
            place = self._places[row.place] = self._encode(row.place._asdict())[1:-1]
        # A time and a kind (one of ours) have nothing to escape; a count is written as Python
        # writes it, as the encoder does.
        edited = "null" if row.edited_at is None else f'"{iso(row.edited_at)}"'
        return (
            f'{{"id": {row.id}, {place}, "created_at": "{iso(row.created_at)}", '
            f'"edited_at": {edited}, "author": {_text(row.author)}, '
            f'"category": {_text(row.category)}, "category_name": {_text(row.category_name)}, '
            f'"kind": "{row.kind}", "text": {_string(row.text)}, '
            f'"file_id": {_text(row.file_id)}, "file_name": {_text(row.file_name)}, '
            f'"mime_type": {_text(row.mime_type)}, "stars": {row.stars}, "votes": {row.votes}, '
            f'"highlight": {"true" if row.highlight else "false"}, '
            f'"relayed_to": {self._encode(row.relayed_to) if row.relayed_to else "[]"}, '
            f'"media_file": {_text(row.media_file)}}}'
        )


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
    line, row = Lines().line, presenter.row
    count = 0
    with path.open("w", encoding="utf-8") as handle:
        # The head is an indented object ending in "\n}": reopen it for the inputs.
        handle.write(head.removesuffix("\n}") + ',\n  "inputs": [')
        chunk: list[str] = []
        async for item in rows:
            chunk.append(line(row(item)))
            if len(chunk) >= CHUNK:
                handle.write(("\n    " if not count else ",\n    ") + ",\n    ".join(chunk))
                count += len(chunk)
                chunk.clear()
        if chunk:
            handle.write(("\n    " if not count else ",\n    ") + ",\n    ".join(chunk))
            count += len(chunk)
        handle.write("\n  ]\n}\n" if count else "]\n}\n")
    return count
