"""How updates reach the handlers: concurrently across chats, in order within each chat.

`ChatOrderedProcessor` replaces PTB's one-update-at-a-time processing: updates of different
chats run concurrently, updates of one chat one after another, and each is marked done in the
inbox when its handlers have finished, or handled again a little later when the database
failed to take it (the error handler says which, through `failed()`).
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor

from bot.services.inbox import InboxService

log = logging.getLogger(__name__)

RETRY_DELAY = 5.0  # seconds before an update whose storage failed is handled again


class ChatOrderedProcessor(BaseUpdateProcessor):
    def __init__(
        self,
        inbox: InboxService,
        requeue: Callable[[Update], Awaitable[None]],
        *,
        max_concurrent_updates: int = 64,
        retry_delay: float = RETRY_DELAY,
    ) -> None:
        super().__init__(max_concurrent_updates)
        self.inbox = inbox
        self.requeue = requeue  # puts an update back on the application's queue
        self.retry_delay = retry_delay
        self.running = 0
        self.peak = 0  # the most updates handled at once: the concurrency actually reached
        self._locks: dict[int, asyncio.Lock] = {}
        self._users: Counter[int] = Counter()
        self._failures: dict[int, bool] = {}  # update id → worth retrying

    async def initialize(self) -> None:
        """Nothing to open: the inbox belongs to the services."""

    async def shutdown(self) -> None:
        """Nothing to close."""

    def failed(self, update_id: int, *, retry: bool) -> None:
        """The error handler's verdict on an update whose handler raised: handled again a
        little later (`retry`: the database did not take it), or recorded as failed."""
        self._failures[update_id] = retry

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        self.running += 1
        self.peak = max(self.peak, self.running)
        try:
            await self._in_chat_order(update, coroutine)
        finally:
            self.running -= 1
        if isinstance(update, Update):
            await self._finish(update)

    async def _in_chat_order(self, update: object, coroutine: Awaitable[Any]) -> None:
        key = self._key(update)
        if key is None:
            await coroutine
        else:
            self._users[key] += 1
            lock = self._locks.setdefault(key, asyncio.Lock())
            try:
                async with lock:
                    await coroutine
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
        except Exception:
            # The inbox row stays pending and is handled again at the next start.
            log.exception("could not record update %s in the inbox", update.update_id)

    async def _again(self, update: Update) -> None:
        await self.requeue(update)
