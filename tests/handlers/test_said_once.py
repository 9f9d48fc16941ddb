"""Explanations said once, through the real handlers: someone who keeps writing while nothing
changes is told why nothing happens once a minute, not at every message; what is stored still
gets its 👍 every time, a command is still answered; and a facilitator moderating cards
quickly is not held to a participant's pace."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

from bot.clock import ManualClock
from bot.config import Settings
from bot.event import Event
from bot.eventfile import load_event
from bot.sandbox import FakeBotApi, FakeUser
from bot.sandbox.harness import BotHarness
from bot.services.pace import PaceGate, PaceRule
from tests.handlers.conftest import TOKEN
from tests.handlers.helpers import check_in, run_until
from tests.handlers.test_relay import THREE_SITES, at

RULE = PaceRule(burst=8, per_second=1, debt=4)
WINDOW = 60.0


class Ticks:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@dataclass
class World:
    harness: BotHarness
    clock: ManualClock
    ticks: Ticks
    host: FakeUser  # Nord's facilitator


def redirecting() -> Event:
    """The three-site event, answering a message outside a question with when the next comes."""
    data = load_event(THREE_SITES).model_dump(mode="python")
    data["event"]["outside_prompt"] = "redirect"
    return Event.model_validate(data)


@pytest.fixture
async def world(settings: Settings, clock: ManualClock) -> AsyncIterator[World]:
    ticks = Ticks()
    api = FakeBotApi(TOKEN)
    pace = PaceGate(RULE, ticks, repeat_window=WINDOW)
    async with BotHarness.running(
        settings, api=api, event=redirecting(), clock=clock, pace=pace
    ) as harness:
        host = api.user(801, "Vært Nord", language_code="da")
        host.send("/start vaert-nord-0000001")
        await harness.settle()
        yield World(harness, clock, ticks, host)
    api.assert_no_unexpected()


def texts_to(user: FakeUser) -> list[str]:
    return [m.get("text", "") for m in user.inbox()]


async def test_a_stranger_writing_again_and_again_is_told_once_a_minute(world: World) -> None:
    harness, texts = world.harness, world.harness.services.texts
    stranger = harness.api.user(601, "Fremmed", language_code="da")
    for n in range(5):
        stranger.send(f"Hej {n}")
        world.ticks.now += 1
        await harness.settle()
    told = texts("da", "fallback.not_checked_in")
    assert texts_to(stranger) == [told]
    world.ticks.now += WINDOW
    stranger.send("Hallo?")
    await harness.settle()
    assert texts_to(stranger) == [told, told]


async def test_a_command_is_answered_every_time_after_the_explanation(world: World) -> None:
    harness, texts = world.harness, world.harness.services.texts
    stranger = harness.api.user(602, "Fremmed", language_code="en")
    stranger.send("Hello")
    stranger.send("Hello?")
    for _ in range(3):
        stranger.send("/where")
    await harness.settle()
    shown = texts_to(stranger)
    assert shown.count(texts("en", "fallback.not_checked_in")) == 1
    assert len(shown) == 1 + 3  # every /where answered


async def test_stickers_are_asked_for_as_text_once(world: World) -> None:
    harness, texts = world.harness, world.harness.services.texts
    person = harness.api.user(603, "Klistermærke", language_code="da")
    for _ in range(4):
        person.send_sticker()
    await harness.settle()
    assert texts_to(person) == [texts("da", "inputs.as_text")]


async def test_stored_inputs_get_their_thumbs_up_every_time_while_the_explanation_is_not_repeated(
    world: World,
) -> None:
    harness = world.harness
    sofie = harness.api.user(604, "Sofie", language_code="da")
    await check_in(harness, sofie, "nord-t1")
    before = len(sofie.inbox())
    for n in range(3):  # at noon: no question is open yet
        sofie.send(f"For tidligt {n}")
    await harness.settle()
    early = texts_to(sofie)[before:]
    assert len(early) == 1  # when the next question comes, said once
    assert "Gruppearbejde 1" in early[0]
    await run_until(harness, world.clock, at("13:15"))
    sent = [sofie.send(f"Svar {n}") for n in range(6)]
    await harness.settle()
    acknowledged = {message for chat, message in harness.api.reactions if chat == sofie.id}
    assert {u["message"]["message_id"] for u in sent} <= acknowledged
    assert harness.query("SELECT COUNT(*) FROM inputs WHERE user_id = 604") == [(6,)]


def star_of(card: dict[str, Any]) -> str:
    return next(
        str(b["callback_data"])
        for row in card["reply_markup"]["inline_keyboard"]
        for b in row
        if b["callback_data"].startswith("v1:mod:star-")
    )


async def test_a_facilitator_starring_twenty_cards_at_once_has_every_star_counted(
    world: World,
) -> None:
    harness = world.harness
    writers = [harness.api.user(610 + n, f"Skriver {n}", language_code="da") for n in range(2)]
    for writer in writers:
        await check_in(harness, writer, "nord-t1")
    await run_until(harness, world.clock, at("13:15"))
    for n in range(10):
        for writer in writers:
            writer.send(f"Idé {n} fra {writer.id}")
    await harness.settle()
    cards = [m for m in world.host.inbox() if "Idé" in m.get("text", "")]
    assert len(cards) == 20
    slow_down = harness.services.texts("da", "pace.slow_down")
    presses = [world.host.press(card, star_of(card)) for card in cards]
    await harness.settle()
    assert harness.query("SELECT COUNT(*) FROM input_stars") == [(20,)]
    answers = [harness.api.callback_answers[p["callback_query"]["id"]] for p in presses]
    assert slow_down not in [a.get("text") for a in answers]
