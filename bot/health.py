"""How the bot is doing: event-loop stalls, measured by a task that expects to wake on time."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.services import Services

log = logging.getLogger(__name__)

TICK = 0.05  # seconds between checks
STALL_WARNING = 0.1  # a loop blocked longer than this is worth a warning


class LoopMonitor:
    """Sleeps `TICK` again and again; any extra delay is time the event loop was blocked."""

    def __init__(self) -> None:
        self.longest = 0.0  # since the last `take_longest()`
        self.longest_ever = 0.0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def take_longest(self) -> float:
        longest, self.longest = self.longest, 0.0
        return longest

    async def _run(self) -> None:
        while True:
            before = time.perf_counter()
            await asyncio.sleep(TICK)
            stall = time.perf_counter() - before - TICK
            if stall > self.longest:
                self.longest = stall
                self.longest_ever = max(self.longest_ever, stall)
            if stall > STALL_WARNING:
                log.warning("the event loop was blocked for %.0f ms", stall * 1000)


@dataclass(frozen=True, slots=True)
class Snapshot:
    inbox_pending: int
    inbox_quarantined: int  # updates set aside unparsed (or unstorable)
    outbox_pending: int
    outbox_unknown: int
    outbox_failed: int
    last_delivery: datetime | None
    stall_ms: int  # the longest event-loop stall since the last minute's log line
    stall_ms_ever: int
    database: str | None  # DATABASE_READ_ONLY or DATABASE_LOST while nothing can be stored


async def snapshot(services: Services) -> Snapshot:
    """Queue depths, last delivery and event-loop stalls: for /health and the minute log."""
    inbox = await services.inbox.counts()
    outbox = await services.delivery.counts()
    return Snapshot(
        inbox_pending=inbox.get("pending", 0),
        inbox_quarantined=inbox.get("quarantined", 0),
        outbox_pending=outbox.get("pending", 0) + outbox.get("sending", 0),
        outbox_unknown=outbox.get("unknown", 0),
        # Failed and not tried again: refused, or a group or organiser chat gone (a
        # participant who blocked the bot is not a failure of the bot's).
        outbox_failed=await services.delivery.failed_sends(),
        last_delivery=services.delivery.stats.last_sent_at,
        stall_ms=round(services.monitor.longest * 1000),
        stall_ms_ever=round(services.monitor.longest_ever * 1000),
        database=services.inbox.stopped(),
    )


class GcFrozen:
    """Leaves the objects the process holds out of garbage collection while someone needs it:
    the running bot (what start-up built lives as long as it does) and each export running.

    A full collection walks every object the process holds (the bot's, its libraries') while
    holding the GIL: 40-150 ms, during which the bot's loop cannot run. New objects mostly
    die young; it is the older ones that make a full collection long. `gc.freeze` puts them
    aside until the last holder lets go, and `gc.unfreeze` gives them back to the oldest
    generation, so nothing is lost, only collected later. Counted, so that an export ending
    does not unfreeze what the bot froze.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running = 0

    def hold(self) -> None:
        with self._lock:
            if not self._running:
                # Garbage now is collected first: frozen, it would stay until the last holder
                # lets go. A later holder (an export while the bot runs) freezes nothing
                # more, or the garbage of that moment would stay for the rest of the day.
                gc.collect()
                gc.freeze()
            self._running += 1

    def let_go(self) -> None:
        with self._lock:
            self._running -= 1
            if not self._running:
                gc.unfreeze()

    def __enter__(self) -> None:
        self.hold()

    def __exit__(self, *exc: object) -> None:
        self.let_go()


gc_frozen = GcFrozen()
