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

from bot.export.fields import COLUMNS, Presenter
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
    encode = json.JSONEncoder(ensure_ascii=False).encode
    values = presenter.values
    count = 0
    with path.open("w", encoding="utf-8") as handle:
        # The head is an indented object ending in "\n}": reopen it for the inputs.
        handle.write(head.removesuffix("\n}") + ',\n  "inputs": [')
        chunk: list[str] = []
        async for row in rows:
            chunk.append(encode(dict(zip(COLUMNS, values(row), strict=True))))
            if len(chunk) >= CHUNK:
                handle.write(("\n    " if not count else ",\n    ") + ",\n    ".join(chunk))
                count += len(chunk)
                chunk.clear()
        if chunk:
            handle.write(("\n    " if not count else ",\n    ") + ",\n    ".join(chunk))
            count += len(chunk)
        handle.write("\n  ]\n}\n" if count else "]\n}\n")
    return count
