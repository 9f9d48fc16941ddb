"""The real application wired to a `FakeBotApi`: used by tests and by the offline rehearsal.

`deliver()` fetches updates with a real `getUpdates` call (so confirmation by offset works as
with Telegram) and hands each to `Application.process_update`, one at a time, in order.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from telegram import Update

from bot.app import App, build_application
from bot.config import Settings
from bot.event import Event
from bot.ports import Clock
from bot.sandbox.fake_api import FakeBotApi
from bot.sandbox.request import FakeRequest
from bot.services.delivery import RateLimiter


def unthrottled() -> RateLimiter:
    return RateLimiter(per_second=100_000, per_chat_interval=0, per_group_per_minute=100_000)


class BotHarness:
    def __init__(self, app: App, api: FakeBotApi, database_path: Path) -> None:
        self.app = app
        self.api = api
        self.database_path = database_path
        self._offset = 0

    @classmethod
    @asynccontextmanager
    async def running(
        cls,
        settings: Settings,
        *,
        api: FakeBotApi | None = None,
        event: Event | None = None,
        clock: Clock | None = None,
        limiter: RateLimiter | None = None,
    ) -> AsyncIterator[BotHarness]:
        """Build, initialise and (on exit) shut down the application, as `run_polling` would,
        but without the polling loop and the JobQueue: the caller decides when updates are
        delivered and when the agenda engine looks at its (simulated) clock.

        Telegram's limits are real-time limits; on a simulated clock they would only slow the
        run down, so by default the delivery worker is not throttled here (the delivery tests
        and benchmarks measure the real limits)."""
        if api is None:
            token = settings.telegram_bot_token
            api = FakeBotApi(token.get_secret_value()) if token else FakeBotApi()
        fake = api
        app = build_application(
            settings,
            event=event,
            clock=clock,
            request_factory=lambda: FakeRequest(fake),
            limiter=limiter or unthrottled(),
            start_jobs=False,
        )
        await app.initialize()
        try:
            if app.post_init is not None:
                await app.post_init(app)
            yield cls(app, api, settings.database_path)
        finally:
            await app.shutdown()
            if app.post_shutdown is not None:
                await app.post_shutdown(app)

    async def deliver(self) -> int:
        """Process every update waiting at the fake Bot API; returns how many there were."""
        handled = 0
        while True:
            updates = await self.app.bot.get_updates(offset=self._offset, timeout=0)
            if not updates:
                return handled
            for update in updates:
                self._offset = update.update_id + 1
                await self.app.process_update(update)
                handled += 1

    async def settle(self, timeout: float = 10.0) -> None:  # noqa: ASYNC109 - a horizon
        """Process waiting updates, let the agenda act on the clock, and send what it queued."""
        services = self.app.bot_data.services
        await self.deliver()
        await services.agenda.tick()
        if not await services.delivery.drain(timeout):
            raise TimeoutError("the outbox did not drain")

    async def process(self, update: Update) -> None:
        await self.app.process_update(update)

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Read what the bot committed, through a connection of its own (as an export would)."""
        with sqlite3.connect(self.database_path) as conn:
            return [tuple(row) for row in conn.execute(sql, params)]
