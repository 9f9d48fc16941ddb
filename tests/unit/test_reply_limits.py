"""Handlers' answers share the delivery worker's limits; the worker's own sends pass."""

from __future__ import annotations

import asyncio
import itertools
from datetime import timedelta
from typing import Any

import pytest
from telegram.error import RetryAfter

from bot.services.delivery import RateLimiter
from bot.telegram.limits import WORKER, ReplyLimits
from tests.unit.test_rate_limiter import VirtualTime
from tests.waiting import eventually


class Recorder:
    def __init__(self, error: Exception | None = None) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.error = error

    async def __call__(self, endpoint: str, data: dict[str, Any]) -> dict[str, Any]:
        self.calls.append((endpoint, data))
        if self.error is not None:
            raise self.error
        return {"message_id": 1}


async def through(
    limits: ReplyLimits, call: Recorder, endpoint: str, data: dict[str, Any], args: Any = None
) -> Any:
    return await limits.process_request(call, (endpoint, data), {}, endpoint, data, args)


async def test_answers_take_a_slot_and_the_workers_sends_do_not() -> None:
    limiter = RateLimiter(per_second=2)
    limits = ReplyLimits(limiter)
    call = Recorder()
    await through(limits, call, "sendMessage", {"chat_id": 7, "text": "Hej"})
    assert limiter.delay(7) > 0.9  # the chat's second runs from the answer
    await through(limits, call, "sendMessage", {"chat_id": 8, "text": "Hej"}, WORKER)
    assert limiter.delay(8) == 0  # the worker took (and accounts for) its own slot
    await through(limits, call, "setMessageReaction", {"chat_id": 9, "message_id": 3})
    await through(limits, call, "answerCallbackQuery", {"callback_query_id": "x"})
    assert limiter.delay(9) == 0  # not a message in the chat
    assert [endpoint for endpoint, _ in call.calls] == [
        "sendMessage",
        "sendMessage",
        "setMessageReaction",
        "answerCallbackQuery",
    ]


async def test_a_429_on_an_answer_holds_every_send_and_the_answer_goes_after_it() -> None:
    limiter = RateLimiter()
    call = Recorder(RetryAfter(timedelta(seconds=0.2)))
    answered = asyncio.create_task(
        through(ReplyLimits(limiter), call, "sendMessage", {"chat_id": 7, "text": "Hej"})
    )
    await eventually(lambda: call.calls)
    assert limiter.global_delay() > 0.1  # every send waits for Telegram's pause
    call.error = None
    assert await answered == {"message_id": 1}  # then the answer goes, once
    assert len(call.calls) == 2


async def test_an_answer_waits_through_a_long_pause_rather_than_being_given_up() -> None:
    time = VirtualTime()
    limiter = RateLimiter(monotonic=time, sleep=time.sleep)
    limiter.pause(120)  # Telegram's retry_after after a flood
    call = Recorder()
    answered = asyncio.create_task(
        through(ReplyLimits(limiter), call, "sendMessage", {"chat_id": 7, "text": "Hej"})
    )
    await time.advance(119)
    assert call.calls == []  # never sent into the pause …
    await time.run_until_idle()
    assert await answered == {"message_id": 1}  # … and sent when it ends
    assert len(call.calls) == 1


async def test_an_answer_refused_again_and_again_is_given_up_in_the_end() -> None:
    limiter = RateLimiter()
    call = Recorder(RetryAfter(timedelta(seconds=0.01)))
    with pytest.raises(RetryAfter):
        await through(ReplyLimits(limiter), call, "sendMessage", {"chat_id": 7, "text": "Hej"})
    assert len(call.calls) == 5


class Timed(Recorder):
    """Records when (on the virtual clock) each call was made, and what it sent."""

    def __init__(self, time: VirtualTime, refusals: int = 0) -> None:
        super().__init__()
        self.time = time
        self.refusals = refusals
        self.at: list[tuple[float, str]] = []

    async def __call__(self, endpoint: str, data: dict[str, Any]) -> dict[str, Any]:
        self.at.append((self.time.now, data["text"]))
        if self.refusals:
            self.refusals -= 1
            raise RetryAfter(timedelta(seconds=1))
        return {"message_id": len(self.at)}


async def test_answers_to_one_chat_go_in_the_order_asked_a_second_apart() -> None:
    time = VirtualTime()
    limiter = RateLimiter(monotonic=time, sleep=time.sleep)
    limits = ReplyLimits(limiter)
    call = Timed(time, refusals=1)  # the first answer meets a 429 and must not be overtaken
    answers = [
        asyncio.create_task(through(limits, call, "sendMessage", {"chat_id": 7, "text": text}))
        for text in ("1", "2", "3")
    ]
    await time.run_until_idle()
    await asyncio.gather(*answers)
    assert [text for _, text in call.at] == ["1", "1", "2", "3"]
    starts = [at for at, _ in call.at]
    assert starts[0] == 0.0
    assert all(later - earlier >= 1.0 for earlier, later in itertools.pairwise(starts))


async def test_a_first_answer_waits_out_the_chats_second_after_the_workers_message() -> None:
    # Answering at once after a push drew Telegram's 429 for the chat, and every 429 pauses
    # every send of the bot: with forty people writing during a broadcast, the broadcast
    # starved. The answer waits for the rest of the chat's second instead.
    time = VirtualTime()
    limiter = RateLimiter(monotonic=time, sleep=time.sleep)
    push = limiter.try_acquire(7)  # the worker's message, just now
    assert push is not None
    limiter.release(push)
    call = Timed(time)
    answer = asyncio.create_task(
        through(ReplyLimits(limiter), call, "sendMessage", {"chat_id": 7, "text": "Hej"})
    )
    await time.run_until_idle()
    await answer
    [(at, text)] = call.at
    assert text == "Hej"
    assert 1.0 <= at <= 1.1


async def test_an_edit_after_an_answer_goes_at_once_and_the_next_answer_still_waits() -> None:
    time = VirtualTime()
    limiter = RateLimiter(monotonic=time, sleep=time.sleep)
    limits = ReplyLimits(limiter)
    call = Timed(time)
    steps = [
        ("sendMessage", {"chat_id": 7, "text": "Velkommen"}),
        ("editMessageText", {"chat_id": 7, "message_id": 1, "text": "Tak"}),
        ("sendMessage", {"chat_id": 7, "text": "Hvilken rolle?"}),
    ]
    answers = [
        asyncio.create_task(through(limits, call, endpoint, data)) for endpoint, data in steps
    ]
    await time.run_until_idle()
    await asyncio.gather(*answers)
    assert call.at == [(0.0, "Velkommen"), (0.0, "Tak"), (1.0, "Hvilken rolle?")]
