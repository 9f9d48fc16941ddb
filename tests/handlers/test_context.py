"""The typed context: the sender worked out once per update, their language looked up only when a
sentence needs it, and then once."""

from __future__ import annotations

import pytest

from bot.buttons import Table
from bot.clock import ManualClock
from bot.event import Event
from bot.models import UserRef
from bot.sandbox.harness import BotHarness
from tests.handlers.helpers import at, check_in, run_until


@pytest.fixture
def lookups(harness: BotHarness, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The user ids whose language was read from the database, in order."""
    access = harness.services.access
    language = access.language
    seen: list[int] = []

    async def counted(user: UserRef) -> str:
        seen.append(user.user_id)
        return await language(user)

    monkeypatch.setattr(access, "language", counted)
    return seen


async def test_an_acknowledged_input_never_asks_for_the_language(
    harness: BotHarness, seed_event: Event, clock: ManualClock, lookups: list[int]
) -> None:
    anna = harness.api.user(701, "Anna", language_code="da")
    await check_in(harness, anna, "aalborg-t2")
    await run_until(harness, clock, at(seed_event, "13:41"))
    lookups.clear()
    anna.send("Flere borgerpaneler")
    await harness.settle()
    assert harness.query("SELECT text FROM inputs") == [("Flere borgerpaneler",)]
    assert lookups == []


async def test_an_answer_built_in_two_places_asks_for_the_language_once(
    harness: BotHarness, lookups: list[int]
) -> None:
    anna = harness.api.user(702, "Anna", language_code="en")
    await check_in(harness, anna, "aalborg-t2")
    lookups.clear()
    # A table her site does not have: the check-in's answer is "stale", which the stale-button
    # pop-up (a second place that needs the language) says.
    query = anna.press(anna.last(), Table("t9").pack())["callback_query"]["id"]
    await harness.deliver()
    assert "no longer valid" in harness.api.callback_answers[query]["text"]
    assert lookups == [702]
