"""Delivery: one worker sends the outbox while keeping within Telegram's flood limits.

Every message the bot sends on its own initiative is first an outbox row (see `OutboxRepo`).
The worker claims a row (`sending`, committed) before it hands it to the `Sender`, and records
the outcome afterwards, each in its own short transaction. A crash between the two leaves the
row in `sending`; `recover()` turns it into `unknown` at the next start, because Telegram may
already have shown it: such a row is reported, never sent again. Telegram-free: the `Sender`
translates Telegram's answers into the exceptions declared beside it in `bot.ports`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.models import DeliveryStatus, NewDelivery, OutboxRow
from bot.ports import (
    ChatMoved,
    Clock,
    DeliveryError,
    OutcomeUnknown,
    Rejected,
    RetryLater,
    Sender,
    StorageStoppedError,
    TransientFailure,
    UnitOfWork,
    Unreachable,
)

log = logging.getLogger(__name__)

_WRITE_TRIES = 3  # a batch of answers that cannot be written, before each is tried alone
_RESEND_LIMIT = 10_000  # unknown copies sent again by one press


# --------------------------------------------------------------------------------------------
# Rate limits


@dataclass(eq=False, slots=True)
class Slot:
    """One send's place in the limits: from when it started until Telegram answered."""

    chat_id: int
    started: float
    answered: float | None = None

    def reference(self, now: float) -> float:
        # Telegram counted the request at some moment between the start and the answer; the
        # answer is the latest such moment, so windows measured from it hold whatever the
        # jitter. Until the answer comes, the request may arrive at any moment.
        return self.answered if self.answered is not None else now


class RateLimiter:
    """Telegram's flood limits for one bot, enforced before each send starts.

    - at most `per_second` requests reach Telegram in any sliding one-second window;
    - at most one send per `per_chat_interval` seconds to any one chat;
    - at most `per_group_per_minute` sends to one group (negative chat id) in any 60 s;
    - `pause(seconds)` holds every send: a 429's retry_after applies to the whole bot.

    Windows are measured from when the earlier sends were answered (see `Slot.reference`), so
    the limits hold at Telegram's end whatever the network does: with a 50 ms round trip the
    rate is 30 per 1.05 s. `margin` widens every window further, for a Telegram that counts
    more strictly than documented. Limits are checked per chat, so a chat waiting for its slot
    never holds up sends to other chats.

    Answers to people (`acquire_reply`) and the delivery worker share the overall window, but
    while the worker has work (it asked for a slot within the last second) answers may take
    at most `per_second - worker_share` places of any one-second window: however many people
    write, a third of each second (by default) stays the worker's, so a broadcast keeps going.
    The worker is not capped in turn: an idle second's places go to whoever asks.

    Every slot taken must be released (`release`) when the answer arrives, or the limiter
    keeps counting it as on its way.
    """

    def __init__(
        self,
        per_second: int = 30,
        per_chat_interval: float = 1.0,
        per_group_per_minute: int = 20,
        *,
        margin: float = 0.0,
        worker_share: int | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if per_second < 1 or per_group_per_minute < 1 or per_chat_interval < 0 or margin < 0:
            raise ValueError("rate limits must be positive")
        self.per_second = per_second
        self.per_chat_interval = per_chat_interval
        self.per_group_per_minute = per_group_per_minute
        self.margin = margin
        share = per_second // 3 if worker_share is None else worker_share
        if not 0 <= share < per_second:
            raise ValueError("the worker's share must leave answers at least one place")
        self.worker_share = share
        self._monotonic = monotonic
        self._sleep = sleep
        # The last `per_second` sends: the oldest decides when the next may start. A slot
        # leaves only when a start passes its window, so no earlier one can still matter.
        self._recent: deque[Slot] = deque(maxlen=per_second)
        self._last_in_chat: dict[int, Slot] = {}
        self._in_group: dict[int, deque[Slot]] = {}
        self._paused_until = float("-inf")
        # The answers among the recent sends, and when the worker last asked for a slot.
        self._reply_places = per_second - share
        self._recent_replies: deque[Slot] = deque(maxlen=self._reply_places)
        self._worker_asked = float("-inf")

    def now(self) -> float:
        return self._monotonic()

    def pause(self, seconds: float) -> None:
        """Hold every send for `seconds` from now (never shortens a longer pause)."""
        self._paused_until = max(self._paused_until, self._monotonic() + seconds)

    def global_delay(self) -> float:
        """Seconds until any send may start: the pause and the overall window."""
        now = self._monotonic()
        wait = self._paused_until - now
        if len(self._recent) == self.per_second:
            wait = max(wait, self._recent[0].reference(now) + 1.0 + self.margin - now)
        return max(0.0, wait)

    def delay(self, chat_id: int) -> float:
        """Seconds until a send to `chat_id` may start; 0.0 when it may start now. A send
        still on its way keeps its chat waiting until it is answered. Asked by the worker:
        it has work, so the answers leave it its share (see the class)."""
        now = self._monotonic()
        self._worker_asked = now
        wait = self.global_delay()
        last = self._last_in_chat.get(chat_id)
        if last is not None:
            free_at = last.reference(now) + self.per_chat_interval + self.margin
            wait = max(wait, free_at - now)
        group = self._in_group.get(chat_id)
        if group is not None and len(group) == self.per_group_per_minute:
            wait = max(wait, group[0].reference(now) + 60.0 + self.margin - now)
        return max(0.0, wait)

    def free_now(self) -> int:
        """How many sends the overall limits (the pause, the one-second window) let start
        right now; each still needs its chat's slot. As `global_delay`, the oldest send in
        the window decides: one answered later does not free a place before it."""
        now = self._monotonic()
        if self._paused_until - now > 0:
            return 0
        # Sends whose window has passed no longer count: dropped from the left, up to the
        # first that still counts (an unanswered one always does), so each is looked at once
        # rather than at every call (a paid-rate window holds a thousand).
        recent = self._recent
        while recent and recent[0].reference(now) + 1.0 + self.margin - now <= 0:
            recent.popleft()
        return self.per_second - len(recent)

    def try_acquire(self, chat_id: int) -> Slot | None:
        """Take a slot for a send to `chat_id` starting now, or None if it must wait."""
        if self.delay(chat_id) > 0:
            return None
        return self._take(chat_id)

    def _replies_delay(self, now: float) -> float:
        """Seconds until the answers may take another place without eating into the worker's
        share: 0.0 while the worker has nothing to send."""
        replies = self._recent_replies
        if now - self._worker_asked > 1.0 + self.margin or len(replies) < self._reply_places:
            return 0.0
        return max(0.0, replies[0].reference(now) + 1.0 + self.margin - now)

    def reply_delay(self, chat_id: int, *, paced: bool = True) -> float:
        """Seconds until an answer to `chat_id` may start: the pause and the overall window,
        the chat's own second (not for an edit) and a group's minute, and the worker's share
        (see `acquire_reply`)."""
        now = self._monotonic()
        wait = max(self.global_delay(), self._replies_delay(now))
        last = self._last_in_chat.get(chat_id) if paced else None
        if last is not None:
            wait = max(wait, last.reference(now) + self.per_chat_interval + self.margin - now)
        group = self._in_group.get(chat_id)
        if group is not None and len(group) == self.per_group_per_minute:
            wait = max(wait, group[0].reference(now) + 60.0 + self.margin - now)
        return max(0.0, wait)

    async def acquire_reply(self, chat_id: int, *, paced: bool = True) -> Slot:
        """A slot for answering someone who just wrote. It counts like any send (so the
        worker keeps the overall rate, and its next message to the chat keeps its distance),
        and waits for the chat's one-second interval like any send: Telegram may answer a
        second message within the second with a 429, and a 429 holds up every send of the
        bot (`pause`). Forty people each writing once a second, each answered at once, drew
        a 429 every second or so, and the pauses starved the broadcast going on meanwhile
        (no copy out in 60 s); waiting for the chat's second costs the person at most that
        second and draws none. Answers one after another (the files of an export, a handler's
        several messages) take the same steady second each. Callers that answer one chat
        concurrently take their turns in order themselves (see
        `bot.telegram.limits.ReplyLimits`). Not `paced`: an edit of a message already in the
        chat, which Telegram does not count as a new message there, neither waits for nor
        starts the chat's second."""
        while (wait := self.reply_delay(chat_id, paced=paced)) > 0:
            await self._sleep(wait)
        slot = self._take(chat_id, per_chat=paced)
        self._recent_replies.append(slot)
        return slot

    def _take(self, chat_id: int, *, per_chat: bool = True) -> Slot:
        now = self._monotonic()
        slot = Slot(chat_id, now)
        self._recent.append(slot)
        if per_chat:
            self._last_in_chat[chat_id] = slot
        if chat_id < 0:
            group = self._in_group.setdefault(chat_id, deque(maxlen=self.per_group_per_minute))
            group.append(slot)
        if len(self._last_in_chat) > 4096:
            self._forget_idle_chats(now)
        return slot

    async def acquire(self, chat_id: int) -> Slot:
        """Wait for a slot for `chat_id` and take it."""
        while (slot := self.try_acquire(chat_id)) is None:
            await self._sleep(self.delay(chat_id))
        return slot

    def release(self, slot: Slot) -> None:
        """Telegram answered (or the request failed): the windows run from now."""
        if slot.answered is None:
            slot.answered = self._monotonic()

    def _forget_idle_chats(self, now: float) -> None:
        for chat_id, last in list(self._last_in_chat.items()):
            horizon = self.per_chat_interval + self.margin
            if last.answered is not None and now - last.answered > horizon:
                del self._last_in_chat[chat_id]
        for chat_id, group in list(self._in_group.items()):
            last_answer = group[-1].answered
            if last_answer is not None and now - last_answer > 60.0 + self.margin:
                del self._in_group[chat_id]


# --------------------------------------------------------------------------------------------
# The worker


@dataclass
class DeliveryStats:
    """What the worker did since it was created."""

    sent: int = 0
    retried: int = 0
    failed: int = 0
    unreachable: int = 0
    unknown: int = 0
    missed: int = 0
    rate_limited_429: int = 0
    last_sent_at: datetime | None = None


def in_flight_for(per_second: int) -> int:
    """Sends to keep open at once for `per_second`: enough to cover a quarter-second from
    claim to recorded answer (a slow round trip to Telegram, the batching below), and never
    fewer than eight."""
    return max(8, per_second // 4)


@dataclass(frozen=True, slots=True)
class _Answer:
    """A finished send, waiting to be written with the others of its batch."""

    row: OutboxRow
    outcome: int | Exception
    at: datetime


class DeliveryWorker:
    """Sends pending outbox rows: many chats at once, one message at a time per chat.

    Sends to different chats overlap (up to `max_in_flight`, by default enough for the
    limiter's rate), so that the round trip to Telegram does not cap the rate; a chat has at
    most one send in flight, so its messages arrive in row order. Transient failures
    (Telegram could not be reached: an outage of the venue's uplink, a 5xx) are retried after
    `backoff_base`, 2×, 4×… seconds (capped at `max_backoff`) for as long as the row is
    relevant: until its `expires_at` (a push: the site's next item), or `default_relevance`
    after it was queued. The last try is made at that moment; if it fails too the row is
    `missed` and `on_missed` is called (the agenda engine tells the site's facilitators).
    `max_attempts`, if given, gives up sooner (`failed`). A 429 pauses every send for its
    retry_after, and the row is tried again after it.

    The database is asked in batches, not once per send: the worker keeps the first rows of
    up to `batch_size` chats as candidates and reads them again when they run out, when
    `notify()` says rows were enqueued, when a chat it finished has more rows, or after
    `idle_poll`; it claims (`sending`, committed before the send) all the candidates the
    limits let start at that moment in one transaction; and it writes the answers that
    arrived within `record_interval` of each other in one transaction. A chat counts as in
    flight until its answer is written, so the next row of a chat is never read before the
    outcome of the previous one is known.

    Whoever enqueues rows calls `notify()`; without it they are found at the next poll.
    """

    def __init__(
        self,
        uow: UnitOfWork,
        sender: Sender,
        clock: Clock,
        limiter: RateLimiter | None = None,
        *,
        max_in_flight: int | None = None,
        max_attempts: int | None = None,
        backoff_base: float = 1.0,
        max_backoff: float = 30.0,
        default_relevance: timedelta = timedelta(hours=1),
        on_missed: Callable[[], None] = lambda: None,
        batch_size: int = 256,
        idle_poll: float = 5.0,
        history: int = 10_000,
        claim_interval: float = 0.005,
        record_interval: float = 0.005,
    ) -> None:
        self.limiter = limiter if limiter is not None else RateLimiter()
        if max_in_flight is None:
            max_in_flight = in_flight_for(self.limiter.per_second)
        if max_in_flight < 1 or (max_attempts is not None and max_attempts < 1) or batch_size < 1:
            raise ValueError("max_in_flight, max_attempts and batch_size must be at least 1")
        self._uow = uow
        self._sender = sender
        self._clock = clock
        self._max_in_flight = max_in_flight
        self._max_attempts = max_attempts
        self._backoff_base = backoff_base
        self._max_backoff = max_backoff
        self._default_relevance = default_relevance
        self._on_missed = on_missed
        self._batch_size = batch_size
        # Even without notify() the worker looks again this often: a row enqueued by code that
        # forgot to notify, or a clock that jumped, is picked up all the same.
        self._idle_poll = idle_poll
        # At most one claim transaction per `claim_interval`, and answers gathered for
        # `record_interval` before they are written: at a thousand sends a second that is a
        # few rows per transaction instead of one, for a few milliseconds of delay.
        self._claim_interval = claim_interval
        self._record_interval = record_interval
        self.stats = DeliveryStats()
        # Told (after the outcome is written) when a chat that is no participant's turned out
        # to be gone or moved: a site's facilitator chat is then replaced (see
        # `bot.services.lostchats`). Set by the composition root.
        self.on_chat_lost: Callable[[OutboxRow, DeliveryError], Awaitable[object]] | None = None
        # When each send started, on the limiter's clock: for tests and the rehearsal report.
        self.send_starts: deque[float] = deque(maxlen=history)
        self._wake = asyncio.Event()
        self._in_flight: dict[int, asyncio.Task[None]] = {}
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        # The candidates: each the first pending row of its chat when last read, due then,
        # in (priority, id) order, no chat twice and none in flight.
        self._candidates: deque[OutboxRow] = deque()
        self._stale = True  # read them again before the next claim
        self._exhausted = False  # the last read found fewer than asked: nothing more queued
        self._read_at = float("-inf")  # loop time of the last read
        self._due_at: datetime | None = None  # the next row in backoff, as of the last read
        self._next_claim_at = float("-inf")
        # Sends are spread over the second rather than started all at once when the window
        # opens: a burst of hundreds queues on the event loop, each answer comes later, and
        # the windows, measured from the answers, close for longer. A few may go at once.
        self._burst = max(8.0, self.limiter.per_second / 20)
        self._tokens = self._burst
        self._tokens_at = float("-inf")
        self._answers: list[_Answer] = []
        self._writer: asyncio.Task[None] | None = None  # the one gathering `_answers`
        self._writers: set[asyncio.Task[None]] = set()  # and those still writing theirs

    # -- lifecycle ----------------------------------------------------------------------------

    async def counts(self) -> dict[str, int]:
        """Outbox rows by state, for /health and the minute log."""
        async with self._uow.transaction():
            found = await self._uow.outbox.counts()
        return {str(status): n for status, n in found.items()}

    async def failed_sends(self) -> int:
        """Sends that did not arrive and will not be tried again (see `OutboxRepo`)."""
        async with self._uow.transaction():
            return await self._uow.outbox.failed_sends()

    async def unknown_to_resend(self) -> int:
        """Copies whose outcome is unknown and that nobody has sent again yet."""
        async with self._uow.transaction():
            return len(await self._uow.outbox.unknown_rows(_RESEND_LIMIT))

    async def resend_unknown(self) -> int:
        """Queue every unknown copy again, as a new row keyed `resend:<id>` (so a second
        press queues nothing more); return how many. Such a copy may arrive twice: Telegram
        may have shown the first."""
        now = self._clock.now()
        async with self._uow.transaction():
            rows = await self._uow.outbox.unknown_rows(_RESEND_LIMIT)
            queued = await self._uow.outbox.enqueue(
                [
                    NewDelivery(
                        key=f"resend:{row.id}",
                        event_key=row.event_key,
                        chat_id=row.chat_id,
                        user_id=row.user_id,
                        kind=row.kind,
                        message=row.message,
                        priority=row.priority,
                    )
                    for row in rows
                ],
                now,
            )
            await self._uow.outbox.mark_resent([row.id for row in rows])
        if queued:
            log.info("%d outbox rows of unknown outcome queued again", queued)
            self.notify()
        return queued

    async def recover(self) -> int:
        """Rows a crash left in `sending` become `unknown`; return how many."""
        async with self._uow.transaction():
            count = await self._uow.outbox.recover_after_restart(self._clock.now())
        if count:
            self.stats.unknown += count
            log.warning("%d outbox rows were interrupted while sending; marked unknown", count)
        return count

    async def start(self) -> None:
        if self._task is not None:
            raise RuntimeError("the delivery worker is already running")
        await self.recover()
        self._stopping = False
        self._stale = True
        self.send_starts.clear()
        self._task = asyncio.create_task(self._run(), name="delivery-worker")

    def notify(self) -> None:
        """Rows were enqueued: look now rather than at the next poll."""
        self._stale = True
        self._wake.set()

    async def stop(self) -> None:
        """Start no new send, let those in flight finish and their answers be written, and
        return."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            await self._task
            self._task = None
        while waiting := [t for t in (*self._in_flight.values(), *self._writers) if not t.done()]:
            await asyncio.gather(*waiting, return_exceptions=True)
        self._candidates.clear()

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def drain(self, timeout: float) -> bool:  # noqa: ASYNC109 - also the horizon, below
        """Wait until nothing is in flight and no pending row falls due within `timeout`
        seconds (so a row in a short backoff is waited for); False if time ran out first."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            remaining = deadline - loop.time()
            horizon = self._clock.now() + timedelta(seconds=max(0.0, remaining))
            async with self._uow.transaction():
                left = await self._uow.outbox.next_pending(horizon, 1)
                # Read under the database lock: a row changes state in a transaction and its
                # chat enters or leaves `_in_flight` right after it commits (the claim, the
                # batch of answers), with no await between, so the two agree here. A send
                # answered but not yet written still holds its chat in `_in_flight`.
                busy = bool(self._in_flight)
            if not left and not busy:
                return True
            if remaining <= 0:
                return False
            await asyncio.sleep(min(0.02, remaining))

    # -- dispatching --------------------------------------------------------------------------

    async def _run(self) -> None:
        while not self._stopping:
            self._wake.clear()
            try:
                wait = await self._dispatch()
            except StorageStoppedError:
                # Read-only or deleted, said once by the storage: the rows wait, unsent and
                # unclaimed, and are looked at again every second, quietly.
                self._stale = True
                wait = 1.0
            except Exception:
                # The worker outlives a bad moment of the database; the rows stay where they
                # are and are looked at again after the pause.
                log.exception("the delivery worker failed to dispatch; trying again shortly")
                self._stale = True
                wait = min(self._idle_poll, 1.0)
            if wait > 0:
                await self._sleep(wait)

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._wake.wait()

    async def _dispatch(self) -> float:
        """Claim and start every candidate that may go now and return 0.0, or return how long
        to wait before looking again."""
        free = self._max_in_flight - len(self._in_flight)
        if free <= 0:
            return self._idle_poll  # a written answer wakes the loop
        global_wait = self.limiter.global_delay()
        if global_wait > 0:
            return global_wait
        loop = asyncio.get_running_loop()
        claim_wait = self._next_claim_at - loop.time()
        if claim_wait > 0:
            return claim_wait
        per_second = self.limiter.per_second
        self._tokens = min(
            self._burst, self._tokens + (loop.time() - self._tokens_at) * per_second
        )
        self._tokens_at = loop.time()
        if self._tokens < 1:
            return (1 - self._tokens) / per_second
        # Never more than the overall window lets start now, so every claimed row finds its
        # slot free (unless a 429 pauses everything meanwhile, see `_deliver`).
        room = min(free, self.limiter.free_now(), int(self._tokens))
        now = self._clock.now()
        if (
            self._stale
            or (len(self._candidates) < room and not self._exhausted)
            or (self._due_at is not None and self._due_at <= now)
            or loop.time() - self._read_at >= self._idle_poll
        ):
            await self._read_candidates()
            now = self._clock.now()
        wait = self._idle_poll - (loop.time() - self._read_at)
        if self._due_at is not None:
            wait = min(wait, (self._due_at - now).total_seconds())
        # Not simply the first rows: one whose chat must wait lets the next chat go first.
        picked: list[OutboxRow] = []
        kept: deque[OutboxRow] = deque()
        while self._candidates and len(picked) < room:
            row = self._candidates.popleft()
            if row.chat_id in self._in_flight:
                continue  # cannot happen (see _read_candidates); never send out of order
            chat_wait = self.limiter.delay(row.chat_id)
            if chat_wait <= 0:
                picked.append(row)
            else:
                kept.append(row)
                wait = min(wait, chat_wait)
        kept.extend(self._candidates)
        self._candidates = kept
        if picked:
            self._tokens -= len(picked)
            self._next_claim_at = loop.time() + self._claim_interval
            await self._claim(picked)
            return 0.0
        return max(wait, 0.001)

    async def _read_candidates(self) -> None:
        now = self._clock.now()
        limit = self._batch_size
        # Cleared first: a notify() while the query runs asks for another read.
        self._stale = False
        async with self._uow.transaction(urgent=True):
            rows = await self._uow.outbox.next_per_chat(now, limit)
            self._due_at = await self._uow.outbox.next_due_at(after=now)
        self._read_at = asyncio.get_running_loop().time()
        # The query already leaves out chats with a row in `sending`, which a chat in flight
        # has until its answer is written; the filter only makes sure.
        self._candidates = deque(row for row in rows if row.chat_id not in self._in_flight)
        self._exhausted = len(rows) < limit

    async def _claim(self, rows: list[OutboxRow]) -> None:
        now = self._clock.now()
        try:
            # Committed before the sends: after a crash these rows are known to be in doubt.
            async with self._uow.transaction(urgent=True):
                claimed = await self._uow.outbox.claim([row.id for row in rows], now)
        except Exception:
            self._stale = True  # the rows are still pending; read them again
            raise
        # No await from the commit to the registration (see `drain`). The slots are normally
        # free, as counted before the claim; a 429 answered meanwhile may have paused
        # everything, and then the send waits for its slot in its own task.
        for row in rows:
            match claimed.get(row.id):
                case DeliveryStatus.SENDING:
                    slot = self.limiter.try_acquire(row.chat_id)
                    self._in_flight[row.chat_id] = asyncio.create_task(
                        self._deliver(row, slot), name=f"deliver-{row.id}"
                    )
                case DeliveryStatus.UNREACHABLE:
                    self.stats.unreachable += 1
                    self._stale = True  # the chat may have later rows
                case _:
                    pass  # no longer pending: erased with its participant, or taken otherwise

    # -- one send -----------------------------------------------------------------------------

    async def _deliver(self, row: OutboxRow, slot: Slot | None) -> None:
        handed_over = False
        try:
            slot = slot or await self._wait_for_slot(row)
            if slot is not None:
                self.send_starts.append(slot.started)
                outcome = await self._send(row, slot)
                now = self._clock.now()
                self._note(row, outcome, now)
                self._answers.append(_Answer(row, outcome, now))
                if self._writer is None:
                    self._writer = asyncio.create_task(self._write_answers(), name="answers")
                    self._writers.add(self._writer)
                    self._writer.add_done_callback(self._writers.discard)
                handed_over = True
        except Exception:
            # The outcome could not be recorded (the database failed): the row stays in
            # `sending` and is reported as unknown after the next start, never resent.
            log.exception("could not record the outcome of outbox row %d", row.id)
        finally:
            if not handed_over:
                del self._in_flight[row.chat_id]
                self._wake.set()

    async def _wait_for_slot(self, row: OutboxRow) -> Slot | None:
        while (slot := self.limiter.try_acquire(row.chat_id)) is None:
            if self._stopping:
                # Not sent: back to the queue rather than holding up the shutdown.
                async with self._uow.transaction():
                    await self._uow.outbox.mark_pending_retry(
                        row.id, self._clock.now(), "worker stopped before sending"
                    )
                return None
            await self._sleep(self.limiter.delay(row.chat_id))
        return slot

    async def _send(self, row: OutboxRow, slot: Slot) -> int | Exception:
        """Telegram's message id, or what went wrong."""
        try:
            message = row.message
            if message.delete_of is not None:
                return await self._sender.delete(row.chat_id, message.delete_of, message)
            if message.edit_of is not None:
                return await self._sender.edit(row.chat_id, message.edit_of, message)
            return await self._sender.send(row.chat_id, message)
        except Exception as error:
            return error
        finally:
            self.limiter.release(slot)

    def _note(self, row: OutboxRow, outcome: int | Exception, now: datetime) -> None:
        """What an answer means at once, before it is written: the counts, the logs, and a
        429's pause, which must hold the sends that start meanwhile."""
        match outcome:
            case int():
                self.stats.sent += 1
                self.stats.last_sent_at = now
            case RetryLater(seconds=seconds):
                self.limiter.pause(seconds)
                self.stats.rate_limited_429 += 1
                self.stats.retried += 1
                log.warning("Telegram asked to slow down for %gs (row %d)", seconds, row.id)
            case TransientFailure() if self._given_up(row, now) is DeliveryStatus.MISSED:
                self.stats.missed += 1
                log.warning(
                    "outbox row %d missed: Telegram unreachable until it expired (%d tries): %s",
                    row.id,
                    row.attempts + 1,
                    outcome,
                )
            case TransientFailure() if self._given_up(row, now) is DeliveryStatus.FAILED:
                self.stats.failed += 1
                log.warning(
                    "outbox row %d failed after %d tries: %s", row.id, row.attempts + 1, outcome
                )
            case TransientFailure():
                self.stats.retried += 1
            case Rejected():
                self.stats.failed += 1
                log.warning("Telegram rejected outbox row %d: %s", row.id, outcome)
            case Unreachable():
                self.stats.unreachable += 1
            case OutcomeUnknown():
                self.stats.unknown += 1
                log.warning("outcome of outbox row %d is unknown: %s", row.id, outcome)
            case _:
                self.stats.unknown += 1
                log.error("sending outbox row %d raised unexpectedly", row.id, exc_info=outcome)

    async def _write_answers(self) -> None:
        """Write the answers gathered over `record_interval` in one transaction, then let
        their chats go."""
        await asyncio.sleep(self._record_interval)
        answers, self._answers = self._answers, []
        # Answers arriving from here on start the next writer, which waits for this one's
        # transaction on the database lock.
        self._writer = None
        chats = [answer.row.chat_id for answer in answers]
        more = await self._write_with_retries(answers, chats)
        # Before the chats leave `_in_flight`, so that `drain` never sees a failed card whose
        # copies are not queued yet.
        await self._chats_lost(answers)
        # No await from the last commit to here (see `drain`).
        for chat_id in chats:
            del self._in_flight[chat_id]
        if more:
            self._stale = True  # their next rows (or a row back in backoff) are to be read
        self._wake.set()

    async def _chats_lost(self, answers: list[_Answer]) -> None:
        if self.on_chat_lost is None:
            return
        for answer in answers:
            outcome = answer.outcome
            if answer.row.user_id is None and isinstance(outcome, Unreachable | ChatMoved):
                try:
                    await self.on_chat_lost(answer.row, outcome)
                except Exception:
                    log.exception(
                        "could not handle the loss of chat of outbox row %d", answer.row.id
                    )

    async def _write_with_retries(self, answers: list[_Answer], chats: list[int]) -> set[int]:
        """Write the answers and return which of their chats have rows pending. A row left in
        `sending` holds its chat's later rows (it may have arrived; see `next_per_chat`), so
        a failed write is tried again while the answers are still in memory; after that each
        answer alone, so that one row that cannot be written holds up only its own chat
        (until the next start, which reports it as unknown, never resent)."""
        for attempt in range(_WRITE_TRIES):
            try:
                async with self._uow.transaction(urgent=True):
                    missed = await self._record(answers)
                    pending = await self._uow.outbox.pending_chats(chats)
            except Exception:
                log.exception(
                    "could not record the outcomes of %d outbox rows (try %d of %d)",
                    len(answers),
                    attempt + 1,
                    _WRITE_TRIES,
                )
                if self._stopping:
                    break
                await asyncio.sleep(min(0.5 * 2**attempt, 5.0))
            else:
                if missed:
                    self._on_missed()
                return pending
        if len(answers) > 1 and not self._stopping:
            for answer in answers:
                try:
                    async with self._uow.transaction(urgent=True):
                        missed = await self._record([answer])
                    if missed:
                        self._on_missed()
                except Exception:
                    log.exception(
                        "outbox row %d stays in 'sending': its chat waits for the next start",
                        answer.row.id,
                    )
        return set(chats)  # whatever they hold is read again

    async def _record(self, answers: list[_Answer]) -> bool:
        """Write the answers; True if any row was missed."""
        outbox = self._uow.outbox
        sent: list[tuple[int, int, datetime]] = []
        missed = False
        for answer in answers:
            row, outcome, now = answer.row, answer.outcome, answer.at
            match outcome:
                case int(message_id):
                    sent.append((row.id, message_id, now))
                case RetryLater(seconds=seconds):
                    await outbox.mark_pending_retry(
                        row.id, now + timedelta(seconds=seconds), outcome.reason
                    )
                case TransientFailure() if self._given_up(row, now) is DeliveryStatus.MISSED:
                    await outbox.mark_missed(row.id, outcome.reason)
                    missed = True
                case TransientFailure() if self._given_up(row, now) is DeliveryStatus.FAILED:
                    await outbox.mark_failed(row.id, outcome.reason)
                case TransientFailure():
                    backoff = min(self._max_backoff, self._backoff_base * 2**row.attempts)
                    # The last try falls on the expiry itself: an outage that ends just
                    # before it still delivers.
                    retry_at = min(now + timedelta(seconds=backoff), self._expiry(row))
                    await outbox.mark_pending_retry(row.id, retry_at, outcome.reason)
                case Rejected():
                    await outbox.mark_failed(row.id, outcome.reason)
                case Unreachable():
                    await outbox.mark_unreachable(row.id, outcome.reason)
                    if row.user_id is not None:
                        await self._uow.participants.mark_unreachable(row.user_id, now)
                case OutcomeUnknown():
                    await outbox.mark_unknown(row.id, outcome.reason)
                case _:
                    # A Sender bug or an unforeseen error: whether Telegram got the message is
                    # not known, so it is treated like a timeout rather than retried.
                    await outbox.mark_unknown(row.id, type(outcome).__name__)
        if sent:
            await outbox.mark_sent_many(sent)
        return missed

    def _expiry(self, row: OutboxRow) -> datetime:
        """Until when a transient failure is worth another try."""
        if row.expires_at is not None:
            return row.expires_at
        return row.created_at + self._default_relevance

    def _given_up(self, row: OutboxRow, now: datetime) -> DeliveryStatus | None:
        """After a transient failure at `now`: MISSED when the row is no longer relevant,
        FAILED when `max_attempts` ran out first, None while it is to be tried again."""
        if now >= self._expiry(row):
            return DeliveryStatus.MISSED
        if self._max_attempts is not None and row.attempts + 1 >= self._max_attempts:
            return DeliveryStatus.FAILED
        return None
