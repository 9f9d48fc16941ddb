"""The delivery worker end to end: outbox rows in SQLite, PTB's real request pipeline, and the
fake Bot API answering as Telegram would, flood limits and failures included."""

from __future__ import annotations

import asyncio
import bisect
import dataclasses
import warnings
from collections.abc import AsyncIterator, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
from telegram import Bot, LinkPreviewOptions
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, InvalidToken, NetworkError, RetryAfter, TimedOut
from telegram.ext import BaseRateLimiter, Defaults, ExtBot
from telegram.warnings import PTBDeprecationWarning

from bot.buttons import Consent
from bot.clock import SystemClock
from bot.models import DeliveryStatus, NewDelivery, OutboxMessage, OutboxRow
from bot.ports import OutcomeUnknown, Rejected, RetryLater, TransientFailure, Unreachable
from bot.sandbox import FakeBotApi, FakeRequest, FakeUser, TelegramLimits
from bot.sandbox.harness import unthrottled
from bot.services.delivery import (
    DeliveryWorker,
    RateLimiter,
    in_flight_for,
)
from bot.telegram.sender import TelegramSender
from storage.db import Database
from storage.outbox import SqliteOutboxRepo
from storage.unit_of_work import SqliteUnitOfWork
from tests.waiting import eventually

CLOCK = SystemClock()


@pytest.fixture(autouse=True)
def _ptb_timedelta(monkeypatch: pytest.MonkeyPatch) -> None:
    """PTB's own RetryAfter constructor warns unless this is set (the sender reads the value
    without warning, see test_reading_retry_after_does_not_warn)."""
    monkeypatch.setenv("PTB_TIMEDELTA", "true")


@pytest.fixture
def api() -> FakeBotApi:
    return FakeBotApi()  # real time: the worker's limiter and the fake's windows must agree


def ptb_bot(api: FakeBotApi, latency: float = 0.0) -> ExtBot[None]:
    # What the application builds: an ExtBot with HTML and no link previews by default.
    return ExtBot(
        api.token,
        request=FakeRequest(api, latency=latency),
        defaults=Defaults(
            parse_mode=ParseMode.HTML, link_preview_options=LinkPreviewOptions(is_disabled=True)
        ),
    )


@pytest.fixture
async def bot(api: FakeBotApi) -> AsyncIterator[ExtBot[None]]:
    async with ptb_bot(api) as real_bot:
        yield real_bot


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[Database]:
    db = await Database.open(tmp_path / "x.sqlite3")
    yield db
    await db.close()


@pytest.fixture
def store(database: Database) -> SqliteUnitOfWork:
    return SqliteUnitOfWork(database)


async def people(store: SqliteUnitOfWork, api: FakeBotApi, count: int) -> list[FakeUser]:
    """Participants who have opened the bot, so that it may write to them."""
    persons = []
    async with store.transaction():
        for number in range(count):
            person = api.user(5000 + number, f"Deltager {number}")
            person.send("/start")
            await store.participants.upsert(person.id, person.id, person.first_name, CLOCK.now())
            persons.append(person)
    return persons


def push(person: FakeUser, item: str = "welcome", **message: Any) -> NewDelivery:
    text = message.pop("text", f"Velkommen, <b>{person.first_name}</b>")
    return NewDelivery(
        key=f"push:ev:aalborg:{item}:{person.id}",
        event_key="ev",
        chat_id=person.id,
        user_id=person.id,
        kind="push",
        message=OutboxMessage(text, **message),
    )


async def enqueue(store: SqliteUnitOfWork, items: list[NewDelivery]) -> int:
    async with store.transaction():
        return await store.outbox.enqueue(items, CLOCK.now())


async def row(store: SqliteUnitOfWork, key: str) -> OutboxRow:
    async with store.transaction():
        found = await store.outbox.by_key(key)
    assert found is not None
    return found


def worker(
    store: SqliteUnitOfWork, bot: Bot, limiter: RateLimiter | None = None, **options: Any
) -> DeliveryWorker:
    options.setdefault("backoff_base", 0.01)
    return DeliveryWorker(store, TelegramSender(bot), CLOCK, limiter, **options)


async def deliver_all(work: DeliveryWorker, within: float = 10.0) -> None:
    await work.start()
    try:
        assert await work.drain(within)
    finally:
        await work.stop()


def max_in_window(times: list[float], window: float = 1.0) -> int:
    ordered = sorted(times)
    return max(
        bisect.bisect_left(ordered, start + window) - index for index, start in enumerate(ordered)
    )


# -- throughput within Telegram's limits ---------------------------------------------------------


async def test_150_participants_get_one_message_each_at_full_speed_without_a_single_429(
    api: FakeBotApi, store: SqliteUnitOfWork
) -> None:
    api.limits = TelegramLimits(30, 1, 20)
    persons = await people(store, api, 150)
    assert await enqueue(store, [push(person) for person in persons]) == 150
    # A 50 ms round trip: only overlapping sends can reach 30 a second.
    async with ptb_bot(api, latency=0.05) as slow_bot:
        work = worker(store, slow_bot)
        await deliver_all(work, within=20)

    calls = api.calls_to("sendMessage")
    assert api.rate_limited == 0
    assert work.stats.rate_limited_429 == 0
    assert all(call.ok for call in calls)
    assert len(calls) == 150
    # Counted where Telegram counts: at the fake, when each request arrived.
    arrivals = [call.at for call in calls]
    assert max_in_window(arrivals) <= 30
    assert max_in_window(list(work.send_starts)) <= 30
    assert 150 / (max(arrivals) - min(arrivals)) > 25  # within a few percent of the limit
    async with store.transaction():
        counts = await store.outbox.counts()
    assert counts[DeliveryStatus.SENT] == 150
    for person in persons:
        [message] = person.inbox()
        sent = await row(store, f"push:ev:aalborg:welcome:{person.id}")
        assert sent.status is DeliveryStatus.SENT
        assert sent.telegram_message_id == message["message_id"]
        assert sent.attempts == 1


async def test_one_chats_messages_arrive_in_order_and_do_not_hold_up_other_chats(
    api: FakeBotApi, bot: Bot, store: SqliteUnitOfWork
) -> None:
    busy, *others = await people(store, api, 4)
    items = [push(busy, f"item{n}", text=f"nummer {n}") for n in range(3)]
    items += [push(person) for person in others]
    await enqueue(store, items)
    # A shorter interval per chat than Telegram's second keeps the test quick.
    work = worker(store, bot, RateLimiter(per_chat_interval=0.3))

    await deliver_all(work)

    assert [m["text"] for m in busy.inbox()] == ["nummer 0", "nummer 1", "nummer 2"]
    calls = api.calls_to("sendMessage")
    order = [call.params["chat_id"] for call in calls]
    # The three others went out while the busy chat waited for its next second.
    assert order.index(others[-1].id) < order.index(busy.id, 1)
    busy_times = [call.at for call in calls if call.params["chat_id"] == busy.id]
    assert busy_times[1] - busy_times[0] >= 0.3
    assert busy_times[2] - busy_times[1] >= 0.3


async def test_html_buttons_and_silence_reach_telegram_as_sent(
    api: FakeBotApi, bot: Bot, store: SqliteUnitOfWork
) -> None:
    [ana] = await people(store, api, 1)
    buttons = ((("Ja", Consent(yes=True)), ("Nej", Consent(yes=False))),)
    await enqueue(store, [push(ana, text="Kommer <b>du</b>?", buttons=buttons, silent=True)])

    await deliver_all(worker(store, bot))

    [call] = api.calls_to("sendMessage")
    assert call.params["parse_mode"] == "HTML"
    assert call.params["disable_notification"] is True
    assert call.params["link_preview_options"] == {"is_disabled": True}
    message = ana.last()
    assert message["text"] == "Kommer du?"
    assert message["entities"] == [{"type": "bold", "offset": 7, "length": 2}]
    assert message["reply_markup"] == {
        "inline_keyboard": [
            [
                {"text": "Ja", "callback_data": "v1:consent:yes"},
                {"text": "Nej", "callback_data": "v1:consent:no"},
            ]
        ]
    }


class SpyOutbox(SqliteOutboxRepo):
    """The real outbox, noting how the worker uses it."""

    def __init__(self, store: SqliteUnitOfWork) -> None:
        super().__init__(store.outbox._conn)
        self.reads = 0
        self.claims: list[tuple[int, int]] = []  # (rows claimed, slots free at that moment)
        self.work: DeliveryWorker | None = None

    async def next_per_chat(self, now: datetime, limit: int) -> list[OutboxRow]:
        self.reads += 1
        return await super().next_per_chat(now, limit)

    async def claim(self, row_ids: Sequence[int], now: datetime) -> dict[int, DeliveryStatus]:
        assert self.work is not None
        in_flight = len(self.work._in_flight)
        free = min(self.work._max_in_flight - in_flight, self.work.limiter.free_now())
        self.claims.append((len(row_ids), free))
        return await super().claim(row_ids, now)


def spied(store: SqliteUnitOfWork, work: DeliveryWorker) -> SpyOutbox:
    spy = SpyOutbox(store)
    spy.work = work
    store.outbox = spy
    return spy


async def test_a_batch_claim_never_takes_more_rows_than_there_are_free_slots(
    api: FakeBotApi, store: SqliteUnitOfWork
) -> None:
    persons = await people(store, api, 40)
    await enqueue(store, [push(person) for person in persons])
    async with ptb_bot(api, latency=0.05) as slow_bot:
        work = worker(store, slow_bot, RateLimiter(per_second=15), max_in_flight=6)
        spy = spied(store, work)
        await deliver_all(work, within=10)

    assert sum(rows for rows, _ in spy.claims) == 40
    assert all(0 < rows <= free for rows, free in spy.claims), spy.claims
    assert any(rows > 1 for rows, _ in spy.claims)  # batches, not one row at a time
    assert api.rate_limited == 0
    assert max_in_window(list(work.send_starts)) <= 15


async def test_the_queue_is_read_in_batches_not_once_per_send(
    api: FakeBotApi, bot: Bot, store: SqliteUnitOfWork
) -> None:
    persons = await people(store, api, 120)
    await enqueue(store, [push(person) for person in persons])
    work = worker(store, bot, unthrottled(), batch_size=50)
    spy = spied(store, work)

    await deliver_all(work)

    assert work.stats.sent == 120
    assert spy.reads <= 8, spy.reads  # 120 rows in batches of 50, and a last empty look


async def test_a_chat_whose_first_message_is_in_backoff_holds_its_later_ones(
    api: FakeBotApi, bot: Bot, store: SqliteUnitOfWork
) -> None:
    ana, bo = await people(store, api, 2)
    items = [push(ana, f"item{n}", text=f"nummer {n}") for n in range(3)] + [push(bo)]
    await enqueue(store, items)
    api.fail_next("sendMessage", error_code=502, chat_id=ana.id)
    work = worker(store, bot, RateLimiter(per_chat_interval=0.0), backoff_base=0.3)

    await deliver_all(work)

    assert [m["text"] for m in ana.inbox()] == ["nummer 0", "nummer 1", "nummer 2"]
    to_ana = [call for call in api.calls_to("sendMessage") if call.params["chat_id"] == ana.id]
    assert [call.status for call in to_ana] == [502, 200, 200, 200]
    assert to_ana[1].at - to_ana[0].at >= 0.3  # nothing overtook the row in backoff
    [to_bo] = [call for call in api.calls_to("sendMessage") if call.params["chat_id"] == bo.id]
    assert to_bo.at < to_ana[1].at  # while other chats went on


async def test_after_notify_the_queue_is_read_again_so_an_urgent_row_goes_next(
    api: FakeBotApi, bot: Bot, store: SqliteUnitOfWork
) -> None:
    *crowd, urgent = await people(store, api, 21)
    await enqueue(store, [push(person) for person in crowd])
    work = worker(store, bot, RateLimiter(per_second=5), idle_poll=30.0)
    await work.start()
    try:
        # The first five went at once; the other fifteen wait among the candidates.
        await eventually(lambda: len(api.calls_to("sendMessage")) >= 5, what="five sends")
        assert len(api.calls_to("sendMessage")) == 5
        await enqueue(
            store,
            [dataclasses.replace(push(urgent, "notice"), priority=-1)],
        )
        work.notify()
        await eventually(lambda: len(api.calls_to("sendMessage")) > 5, what="the window")
    finally:
        await work.stop()

    order = [call.params["chat_id"] for call in api.calls_to("sendMessage")]
    assert order.index(urgent.id) == 5  # the first send after the window reopened


def test_the_sends_kept_open_at_once_grow_with_the_rate() -> None:
    assert in_flight_for(30) == 8
    assert in_flight_for(1000) == 250


# -- Telegram says no, or the network does --------------------------------------------------------


async def test_a_429_pauses_every_send_and_the_message_arrives_exactly_once(
    api: FakeBotApi, bot: Bot, store: SqliteUnitOfWork
) -> None:
    ana, bo = await people(store, api, 2)
    await enqueue(store, [push(ana), push(bo)])
    api.fail_next("sendMessage", error_code=429, retry_after=1, chat_id=ana.id)
    work = worker(store, bot, max_in_flight=1)

    await deliver_all(work)

    first, *after = api.calls_to("sendMessage")
    assert (first.status, first.params["chat_id"]) == (429, ana.id)
    assert sorted(call.params["chat_id"] for call in after) == [ana.id, bo.id]
    assert all(call.ok for call in after)
    # Flood control holds the whole bot, not only the chat that got the 429.
    assert all(call.at - first.at >= 1.0 for call in after)
    assert len(ana.inbox()) == 1
    assert len(bo.inbox()) == 1
    assert work.stats.rate_limited_429 == 1
    sent = await row(store, push(ana).key)
    assert (sent.status, sent.attempts) == (DeliveryStatus.SENT, 2)
    assert sent.telegram_message_id == ana.last()["message_id"]


async def test_server_errors_are_retried_with_growing_backoff_then_delivered(
    api: FakeBotApi, bot: Bot, store: SqliteUnitOfWork
) -> None:
    [ana] = await people(store, api, 1)
    await enqueue(store, [push(ana)])
    api.fail_next("sendMessage", error_code=500, chat_id=ana.id)
    api.fail_next("sendMessage", error_code=502, chat_id=ana.id)
    # Without the usual second between two sends to one chat, only the backoff spaces them.
    work = worker(store, bot, RateLimiter(per_chat_interval=0.0), backoff_base=0.05)

    await deliver_all(work)

    first, second, third = api.calls_to("sendMessage")
    assert [first.status, second.status, third.status] == [500, 502, 200]
    assert second.at - first.at >= 0.05
    assert third.at - second.at >= 0.1
    assert len(ana.inbox()) == 1
    assert work.stats.retried == 2
    sent = await row(store, push(ana).key)
    assert (sent.status, sent.attempts) == (DeliveryStatus.SENT, 3)


async def test_a_message_fails_for_good_after_max_attempts(
    api: FakeBotApi, bot: Bot, store: SqliteUnitOfWork
) -> None:
    [ana] = await people(store, api, 1)
    await enqueue(store, [push(ana)])
    api.fail_next("sendMessage", error_code=500, chat_id=ana.id, times=5)
    work = worker(store, bot, RateLimiter(per_chat_interval=0.0), max_attempts=3)

    await deliver_all(work)

    assert len(api.calls_to("sendMessage")) == 3
    assert ana.inbox() == []
    failed = await row(store, push(ana).key)
    assert (failed.status, failed.attempts) == (DeliveryStatus.FAILED, 3)
    assert failed.error == "Internal Server Error"
    assert work.stats.failed == 1


async def test_a_message_telegram_refuses_is_failed_at_once(
    api: FakeBotApi, bot: Bot, store: SqliteUnitOfWork
) -> None:
    [ana] = await people(store, api, 1)
    await enqueue(store, [push(ana, text="<b>unclosed")])
    work = worker(store, bot)

    await deliver_all(work)

    assert len(api.calls_to("sendMessage")) == 1
    failed = await row(store, push(ana).key)
    assert failed.status is DeliveryStatus.FAILED
    assert failed.error is not None
    assert "parse entities" in failed.error


async def test_a_person_who_blocked_the_bot_is_marked_and_not_tried_again(
    api: FakeBotApi, bot: Bot, store: SqliteUnitOfWork
) -> None:
    ana, bo = await people(store, api, 2)
    ana.block()
    await enqueue(store, [push(ana), push(bo)])
    work = worker(store, bot)
    await deliver_all(work)

    blocked = await row(store, push(ana).key)
    assert blocked.status is DeliveryStatus.UNREACHABLE
    assert blocked.error == "Forbidden: bot was blocked by the user"
    async with store.transaction():
        person = await store.participants.get(ana.id)
    assert person is not None
    assert person.unreachable_at is not None
    assert len(bo.inbox()) == 1

    await enqueue(store, [push(ana, "reminder")])
    await deliver_all(worker(store, bot))

    later = await row(store, push(ana, "reminder").key)
    assert later.status is DeliveryStatus.UNREACHABLE
    assert later.attempts == 0
    to_ana = [c for c in api.calls_to("sendMessage") if c.params["chat_id"] == ana.id]
    assert len(to_ana) == 1


async def test_a_chat_telegram_does_not_know_is_unreachable(
    api: FakeBotApi, bot: Bot, store: SqliteUnitOfWork
) -> None:
    stranger = api.user(77, "Ukendt")  # known to us, but has never opened the bot
    async with store.transaction():
        await store.participants.upsert(stranger.id, stranger.id, "Ukendt", CLOCK.now())
    await enqueue(store, [push(stranger)])

    await deliver_all(worker(store, bot))

    gone = await row(store, push(stranger).key)
    assert gone.status is DeliveryStatus.UNREACHABLE
    assert gone.error == "Chat not found"


@pytest.mark.parametrize("fault", ["timeout", "reset"])
async def test_a_send_whose_answer_was_lost_is_unknown_and_never_repeated(
    api: FakeBotApi, bot: Bot, store: SqliteUnitOfWork, fault: str
) -> None:
    ana, bo = await people(store, api, 2)
    await enqueue(store, [push(ana), push(bo)])
    if fault == "timeout":
        api.time_out_next("sendMessage", chat_id=ana.id)
    else:
        api.drop_next("sendMessage", after_accept=True, chat_id=ana.id)
    work = worker(store, bot)

    await deliver_all(work)

    assert len(ana.inbox()) == 1  # Telegram did deliver it; sending again would repeat it
    assert len([c for c in api.calls_to("sendMessage") if c.params["chat_id"] == ana.id]) == 1
    unknown = await row(store, push(ana).key)
    assert unknown.status is DeliveryStatus.UNKNOWN
    assert work.stats.unknown == 1
    async with store.transaction():
        counts = await store.outbox.counts()
    assert (counts[DeliveryStatus.UNKNOWN], counts[DeliveryStatus.SENT]) == (1, 1)


# -- crashes and restarts -------------------------------------------------------------------------


async def test_rows_a_crash_left_sending_are_reported_unknown_not_resent(
    api: FakeBotApi, bot: Bot, store: SqliteUnitOfWork
) -> None:
    ana, bo, cy = await people(store, api, 3)
    await enqueue(store, [push(ana), push(bo), push(cy)])
    interrupted = await row(store, push(bo).key)
    async with store.transaction():
        assert await store.outbox.mark_sending(interrupted.id, CLOCK.now())
    work = worker(store, bot)

    assert await work.recover() == 1
    await deliver_all(work)

    assert (await row(store, push(bo).key)).status is DeliveryStatus.UNKNOWN
    assert bo.inbox() == []
    assert len(ana.inbox()) == len(cy.inbox()) == 1
    assert len(api.calls_to("sendMessage")) == 2


async def test_a_restarted_worker_sends_only_what_is_pending_and_nothing_twice(
    api: FakeBotApi, bot: Bot, store: SqliteUnitOfWork, tmp_path: Path
) -> None:
    persons = await people(store, api, 30)
    items = [push(person) for person in persons]
    await enqueue(store, items)
    first_second = asyncio.Event()

    class CountingSender(TelegramSender):
        sent = 0

        async def send(self, chat_id: int, message: OutboxMessage) -> int:
            message_id = await super().send(chat_id, message)
            CountingSender.sent += 1
            if CountingSender.sent == 10:
                first_second.set()
            return message_id

    first = DeliveryWorker(
        store, CountingSender(bot), CLOCK, RateLimiter(per_second=10), max_in_flight=2
    )
    await first.start()
    await asyncio.wait_for(first_second.wait(), 5)
    await first.stop()  # lets the sends in flight finish
    sent_before = len(api.calls_to("sendMessage"))
    assert 10 <= sent_before < 30

    # The same decisions taken again after the restart queue nothing new.
    reopened = await Database.open(tmp_path / "x.sqlite3")
    try:
        again = SqliteUnitOfWork(reopened)
        assert await enqueue(again, items) == 0
        second = worker(again, bot)
        await deliver_all(second)
        assert second.stats.sent == 30 - sent_before
        async with again.transaction():
            counts = await again.outbox.counts()
    finally:
        await reopened.close()

    assert counts[DeliveryStatus.SENT] == 30
    assert len(api.calls_to("sendMessage")) == 30
    assert all(len(person.inbox()) == 1 for person in persons)


async def test_notify_wakes_an_idle_worker_at_once(
    api: FakeBotApi, bot: Bot, store: SqliteUnitOfWork
) -> None:
    [ana] = await people(store, api, 1)
    work = worker(store, bot, idle_poll=30.0)
    spy = spied(store, work)
    await work.start()
    try:
        # Its first look found nothing; the enqueue below waits for that look's transaction,
        # after which the worker only sleeps.
        await eventually(lambda: spy.reads, what="the worker's first look")
        await enqueue(store, [push(ana)])
        work.notify()
        assert await work.drain(2.0)
        assert len(ana.inbox()) == 1
    finally:
        await work.stop()


# -- the sender on its own -----------------------------------------------------------------------


def _blocked(api: FakeBotApi, chat_id: int) -> None:
    api.existing_user(chat_id).block()


@pytest.mark.parametrize(
    ("arm", "expected", "reason"),
    [
        pytest.param(
            lambda api, _: api.fail_next("sendMessage", error_code=500),
            TransientFailure,
            "Internal Server Error",
            id="500",
        ),
        pytest.param(
            lambda api, _: api.fail_next("sendMessage", error_code=502),
            TransientFailure,
            "Bad Gateway",
            id="502",
        ),
        pytest.param(
            lambda api, _: api.fail_next(
                "sendMessage", error_code=400, description="Bad Request: message is too long"
            ),
            Rejected,
            "Message is too long",
            id="400",
        ),
        pytest.param(
            lambda api, _: api.fail_next(
                "sendMessage", error_code=400, migrate_to_chat_id=-1001234567890
            ),
            Rejected,
            "migrated to supergroup -1001234567890",
            id="migrated",
        ),
        pytest.param(_blocked, Unreachable, "blocked by the user", id="403"),
        pytest.param(
            lambda api, _: api.time_out_next("sendMessage"),
            OutcomeUnknown,
            "Timed out",
            id="timeout-after-accept",
        ),
        pytest.param(
            lambda api, _: api.drop_next("sendMessage", after_accept=True),
            OutcomeUnknown,
            "RemoteProtocolError",
            id="reset-after-accept",
        ),
    ],
)
async def test_the_sender_turns_telegrams_answers_into_delivery_outcomes(
    api: FakeBotApi, bot: Bot, arm: Any, expected: type[Exception], reason: str
) -> None:
    person = api.user(42, "Ana")
    person.send("/start")
    arm(api, person.id)

    with pytest.raises(expected, match=reason):
        await TelegramSender(bot).send(person.id, OutboxMessage("Hej"))


async def test_the_sender_reads_retry_after_from_a_429(api: FakeBotApi, bot: Bot) -> None:
    person = api.user(42, "Ana")
    person.send("/start")
    api.fail_next("sendMessage", error_code=429, retry_after=3)

    with pytest.raises(RetryLater) as caught:
        await TelegramSender(bot).send(person.id, OutboxMessage("Hej"))
    assert caught.value.seconds == 3.0


class _FailingBot:
    """Raises what PTB raises for network trouble the fake cannot produce in-process."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    async def send_message(self, *args: Any, **kwargs: Any) -> Any:
        raise self.error


def _timed_out_connecting() -> TimedOut:
    error = TimedOut()
    error.__cause__ = httpx.ConnectTimeout("connect timed out")
    return error


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        pytest.param(
            NetworkError("httpx.ConnectError: [Errno 111] Connection refused"),
            TransientFailure,
            id="refused",
        ),
        pytest.param(_timed_out_connecting(), TransientFailure, id="connect-timeout"),
        pytest.param(
            TimedOut("Pool timeout: All connections in the connection pool are occupied."),
            TransientFailure,
            id="pool-timeout",
        ),
        pytest.param(NetworkError("httpx.ReadError: "), OutcomeUnknown, id="read-error"),
        pytest.param(TimedOut(), OutcomeUnknown, id="read-timeout"),
        pytest.param(Forbidden("Forbidden: user is deactivated"), Unreachable, id="deactivated"),
        pytest.param(BadRequest("Bad Request: chat not found"), Unreachable, id="no-chat"),
        pytest.param(InvalidToken(), Rejected, id="token"),
    ],
)
async def test_network_trouble_is_retried_only_when_nothing_can_have_been_sent(
    error: Exception, expected: type[Exception]
) -> None:
    with pytest.raises(expected):
        await TelegramSender(cast(Bot, _FailingBot(error))).send(1, OutboxMessage("Hej"))


async def test_reading_retry_after_does_not_warn(monkeypatch: pytest.MonkeyPatch) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        flood = RetryAfter(7)
    monkeypatch.delenv("PTB_TIMEDELTA")
    sender = TelegramSender(cast(Bot, _FailingBot(flood)))

    # Warnings are errors in this suite: touching `RetryAfter.retry_after` would fail here.
    with pytest.raises(RetryLater) as caught:
        await sender.send(1, OutboxMessage("Hej"))
    assert caught.value.seconds == 7.0


class _RetryingLimiter(BaseRateLimiter[None]):
    """Stands in for AIORateLimiter (an optional extra), which delays and retries sends."""

    async def initialize(self) -> None: ...

    async def shutdown(self) -> None: ...

    async def process_request(self, callback: Any, args: Any, kwargs: Any, *rest: Any) -> Any:
        return await callback(*args, **kwargs)


def test_a_bot_that_retries_by_itself_is_refused(api: FakeBotApi) -> None:
    limited = ExtBot(api.token, request=FakeRequest(api), rate_limiter=_RetryingLimiter())
    with pytest.raises(ValueError, match="rate limiter"):
        TelegramSender(limited)


# -- outages of the Bot API at a push's moment (time scaled 1:100: a backoff capped at 0.3 s
# stands for 30 s, outages of 0.3 s and 1.8 s for 30 s and 3 minutes, 6 s for a ten-minute
# item). Telegram is unreachable the way an uplink fails: every sendMessage answers 502.

SCALE = 0.01  # test seconds per production second


@pytest.mark.parametrize("outage", [30, 180], ids=["30s", "3min"])
async def test_an_outage_at_a_push_ends_with_everyone_receiving_it_once(
    api: FakeBotApi, bot: Bot, store: SqliteUnitOfWork, outage: int
) -> None:
    persons = await people(store, api, 8)
    relevant_until = CLOCK.now() + timedelta(seconds=600 * SCALE)
    await enqueue(
        store,
        [dataclasses.replace(push(p), expires_at=relevant_until) for p in persons],
    )
    api.fail_next("sendMessage", error_code=502, times=1_000_000)
    work = worker(
        store,
        bot,
        RateLimiter(per_chat_interval=0.0),
        max_backoff=30 * SCALE,
    )
    await work.start()
    try:
        await asyncio.sleep(outage * SCALE)  # the outage itself, not a wait for the bot
        api.clear_faults()
        assert await work.drain(10.0)
    finally:
        await work.stop()

    assert work.stats.retried > len(persons)  # the outage was met, and outlived
    for person in persons:
        assert len(person.inbox()) == 1
        sent = await row(store, push(person).key)
        assert sent.status is DeliveryStatus.SENT
    assert work.stats.missed == 0


async def test_an_outage_lasting_past_the_next_item_marks_the_push_missed(
    api: FakeBotApi, bot: Bot, store: SqliteUnitOfWork
) -> None:
    persons = await people(store, api, 3)
    relevant_until = CLOCK.now() + timedelta(seconds=0.5)
    await enqueue(
        store,
        [dataclasses.replace(push(p), expires_at=relevant_until) for p in persons],
    )
    api.fail_next("sendMessage", error_code=502, times=1_000_000)
    told: list[None] = []
    work = worker(
        store,
        bot,
        RateLimiter(per_chat_interval=0.0),
        max_backoff=0.3,
        on_missed=lambda: told.append(None),
    )
    await work.start()
    try:
        assert await work.drain(5.0)
    finally:
        await work.stop()

    for person in persons:
        assert person.inbox() == []
        missed = await row(store, push(person).key)
        assert missed.status is DeliveryStatus.MISSED
        assert missed.message.text == ""  # never to be sent: its words are not kept
    assert work.stats.missed == len(persons)
    assert told  # the agenda engine is woken to tell the facilitators
    # Tried until the end: the last try fell on the expiry, not before.
    last_try = max(call.at for call in api.calls_to("sendMessage"))
    first_try = min(call.at for call in api.calls_to("sendMessage"))
    assert last_try - first_try >= 0.4
