"""Answers to people under Telegram's own limit of one message a second per chat: they wait
for their chat's second rather than run into a 429, go out in order, and an answer Telegram
refuses again and again is followed by an apology rather than silence."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from bot.clock import ManualClock
from bot.config import Settings
from bot.event import Event
from bot.sandbox import FakeBotApi, FakeUser, TelegramLimits
from bot.sandbox.harness import BotHarness
from bot.services.delivery import RateLimiter
from tests.handlers.conftest import ORGANISER_ID, TOKEN
from tests.waiting import eventually

EVENT = "aabne-vaerksteder-2018"

# /export runs with block=False (see tests/handlers/test_exports.py).
pytestmark = pytest.mark.filterwarnings("ignore:Tasks created via:UserWarning")


@pytest.fixture
async def limited(
    settings: Settings, seed_event: Event, clock: ManualClock
) -> AsyncIterator[BotHarness]:
    """The bot with Telegram's real limits, at the fake Bot API and in the bot's limiter."""
    api = FakeBotApi(TOKEN)
    api.limits = TelegramLimits()
    async with BotHarness.running(
        settings, api=api, event=seed_event, clock=clock, limiter=RateLimiter()
    ) as running:
        yield running
    api.assert_no_unexpected()


def texts_to(api: FakeBotApi, chat_id: int) -> list[str]:
    """What the bot showed in the chat, in order: texts, and documents by file name."""
    return [
        m["document"]["file_name"] if "document" in m else m.get("text", "")
        for m in api.sent_messages(chat_id)
    ]


def refused(api: FakeBotApi, chat_id: int) -> list[str]:
    return [c.method for c in api.calls if c.status == 429 and c.params.get("chat_id") == chat_id]


def done(person: FakeUser) -> Callable[[], bool]:
    return lambda: any("✅" in m.get("text", "") for m in person.inbox())


async def test_an_export_arrives_whole_and_in_order_within_the_chats_own_limit(
    limited: BotHarness,
) -> None:
    organiser = limited.api.user(ORGANISER_ID, "Org", language_code="da")
    organiser.send("/export")
    await limited.deliver()
    await eventually(done(organiser), timeout=30, what="the end of the export")
    shown = texts_to(limited.api, ORGANISER_ID)
    assert shown[0].startswith("⏳")
    assert shown[1:5] == [
        f"{EVENT}.csv",
        f"{EVENT}.xlsx",
        f"{EVENT}.json",
        f"{EVENT}-report.html",
    ]
    assert shown[5].startswith("✅")
    assert len(shown) == 6
    # Each answer waited for the chat's second instead of being refused first.
    assert refused(limited.api, ORGANISER_ID) == []


async def test_commands_written_during_an_export_are_all_answered_in_the_order_asked(
    limited: BotHarness,
) -> None:
    organiser = limited.api.user(ORGANISER_ID, "Org", language_code="da")
    organiser.send("/export")
    for _ in range(3):
        organiser.send("/health")
    await limited.deliver()
    await eventually(done(organiser), timeout=40, what="the end of the export")
    await eventually(
        lambda: len([t for t in texts_to(limited.api, ORGANISER_ID) if "Sådan har" in t]) == 3,
        timeout=40,
        what="three health reports",
    )
    shown = texts_to(limited.api, ORGANISER_ID)
    files = [t for t in shown if t.startswith(EVENT)]
    assert files == [f"{EVENT}.csv", f"{EVENT}.xlsx", f"{EVENT}.json", f"{EVENT}-report.html"]
    assert len(shown) == 1 + 4 + 1 + 3  # nothing lost, nothing twice
    assert refused(limited.api, ORGANISER_ID) == []


async def test_an_answer_telegram_refuses_again_and_again_is_followed_by_an_apology(
    limited: BotHarness,
) -> None:
    anna = limited.api.user(701, "Anna Andersen", language_code="da")
    anna.send("/start")
    await limited.deliver()
    before = len(anna.inbox())
    limited.api.fail_next("sendMessage", error_code=429, retry_after=1, times=5, chat_id=anna.id)
    anna.send("/help")
    await limited.deliver()
    apology: Any = await eventually(
        lambda: next((m for m in anna.inbox()[before:] if "Beklager" in m.get("text", "")), None),
        timeout=30,
        what="the apology",
    )
    assert "igen" in apology["text"]
    assert len(refused(limited.api, anna.id)) == 5
