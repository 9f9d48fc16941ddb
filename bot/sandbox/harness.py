"""The real application wired to a `FakeBotApi`: used by tests and by the offline rehearsal.

`deliver()` fetches updates with a real `getUpdates` call (so confirmation by offset works as
with Telegram) and hands each to `Application.process_update`, one at a time, in order;
`settle()` then lets the agenda engine act as the running bot's scheduler would.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from telegram import Update

from bot.app import App, Running, running
from bot.clock import SystemClock
from bot.config import Settings
from bot.event import Event
from bot.ports import Clock
from bot.sandbox.fake_api import FakeBotApi
from bot.sandbox.request import FakeRequest
from bot.services import Services
from bot.services.delivery import RateLimiter
from bot.services.pace import PaceGate
from bot.telegram.scheduler import HEARTBEAT_SECONDS


def unthrottled() -> RateLimiter:
    return RateLimiter(per_second=100_000, per_chat_interval=0, per_group_per_minute=100_000)


class SimulatedScheduler:
    """What the JobQueue does for the agenda engine, on a simulated clock: a tick when
    something woke it, when the clock reaches the engine's next due moment, and at every
    heartbeat; never otherwise. So a test passes only if the code that changes what is due
    wakes the engine, as it must in the running bot."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self.woken = True  # the running bot ticks once at start
        self._due: datetime | None = None
        self._last_tick: datetime | None = None
        self.ticks = 0

    def wake(self) -> None:
        self.woken = True

    def is_due(self) -> bool:
        now = self._clock.now()
        return (
            self.woken
            or (self._due is not None and now >= self._due)
            or (
                self._last_tick is not None
                and now - self._last_tick >= timedelta(seconds=HEARTBEAT_SECONDS)
            )
        )

    async def run_due(self, services: Services) -> None:
        """Tick while something is due, as the wake-up job runs again when the next moment
        it sets is already past."""
        for _ in range(100):
            if not self.is_due():
                return
            self.woken = False
            self._last_tick = self._clock.now()
            self.ticks += 1
            await services.agenda.tick()
            self._due = await services.agenda.next_wake()
        raise RuntimeError("the agenda engine keeps finding something due")


class BotHarness:
    def __init__(
        self,
        bot: Running,
        api: FakeBotApi,
        database_path: Path,
        scheduler: SimulatedScheduler | None,
    ) -> None:
        """`scheduler` None: the bot's own JobQueue drives the agenda (a real-time test)."""
        self.bot = bot
        self.app: App = bot.app
        self.services = bot.services
        self.api = api
        self.database_path = database_path
        self.scheduler = scheduler
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
        pace: PaceGate | None = None,
    ) -> AsyncIterator[BotHarness]:
        """The bot as `bot.app.running` starts it, without the polling loop and with a
        `SimulatedScheduler` in place of the JobQueue: the caller decides when updates are
        delivered and when the (simulated) clock moves.

        Telegram's limits are real-time limits; on a simulated clock they would only slow the
        run down, so by default the delivery worker is not throttled here (the delivery tests
        and benchmarks measure the real limits). For the same reason the per-person pace for
        commands and presses is off unless `pace` is given: a test (or a simulated participant
        of the rehearsal) taps far faster than a person."""
        if api is None:
            token = settings.telegram_bot_token
            api = FakeBotApi(token.get_secret_value()) if token else FakeBotApi()
        fake = api
        scheduler = SimulatedScheduler(clock or SystemClock())
        async with running(
            settings,
            event=event,
            clock=clock,
            request_factory=lambda: FakeRequest(fake),
            limiter=limiter or unthrottled(),
            wake=scheduler.wake,
            pace=pace if pace is not None else PaceGate(unlimited=True),
        ) as bot:
            yield cls(bot, api, settings.database_path, scheduler)

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
        """Process waiting updates, let the agenda act if the scheduler would now (something
        woke it, or its moment came), and send what was queued."""
        await self.deliver()
        if self.scheduler is not None:
            await self.scheduler.run_due(self.services)
        if not await self.services.delivery.drain(timeout):
            raise TimeoutError("the outbox did not drain")

    async def process(self, update: Update) -> None:
        await self.app.process_update(update)

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Read what the bot committed, through a connection of its own (as an export would)."""
        with sqlite3.connect(self.database_path) as conn:
            return [tuple(row) for row in conn.execute(sql, params)]
