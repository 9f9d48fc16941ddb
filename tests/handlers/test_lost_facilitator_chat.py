"""A site's facilitator chat the bot cannot write to (never added, removed, or upgraded to a
supergroup) under Telegram's limits: the cards reach the facilitators all the same, the
organisers and facilitators are told once, `/health` counts and names it, and the bot uses
the chat again when it is added back."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.clock import ManualClock
from bot.config import Settings
from bot.event import Event
from bot.sandbox import FakeBotApi, FakeUser, TelegramLimits
from bot.sandbox.harness import BotHarness
from bot.services.delivery import RateLimiter
from tests.handlers.conftest import ORGANISER_ID, TOKEN
from tests.handlers.helpers import at, become_facilitator, check_in, run_until

GROUP = -1001111111111  # Aalborg's facilitator chat in the event file
SUPERGROUP = -1009999999999


def with_facilitator_chat(event: Event, chat_id: int) -> Event:
    data = event.model_dump(mode="python")
    for site in data["sites"]:
        if site["key"] == "aalborg":
            site["facilitator_chat"] = chat_id
    return Event.model_validate(data)


@pytest.fixture
def event(seed_event: Event) -> Event:
    return with_facilitator_chat(seed_event, GROUP)


@pytest.fixture
async def limited(
    settings: Settings, event: Event, clock: ManualClock
) -> AsyncIterator[BotHarness]:
    api = FakeBotApi(TOKEN)
    api.limits = TelegramLimits()
    async with BotHarness.running(
        settings, api=api, event=event, clock=clock, limiter=RateLimiter()
    ) as running:
        yield running
    api.assert_no_unexpected()


@pytest.fixture
async def people(
    limited: BotHarness, event: Event, clock: ManualClock
) -> tuple[FakeUser, FakeUser, FakeUser]:
    """Anna at an Aalborg table with the first group work open, its host, an organiser."""
    organiser = limited.api.user(ORGANISER_ID, "Org", language_code="en")
    organiser.send("/language en")  # an organiser need not check in to have a language
    host = limited.api.user(690, "Vært", language_code="da")
    await become_facilitator(limited, event, host, "aalborg")
    anna = limited.api.user(601, "Anna Andersen", language_code="da")
    await check_in(limited, anna, "aalborg-t2")
    await run_until(limited, clock, at(event, "13:41"))
    return anna, host, organiser


def texts(person: FakeUser) -> list[str]:
    return [m.get("text", "") for m in person.inbox()]


def calls_to(api: FakeBotApi, chat_id: int) -> list[Any]:
    return [c for c in api.calls if c.method == "sendMessage" and c.params["chat_id"] == chat_id]


async def test_cards_for_a_group_the_bot_is_not_in_reach_the_facilitators_who_are_told_once(
    limited: BotHarness, people: tuple[FakeUser, FakeUser, FakeUser]
) -> None:
    anna, host, organiser = people
    anna.send("Politikerne skal sætte rammen for forsøget.")
    await limited.settle()
    anna.send("Borgerne skal med fra starten.")
    await limited.settle()

    [refused] = calls_to(limited.api, GROUP)  # tried once, never again
    assert refused.description == "Bad Request: chat not found"
    cards = [t for t in texts(host) if "Anna Andersen" in t]
    assert len(cards) == 2
    assert "Politikerne skal sætte rammen" in cards[0]
    assert "Borgerne skal med" in cards[1]
    warned_host = [t for t in texts(host) if "facilitatorchatten for Aalborg" in t]
    warned_org = [t for t in texts(organiser) if "facilitator chat of Aalborg" in t]
    assert len(warned_host) == len(warned_org) == 1
    assert str(GROUP) in warned_host[0]
    assert limited.query("SELECT chat_id, moved_to FROM lost_chats") == [(GROUP, None)]

    organiser.send("/health")
    await limited.settle()
    report, lost = texts(organiser)[-2:]
    assert "1 failed" in report
    assert str(GROUP) in lost
    assert "Chat not found" in lost


async def test_a_group_the_bot_is_removed_from_is_given_up_and_used_again_when_it_is_back(
    limited: BotHarness, people: tuple[FakeUser, FakeUser, FakeUser]
) -> None:
    anna, host, organiser = people
    group = limited.api.group(GROUP, "Facilitatorer Aalborg")
    anna.send("Første input.")
    await limited.settle()
    assert ["Første input." in t for t in texts_of(group)] == [True]

    group.remove_bot(by=host)
    await limited.settle()
    anna.send("Andet input.")
    await limited.settle()
    assert len(texts_of(group)) == 1
    assert any("Andet input." in t for t in texts(host))
    assert len([t for t in texts(organiser) if "facilitator chat of Aalborg" in t]) == 1

    group.add_bot(by=host)
    await limited.settle()
    assert limited.query("SELECT COUNT(*) FROM lost_chats") == [(0,)]
    anna.send("Tredje input.")
    await limited.settle()
    assert "Tredje input." in texts_of(group)[-1]
    assert not any("Tredje input." in t for t in texts(host))


async def test_health_says_in_the_readers_language_that_the_bot_was_removed_from_the_group(
    limited: BotHarness, people: tuple[FakeUser, FakeUser, FakeUser]
) -> None:
    _, host, organiser = people
    group = limited.api.group(GROUP, "Facilitatorer Aalborg")
    group.remove_bot(by=host)
    organiser.send("/language da")
    await limited.settle()
    organiser.send("/health")
    await limited.settle()
    lost = texts(organiser)[-1]
    assert "(botten blev fjernet fra gruppen)" in lost
    assert "removed" not in lost


async def test_cards_follow_a_group_that_became_a_supergroup(
    limited: BotHarness, people: tuple[FakeUser, FakeUser, FakeUser]
) -> None:
    anna, host, organiser = people
    limited.api.group(GROUP, "Facilitatorer Aalborg")
    supergroup = limited.api.group(SUPERGROUP, "Facilitatorer Aalborg")
    limited.api.fail_next(
        "sendMessage",
        error_code=400,
        description="Bad Request: group chat was upgraded to a supergroup chat",
        migrate_to_chat_id=SUPERGROUP,
        chat_id=GROUP,
    )
    anna.send("Første input.")
    await limited.settle()
    anna.send("Andet input.")
    await limited.settle()

    shown = texts_of(supergroup)
    assert len(shown) == 2
    assert "Første input." in shown[0]
    assert "Andet input." in shown[1]
    assert not any("input." in t for t in texts(host))
    moved = [t for t in texts(organiser) if "became a supergroup" in t]
    assert len(moved) == 1
    assert str(SUPERGROUP) in moved[0]


def texts_of(group: Any) -> list[str]:
    return [m.get("text", "") for m in group.inbox()]


async def test_a_restart_remembers_the_lost_chat(
    settings: Settings, event: Event, clock: ManualClock
) -> None:
    # Without flood limits: the second process's limiter could not know what the first sent
    # in its last second, and the test's clock does not move through a 429's pause.
    api = FakeBotApi(TOKEN)
    host = api.user(690, "Vært", language_code="da")
    anna = api.user(601, "Anna Andersen", language_code="da")
    async with BotHarness.running(settings, api=api, event=event, clock=clock) as first:
        await become_facilitator(first, event, host, "aalborg")
        await check_in(first, anna, "aalborg-t2")
        await run_until(first, clock, at(event, "13:41"))
        anna.send("Før genstarten.")
        await first.settle()
    async with BotHarness.running(settings, api=api, event=event, clock=clock) as second:
        anna.send("Efter genstarten.")
        await second.settle()
    assert len(calls_to(api, GROUP)) == 1  # only the first card was tried there
    cards = [t for t in texts(host) if "Anna Andersen" in t]
    assert ["Før genstarten." in cards[0], "Efter genstarten." in cards[1]] == [True, True]
    assert len([t for t in texts(host) if "facilitatorchatten for Aalborg" in t]) == 1


async def test_with_no_facilitator_to_fall_back_on_the_organisers_are_told_and_health_counts(
    limited: BotHarness, event: Event, clock: ManualClock
) -> None:
    organiser = limited.api.user(ORGANISER_ID, "Org", language_code="en")
    organiser.send("/language en")
    anna = limited.api.user(601, "Anna Andersen", language_code="da")
    await check_in(limited, anna, "aalborg-t2")
    await run_until(limited, clock, at(event, "13:41"))
    anna.send("Første input.")
    anna.send("Andet input.")  # queued before the first card fails
    await limited.settle()

    assert len(calls_to(limited.api, GROUP)) == 1
    assert len([t for t in texts(organiser) if "facilitator chat of Aalborg" in t]) == 1
    organiser.send("/health")
    await limited.settle()
    assert "2 failed" in texts(organiser)[-2]
