"""Handlers' answers share the delivery worker's limits; the worker's own sends pass."""

from __future__ import annotations

import asyncio
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
