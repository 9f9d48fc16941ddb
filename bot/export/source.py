"""The port the exports read through; `storage.exports` implements it over a read-only
SQLite connection of its own, so an export never shares the bot's connection or its lock."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Protocol

from bot.export.records import ExportedInput, ItemStart, Participation, Scope


class ExportSource(Protocol):
    def inputs(self, event_key: str, scope: Scope) -> AsyncIterator[ExportedInput]:
        """Visible inputs only (never hidden or withdrawn ones), streamed in batches, by site,
        then time; within a prompt by table, then time."""
        ...

    def texts(self, event_key: str, scope: Scope) -> AsyncIterator[str]:
        """Only the texts of the inputs `inputs` would give, in no particular order."""
        ...

    async def participation(
        self, event_key: str, site_keys: Sequence[str] | None = None, *, per_table: bool = True
    ) -> Participation:
        """Figures per site and prompt; per table of each prompt too unless `per_table` is
        False (it costs a pass over every input, and only the report shows them)."""
        ...

    async def activity(self, event_key: str, site_key: str) -> list[tuple[datetime, int]]:
        """Visible inputs per minute (the minute's start, UTC) at one site."""
        ...

    async def item_starts(self, event_key: str, site_key: str) -> list[ItemStart]: ...


SourceOpener = Callable[[], AbstractAsyncContextManager[ExportSource]]
"""Opens a source (and its connection) for one export and closes it afterwards."""
