"""Exports and live figures for facilitators and organisers, Telegram-free.

An export runs in a worker thread on its own event loop with its own read-only connection
(`bot.export.runner.export_off_loop`), so the bot's loop keeps answering updates; one export
runs at a time, and its files live in a temporary folder only until they have been sent.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from bot.event import Event
from bot.export import CHAT_FORMATS, Format
from bot.export.records import Participation
from bot.export.source import SourceOpener
from bot.i18n import Catalogue
from bot.ports import Clock

if TYPE_CHECKING:
    from bot.export.runner import Written


class ExportsUnavailableError(Exception):
    """There is no database file to read from (an in-memory database in a test)."""


class ExportService:
    def __init__(
        self, event: Event, texts: Catalogue, clock: Clock, opener: SourceOpener | None
    ) -> None:
        self._event = event
        self._texts = texts
        self._clock = clock
        self._opener = opener
        self._lock = asyncio.Lock()

    @property
    def busy(self) -> bool:
        return self._lock.locked()

    def _source(self) -> SourceOpener:
        if self._opener is None:
            raise ExportsUnavailableError
        return self._opener

    @asynccontextmanager
    async def files(
        self, only: tuple[str, ...] | None, formats: Sequence[Format] = CHAT_FORMATS
    ) -> AsyncIterator[list[Written]]:
        """Write the exports into a temporary folder, yield them, then delete them."""
        # Deferred: the writers import XlsxWriter and matplotlib on first use, never at start-up.
        from bot.export.runner import export_off_loop

        opener = self._source()
        async with self._lock:
            folder = Path(await asyncio.to_thread(tempfile.mkdtemp, prefix="samtidig-export-"))
            try:
                yield await export_off_loop(
                    self._event,
                    self._texts,
                    opener,
                    folder,
                    formats=formats,
                    only=only,
                    generated_at=self._clock.now(),
                    md_images=False,
                )
            finally:
                await asyncio.to_thread(shutil.rmtree, folder, ignore_errors=True)

    async def stats(self, only: tuple[str, ...] | None) -> Participation:
        """Participation right now, read through a read-only connection of its own."""
        async with self._source()() as source:
            return await source.participation(self._event.key, only)
