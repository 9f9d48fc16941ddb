"""The inbox of updates: written before Telegram is told they arrived, marked done after.

Telegram-free: updates come in as (update id, domain key, JSON) from the polling loop or the
webhook, and go out as JSON to be handled.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from bot.ports import Clock, UnitOfWork

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3  # a failing update is tried this often, then set aside as failed
DONE_TRIES = 3  # writing that updates are done, before the callers hear it failed


class InboxService:
    def __init__(self, uow: UnitOfWork, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock
        # Group commit of `done`: updates finished while a batch is being written wait for
        # the next batch, so under load one transaction marks many.
        self._finished: list[tuple[int, asyncio.Future[None]]] = []
        self._writing = asyncio.Lock()

    async def store(
        self,
        items: Sequence[tuple[int, str | None, str]],
        poisoned: Sequence[tuple[int | None, str, str]] = (),
    ) -> list[int]:
        """Persist fetched updates, and set aside in the same transaction the `poisoned` ones
        (update id, error class, top-level keys) that could not be parsed or stored; returns
        the ids to handle (new, and not duplicates)."""
        async with self._uow.transaction():
            if poisoned:
                await self._uow.inbox.quarantine(poisoned, self._clock.now())
            fresh = await self._uow.inbox.store(items, self._clock.now())
        for update_id, error, keys in poisoned:
            log.warning("update %s set aside: %s (keys: %s)", update_id, error, keys)
        return fresh

    def stopped(self) -> str | None:
        """Why nothing can be stored now (`DATABASE_LOST`, `DATABASE_READ_ONLY`), if so."""
        return self._uow.stopped()

    async def next_offset(self) -> int:
        async with self._uow.transaction():
            return await self._uow.inbox.next_offset()

    async def unfinished(self, limit: int = 10_000) -> list[tuple[int, str]]:
        """Updates fetched before a crash and not handled: they are handled now."""
        async with self._uow.transaction():
            return await self._uow.inbox.unfinished(limit)

    async def done(self, update_id: int) -> None:
        """Mark an update handled; returns once that is committed (or raises why not)."""
        committed = asyncio.get_running_loop().create_future()
        self._finished.append((update_id, committed))
        async with self._writing:
            if not committed.done():  # else an earlier caller wrote this one's batch
                batch, self._finished = self._finished, []
                try:
                    await self._write_done([update_id for update_id, _ in batch])
                except Exception as error:
                    for _, waiting in batch:
                        waiting.set_exception(error)
                except BaseException:
                    # This caller was cancelled while writing: the batch goes back for the
                    # next writer (one of the others waiting), so that nobody waits forever.
                    self._finished[:0] = batch
                    raise
                else:
                    for _, waiting in batch:
                        waiting.set_result(None)
        await committed

    async def _write_done(self, update_ids: list[int]) -> None:
        # Tried again after a short wait: an update left pending is handled once more at the
        # next start, and a vote or a star pressed twice undoes itself.
        for attempt in range(DONE_TRIES):
            try:
                async with self._uow.transaction():
                    await self._uow.inbox.finish_many(update_ids, self._clock.now())
            except Exception:
                if attempt + 1 == DONE_TRIES:
                    raise
                await asyncio.sleep(0.2 * 2**attempt)
            else:
                return

    async def failed(self, update_id: int, error: str) -> bool:
        """Count a failed attempt; True when the update should be tried again."""
        async with self._uow.transaction():
            await self._uow.inbox.finish(update_id, self._clock.now(), error)
            if await self._uow.inbox.attempts(update_id) < MAX_ATTEMPTS:
                return True
            await self._uow.inbox.give_up(update_id, self._clock.now())
        log.error("update %s failed %d times and is set aside", update_id, MAX_ATTEMPTS)
        return False

    async def counts(self) -> dict[str, int]:
        """Updates by state; `quarantined` counts those set aside unparsed."""
        async with self._uow.transaction():
            counts = await self._uow.inbox.counts()
            counts["quarantined"] = await self._uow.inbox.quarantined()
        return counts
