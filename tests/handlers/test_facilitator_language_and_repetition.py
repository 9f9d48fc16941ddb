"""What facilitators and participants receive at three sites, said in the reader's language
and said once: feed cards, their buttons and the check-in card in the facilitator's language
(in the event's in a group chat); the check-in card once, in the group if there is one; a
site's angle once per site in live relays; and a live event's digest naming what was already
shared live instead of saying nothing happened."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

from bot.clock import ManualClock
from bot.config import Settings
from bot.event import Event
from bot.eventfile import load_event
from bot.sandbox import FakeBotApi, FakeGroup, FakeUser
from bot.sandbox.harness import BotHarness
from tests.handlers.conftest import TOKEN
from tests.handlers.helpers import check_in, run_until
from tests.handlers.test_relay import THREE_SITES, at

NORD_GROUP = -100123


def three_sites(mode: str) -> Event:
    """The three-site event; Nord's facilitators have a group chat."""
    data = load_event(THREE_SITES).model_dump(mode="python")
    data["event"]["relay"].update(mode=mode)
    data["sites"][0]["facilitator_chat"] = NORD_GROUP
    return Event.model_validate(data)


@dataclass
class World:
    harness: BotHarness
    clock: ManualClock
    group: FakeGroup  # Nord's facilitators
    eve: FakeUser  # an English-speaking facilitator of Nord (in the group) and of Midt
    dan: FakeUser  # a Danish-speaking facilitator of Midt
    people: dict[str, FakeUser]  # a participant per site


@pytest.fixture
async def world(
    settings: Settings, clock: ManualClock, request: pytest.FixtureRequest
) -> AsyncIterator[World]:
    event = three_sites(getattr(request, "param", "digest"))
    api = FakeBotApi(TOKEN)
    async with BotHarness.running(settings, api=api, event=event, clock=clock) as harness:
        group = api.group(NORD_GROUP, "Værter i Nord")
        eve = api.user(801, "Eve", language_code="en")
        dan = api.user(802, "Dan", language_code="da")
        for user, code in (
            (eve, "vaert-nord-0000001"),
            (eve, "vaert-midt-0000002"),
            (dan, "vaert-midt-0000002"),
        ):
            user.send(f"/start {code}")
            await harness.settle()
        people = {}
        for n, site in enumerate(("nord", "midt", "syd")):
            people[site] = api.user(700 + n, f"Deltager {site}", language_code="da")
            await check_in(harness, people[site], f"{site}-t1")
        yield World(harness, clock, group, eve, dan, people)
    api.assert_no_unexpected()


def labels(message: dict[str, Any]) -> list[str]:
    return [b["text"] for row in message["reply_markup"]["inline_keyboard"] for b in row]


def star_of(message: dict[str, Any]) -> str:
    return next(
        str(b["callback_data"])
        for row in message["reply_markup"]["inline_keyboard"]
        for b in row
        if b["callback_data"].startswith("v1:mod:star-")
    )


def cards(chat: FakeUser | FakeGroup, text: str) -> list[dict[str, Any]]:
    return [m for m in chat.inbox() if text in m.get("text", "")]


def relays(user: FakeUser) -> list[str]:
    return [m["text"] for m in user.inbox() if m["text"].startswith(("✨", "📡"))]


async def test_feed_cards_and_the_check_in_card_are_in_each_facilitators_language(
    world: World,
) -> None:
    await run_until(world.harness, world.clock, at("13:15"))
    world.people["midt"].send("Et svar fra Midt")
    await world.harness.settle()
    [english] = cards(world.eve, "Et svar fra Midt")
    [danish] = cards(world.dan, "Et svar fra Midt")
    assert "Table 1 · Group work 1" in english["text"]
    assert labels(english) == ["⭐ Star (0)", "🙈 Hide"]
    assert "Bord 1 · Gruppearbejde 1" in danish["text"]
    assert labels(danish) == ["⭐ Stjerne (0)", "🙈 Skjul"]
    # Starred by Eve in her own chat: the card she sees again is still in English.
    world.eve.press(english, star_of(english))
    await world.harness.settle()
    [english] = cards(world.eve, "Et svar fra Midt")
    assert labels(english) == ["⭐ Star (1)", "🙈 Hide"]

    await run_until(world.harness, world.clock, at("13:38"))
    assert len(cards(world.eve, "Coming up: Checking in at 13:40")) == 1
    assert len(cards(world.dan, "Om lidt: Vi tjekker ind kl. 13.40")) == 1
    assert cards(world.eve, "Om lidt") == []


async def test_inputs_and_quiet_name_the_question_in_the_facilitators_language(
    world: World,
) -> None:
    await run_until(world.harness, world.clock, at("13:15"))
    world.people["midt"].send("Et svar fra Midt")
    await world.harness.settle()
    world.eve.send("/inputs midt")
    await world.harness.settle()
    assert world.eve.last()["text"].startswith("Group work 1 – the latest inputs from Midt:")
    world.eve.send("/quiet midt")
    await world.harness.settle()
    assert world.eve.last()["text"] == "Tables with no input to Group work 1: Table 2"
    world.dan.send("/inputs")
    await world.harness.settle()
    assert world.dan.last()["text"].startswith("Gruppearbejde 1 – de seneste input fra Midt:")


async def test_a_facilitator_in_the_group_is_told_once_there_in_the_events_language(
    world: World,
) -> None:
    await run_until(world.harness, world.clock, at("13:15"))
    world.people["nord"].send("Et svar fra Nord")
    await world.harness.settle()
    [card] = cards(world.group, "Et svar fra Nord")
    assert cards(world.eve, "Et svar fra Nord") == []  # the group has it
    assert labels(card) == ["⭐ Stjerne (0)", "🙈 Skjul"]
    # Eve, who reads English, stars it in the group: the group's card stays in Danish.
    world.eve.press(card, star_of(card))
    await world.harness.settle()
    [card] = cards(world.group, "Et svar fra Nord")
    assert labels(card) == ["⭐ Stjerne (1)", "🙈 Skjul"]

    await run_until(world.harness, world.clock, at("13:38"))
    assert len(cards(world.group, "Om lidt: Vi tjekker ind kl. 13.40")) == 1
    # Eve facilitates Midt too: she gets Midt's card privately, in English, and not Nord's
    # card again (in any language).
    assert len(cards(world.eve, "Coming up: Checking in at 13:40")) == 1
    assert cards(world.eve, "Om lidt") == []


@pytest.mark.parametrize("world", ["live"], indirect=True)
async def test_a_live_relay_says_a_sites_angle_with_its_first_highlight_only(
    world: World,
) -> None:
    angle = "Politikernes rolle i velfærdsteknologi"
    await run_until(world.harness, world.clock, at("13:15"))
    for text in ("Første fra Nord", "Andet fra Nord", "Tredje fra Nord"):
        world.people["nord"].send(text)
        await world.harness.settle()
        card = world.group.last()
        world.eve.press(card, star_of(card))
        await world.harness.settle()
    await run_until(world.harness, world.clock, at("13:19"))
    # The first went at once; the other two waited for the next relay, together.
    first, later = relays(world.people["midt"])
    assert "Første fra Nord" in first
    assert first.count(angle) == 1
    assert "Andet fra Nord" in later
    assert "Tredje fra Nord" in later
    assert angle not in later


@pytest.mark.parametrize("world", ["live"], indirect=True)
async def test_a_live_events_digest_names_what_was_already_shared_live(world: World) -> None:
    await run_until(world.harness, world.clock, at("13:15"))
    world.people["nord"].send("Politikerne skal tage risikoen med ind i rammen for forsøget")
    await world.harness.settle()
    card = world.group.last()
    world.eve.press(card, star_of(card))
    await world.harness.settle()
    [live] = relays(world.people["midt"])
    assert "risikoen" in live
    await run_until(world.harness, world.clock, at("13:40"))
    [_, digest] = relays(world.people["midt"])
    nord, syd = digest.index("📍 Nord"), digest.index("📍 Syd")
    from_nord, from_syd = digest[nord:syd], digest[syd:]
    assert (
        "Allerede delt med jer live siden sidst: "
        "»Politikerne skal tage risikoen med ind i rammen for forsøget«" in from_nord
    )
    assert "Ingen highlights siden sidst" not in from_nord
    assert "Ingen highlights siden sidst" in from_syd


async def test_an_edited_inputs_card_stays_in_each_facilitators_language(world: World) -> None:
    await run_until(world.harness, world.clock, at("13:15"))
    sent = world.people["midt"].send("Et svar fra Midt")
    await world.harness.settle()
    world.people["midt"].edit(sent["message"], "Et rettet svar fra Midt")
    await world.harness.settle()
    [english] = cards(world.eve, "Et rettet svar fra Midt")
    [danish] = cards(world.dan, "Et rettet svar fra Midt")
    assert labels(english) == ["⭐ Star (0)", "🙈 Hide"]
    assert "Table 1 · Group work 1" in english["text"]
    assert labels(danish) == ["⭐ Stjerne (0)", "🙈 Skjul"]
