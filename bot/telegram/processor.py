"""How updates reach the handlers: concurrently across chats, in order within each chat.

`ChatOrderedProcessor` replaces PTB's one-update-at-a-time processing: updates of different
chats run concurrently, updates of one chat one after another, and each is marked done in the
inbox when its handlers have finished, or handled again a little later when the database
failed to take it (the error handler says which, through `failed()`).

PTB's `process_update` (final) takes a place of its own semaphore before it calls
`do_process_update`, so a limit given to PTB would be held by an update still waiting behind
its own chat: one chat's backlog of 64 would stop every other chat. PTB's semaphore is
therefore made too wide to bind, and the limit that counts is taken here, after the chat's
lock: an update waiting for its chat holds nothing the other chats need.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor

from bot.ports import StorageStoppedError
from bot.services.inbox import InboxService

log = logging.getLogger(__name__)

RETRY_DELAY = 5.0  # seconds before an update whose storage failed is handled again
# PTB's own semaphore, never the bound (see the module's docstring); PTB only asks it be > 1.
_UNBOUNDED = 1 << 30


class ChatOrderedProcessor(BaseUpdateProcessor):
    def __init__(
        self,
        inbox: InboxService,
        requeue: Callable[[Update], Awaitable[None]],
        *,
        max_concurrent_updates: int = 64,
        retry_delay: float = RETRY_DELAY,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_concurrent_updates < 1:
            raise ValueError("max_concurrent_updates must be at least 1")
        super().__init__(_UNBOUNDED)
        self.limit = max_concurrent_updates
        self._places = asyncio.Semaphore(max_concurrent_updates)
        self.inbox = inbox
        self.requeue = requeue  # puts an update back on the application's queue
        self.retry_delay = retry_delay
        self.running = 0
        self.peak = 0  # the most updates handled at once: the concurrency actually reached
        self._locks: dict[int, asyncio.Lock] = {}
        self._users: Counter[int] = Counter()
        self._failures: dict[int, bool] = {}  # update id → worth retrying
        self._monotonic = monotonic
        self._arrived: dict[int, float] = {}  # update id → when it reached the processor

    async def initialize(self) -> None:
        """Nothing to open: the inbox belongs to the services."""

    async def shutdown(self) -> None:
        """Nothing to close."""

    def failed(self, update_id: int, *, retry: bool) -> None:
        """The error handler's verdict on an update whose handler raised: handled again a
        little later (`retry`: the database did not take it), or recorded as failed."""
        self._failures[update_id] = retry

    def arrived(self, update_id: int) -> float | None:
        """When (monotonic seconds) an update being handled reached the processor, before it
        waited for its chat: the per-person pace counts arrivals, not the moments a backlog is
        worked off (a chat whose answers Telegram allows one a second would otherwise be
        handled exactly at the pace allowed, however fast the person sends)."""
        return self._arrived.get(update_id)

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        if not isinstance(update, Update):
            await self._in_chat_order(update, coroutine)
            return
        self._arrived[update.update_id] = self._monotonic()
        try:
            await self._in_chat_order(update, coroutine)
            await self._finish(update)
        finally:
            self._arrived.pop(update.update_id, None)

    async def _handle(self, coroutine: Awaitable[Any]) -> None:
        """One of the `limit` places, taken only when it is this update's turn in its chat."""
        async with self._places:
            self.running += 1
            self.peak = max(self.peak, self.running)
            try:
                await coroutine
            finally:
                self.running -= 1

    async def _in_chat_order(self, update: object, coroutine: Awaitable[Any]) -> None:
        key = self._key(update)
        if key is None:
            await self._handle(coroutine)
        else:
            self._users[key] += 1
            lock = self._locks.setdefault(key, asyncio.Lock())
            try:
                async with lock:
                    await self._handle(coroutine)
            finally:
                self._users[key] -= 1
                if self._users[key] <= 0:
                    del self._users[key]
                    self._locks.pop(key, None)

    @staticmethod
    def _key(update: object) -> int | None:
        if not isinstance(update, Update):
            return None
        if update.effective_chat is not None:
            return update.effective_chat.id
        return update.effective_user.id if update.effective_user else None

    async def _finish(self, update: Update) -> None:
        retryable = self._failures.pop(update.update_id, None)
        try:
            if retryable is None:
                await self.inbox.done(update.update_id)
                return
            again = await self.inbox.failed(update.update_id, "handler failed")
            if again and retryable:
                loop = asyncio.get_running_loop()
                loop.call_later(self.retry_delay, lambda: loop.create_task(self._again(update)))
        except StorageStoppedError:
            # Nothing can be written (the storage logged why, once): a row, if the update has
            # one, stays pending and is handled again at the next start.
            pass
        except Exception:
            # The inbox row stays pending and is handled again at the next start.
            log.exception("could not record update %s in the inbox", update.update_id)

    async def _again(self, update: Update) -> None:
        await self.requeue(update)
