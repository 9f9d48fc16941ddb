"""Handlers' answers share the delivery worker's limits; the worker's own sends pass."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from telegram.error import RetryAfter

from bot.services.delivery import RateLimiter
from bot.telegram.limits import WORKER, ReplyLimits


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


async def test_a_429_on_an_answer_holds_every_send_and_is_not_retried() -> None:
    limiter = RateLimiter()
    call = Recorder(RetryAfter(12))
    with pytest.raises(RetryAfter):
        await through(ReplyLimits(limiter), call, "sendMessage", {"chat_id": 7, "text": "Hej"})
    assert len(call.calls) == 1
    assert limiter.global_delay() > 11


async def test_an_answer_is_given_up_rather_than_held_through_a_long_pause(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import bot.telegram.limits

    monkeypatch.setattr(bot.telegram.limits, "MAX_REPLY_WAIT", 0.05)
    limiter = RateLimiter()
    limiter.pause(120)  # Telegram's retry_after after a flood
    call = Recorder()
    with pytest.raises(RetryAfter) as raised:
        await through(ReplyLimits(limiter), call, "sendMessage", {"chat_id": 7, "text": "Hej"})
    assert call.calls == []  # never sent into the pause
    retry_after = raised.value.retry_after
    assert isinstance(retry_after, timedelta)  # PTB_TIMEDELTA is set, see tests/conftest.py
    assert 110 < retry_after.total_seconds() <= 120
