"""The per-person pace through the real handlers: a flood of commands or button presses gets
one notice, then silence; a pressed button still stops spinning; inputs are not counted."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.clock import ManualClock
from bot.config import Settings
from bot.event import Event
from bot.sandbox import FakeBotApi, FakeUser
from bot.sandbox.harness import BotHarness
from bot.services.pace import PaceGate, PaceRule
from tests.handlers.conftest import TOKEN


class Ticks:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


RULE = PaceRule(burst=8, per_second=1, debt=4)


@pytest.fixture
def ticks() -> Ticks:
    return Ticks()


@pytest.fixture
async def paced(
    settings: Settings, seed_event: Event, clock: ManualClock, ticks: Ticks
) -> AsyncIterator[BotHarness]:
    api = FakeBotApi(TOKEN)
    async with BotHarness.running(
        settings, api=api, event=seed_event, clock=clock, pace=PaceGate(RULE, ticks)
    ) as running:
        yield running
    api.assert_no_unexpected()


def texts_to(harness: BotHarness, user: FakeUser) -> list[str]:
    return [m.get("text", "") for m in user.inbox()]


async def test_a_flood_of_commands_gets_its_burst_answered_one_notice_then_nothing(
    paced: BotHarness,
) -> None:
    sofie = paced.api.user(501, "Sofie", language_code="da")
    texts = paced.services.texts
    for _ in range(20):
        sofie.send("/help")
    await paced.settle()
    shown = texts_to(paced, sofie)
    assert len(shown) == RULE.burst + 1
    assert shown[-1] == texts("da", "pace.slow_down")
    assert texts("da", "pace.slow_down") not in shown[:-1]


async def test_a_person_who_paused_is_answered_again(paced: BotHarness, ticks: Ticks) -> None:
    sofie = paced.api.user(502, "Sofie", language_code="en")
    for _ in range(15):
        sofie.send("/where")
    await paced.settle()
    before = len(sofie.inbox())
    ticks.now += (RULE.debt + 1) / RULE.per_second
    sofie.send("/help")
    await paced.settle()
    assert len(sofie.inbox()) == before + 1
    assert sofie.last()["text"] != paced.services.texts("en", "pace.slow_down")


async def test_presses_over_the_pace_are_answered_empty_and_change_nothing(
    paced: BotHarness,
) -> None:
    jonas = paced.api.user(503, "Jonas", language_code="en")
    jonas.send("/language")
    await paced.settle()
    keyboard = jonas.last()
    # /language took one place of the burst, Danish the other seven; English comes too fast.
    presses = [jonas.press(keyboard, "v1:lang:da") for _ in range(int(RULE.burst) - 1)]
    presses += [jonas.press(keyboard, "v1:lang:en") for _ in range(5)]
    await paced.settle()
    answers: list[dict[str, Any]] = [
        paced.api.callback_answers.get(p["callback_query"]["id"], {}) for p in presses
    ]
    # Every press was answered, so no phone keeps spinning.
    assert all(p["callback_query"]["id"] in paced.api.callback_answers for p in presses)
    over = answers[int(RULE.burst) - 1 :]
    # In the language the person has just chosen.
    assert over[0].get("text") == paced.services.texts("da", "pace.slow_down")
    assert [a.get("text") for a in over[1:]] == [None] * (len(over) - 1)
    # The presses over the pace were not handled.
    assert paced.query("SELECT language FROM participants WHERE user_id = 503") == [("da",)]


async def test_inputs_do_not_use_up_the_pace_of_commands(paced: BotHarness) -> None:
    mads = paced.api.user(504, "Mads", language_code="da")
    for n in range(int(RULE.burst) * 2):  # below the inputs' own flood rule (20 in 10 s)
        mads.send(f"Tanke nummer {n}")
    await paced.settle()
    before = len(mads.inbox())
    mads.send("/help")
    await paced.settle()
    assert len(mads.inbox()) == before + 1
    assert mads.last()["text"] != paced.services.texts("da", "pace.slow_down")
