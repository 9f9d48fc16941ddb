"""How an author is shown, where the event lets each participant choose: the choice covers
all their inputs, the earlier ones too, everywhere they are shown after it (the feed, `/inputs`,
relays, the CSV and the JSON); and no choice made publishes no name."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from bot.clock import ManualClock
from bot.config import Settings
from bot.event import Event
from bot.eventfile import load_event
from bot.sandbox import FakeBotApi, FakeUser
from bot.sandbox.harness import BotHarness
from tests.handlers.conftest import ORGANISER_ID, TOKEN
from tests.handlers.helpers import CONSENT, check_in, run_until
from tests.handlers.test_relay import THREE_SITES, at
from tests.waiting import eventually

# /export runs with block=False, as a task PTB awaits when a running application stops; the
# tests wait for the export's last message themselves (as tests/handlers/test_exports.py).
pytestmark = pytest.mark.filterwarnings("ignore:Tasks created via:UserWarning")

NAME = "Nanna Nielsen"


def choice_event() -> Event:
    data = load_event(THREE_SITES).model_dump(mode="python")
    data["event"]["anonymity"] = "participant_choice"
    data["event"]["relay"].update(mode="live")
    return Event.model_validate(data)


@dataclass
class World:
    harness: BotHarness
    clock: ManualClock
    host: FakeUser  # Nord's facilitator
    peer: FakeUser  # another participant at Nord
    midt: FakeUser  # a participant at Midt, who receives Nord's highlights
    organiser: FakeUser


@pytest.fixture
async def world(settings: Settings, clock: ManualClock) -> AsyncIterator[World]:
    event = choice_event()
    api = FakeBotApi(TOKEN)
    async with BotHarness.running(settings, api=api, event=event, clock=clock) as harness:
        host = api.user(801, "Vært Nord", language_code="da")
        host.send("/start vaert-nord-0000001")
        await harness.settle()
        peer = api.user(702, "Per Nord", language_code="da")
        await check_in(harness, peer, "nord-t2")
        midt = api.user(703, "Mia Midt", language_code="da")
        await check_in(harness, midt, "midt-t1")
        organiser = api.user(ORGANISER_ID, "Olga", language_code="da")
        yield World(harness, clock, host, peer, midt, organiser)
    api.assert_no_unexpected()


async def star_last_card(world: World) -> None:
    card = world.host.last()
    star = next(
        b["callback_data"]
        for row in card["reply_markup"]["inline_keyboard"]
        for b in row
        if b["callback_data"].startswith("v1:mod:star-")
    )
    world.host.press(card, star)
    await world.harness.settle()


async def inputs_seen_by_peer(world: World) -> str:
    world.peer.send("/inputs")
    await world.harness.settle()
    text: str = world.peer.last()["text"]
    return text


def relays_to_midt(world: World) -> list[str]:
    return [m["text"] for m in world.midt.inbox() if m["text"].startswith("✨")]


async def export(world: World) -> tuple[list[dict[str, str]], str]:
    """The organiser's CSV rows and JSON text, exported now."""
    world.organiser.send("/export csv json")
    await world.harness.deliver()
    done = len([m for m in world.organiser.inbox() if "✅" in m.get("text", "")]) + 1
    await eventually(
        lambda: len([m for m in world.organiser.inbox() if "✅" in m.get("text", "")]) == done,
        what="the export",
    )
    csv_doc, json_doc = [m["document"] for m in world.organiser.inbox() if "document" in m][-2:]
    files = world.harness.api.files
    rows = list(csv.DictReader(io.StringIO(files[csv_doc["file_id"]].content.decode("utf-8-sig"))))
    return rows, files[json_doc["file_id"]].content.decode("utf-8")


def json_authors(document: str) -> dict[str, Any]:
    """The author of each input in the JSON export, by the input's text."""

    def walk(value: Any) -> Iterator[dict[str, Any]]:
        if isinstance(value, dict):
            if "author" in value and "text" in value:
                yield value
            for inner in value.values():
                yield from walk(inner)
        elif isinstance(value, list):
            for inner in value:
                yield from walk(inner)

    return {row["text"]: row["author"] for row in walk(json.loads(document))}


async def test_a_participant_who_never_chose_is_shown_without_a_name_everywhere(
    world: World,
) -> None:
    # Nanna consents and then leaves the role and anonymity questions unanswered.
    nanna = world.harness.api.user(701, NAME, language_code="da")
    nanna.send("/start nord-t1")
    await world.harness.deliver()
    nanna.press_button(nanna.last(), CONSENT["da"])
    await world.harness.settle()
    assert world.harness.query(
        "SELECT category_key, anonymous FROM checkins WHERE user_id = 701"
    ) == [(None, None)]
    await run_until(world.harness, world.clock, at("13:15"))
    nanna.send("Et svar uden valg")
    await world.harness.settle()

    card = world.host.last()["text"]
    assert "Et svar uden valg" in card
    assert "anonym" in card
    assert NAME not in card
    view = await inputs_seen_by_peer(world)
    assert "Et svar uden valg" in view
    assert NAME not in view
    await star_last_card(world)
    [relay] = relays_to_midt(world)
    assert "Et svar uden valg" in relay
    assert NAME not in relay
    rows, document = await export(world)
    assert [(r["text"], r["author"], r["category"]) for r in rows] == [
        ("Et svar uden valg", "", "")
    ]
    assert json_authors(document) == {"Et svar uden valg": None}
    assert NAME not in document
    # Choosing anonymity now changes nothing that was shown: no word of recalling anything.
    nanna.send("/anonymous")
    await world.harness.settle()
    answer = nanna.last()["text"]
    assert "Alle dine input vises nu uden dit navn" in answer
    assert "kaldes tilbage" not in answer
    assert world.harness.query("SELECT anonymous FROM checkins WHERE user_id = 701") == [(1,)]


async def test_anonymous_covers_earlier_inputs_and_switching_back_names_them_all_again(
    world: World,
) -> None:
    nanna = world.harness.api.user(701, NAME, language_code="da")
    await check_in(world.harness, nanna, "nord-t1", anonymous=False)
    await run_until(world.harness, world.clock, at("13:15"))
    nanna.send("Skrevet med navn")
    await world.harness.settle()
    assert NAME in world.host.last()["text"]  # the card is sent: it keeps the name

    nanna.send("/anonymous")
    await world.harness.settle()
    answer = nanna.last()["text"]
    assert "Alle dine input vises nu uden dit navn – også dem, du allerede har skrevet" in answer
    assert "allerede har sendt med dit navn, kan ikke kaldes tilbage" in answer

    # Everything shown from now on follows the choice, the input written before it too.
    view = await inputs_seen_by_peer(world)
    assert "Skrevet med navn" in view
    assert NAME not in view
    await star_last_card(world)  # starred after the switch: relayed without the name
    [relay] = relays_to_midt(world)
    assert "Skrevet med navn" in relay
    assert NAME not in relay
    rows, document = await export(world)
    assert [(r["text"], r["author"]) for r in rows] == [("Skrevet med navn", "")]
    assert json_authors(document) == {"Skrevet med navn": None}

    nanna.send("/anonymous")
    await world.harness.settle()
    answer = nanna.last()["text"]
    assert "Alle dine input vises nu med dit navn – også dem, du allerede har skrevet" in answer
    assert "allerede har sendt uden dit navn, forbliver uden" in answer
    assert NAME in await inputs_seen_by_peer(world)
    rows, document = await export(world)
    assert [(r["text"], r["author"]) for r in rows] == [("Skrevet med navn", NAME)]
    assert json_authors(document) == {"Skrevet med navn": NAME}


async def test_anonymous_says_nothing_of_sent_messages_when_none_were_sent(
    world: World,
) -> None:
    nanna = world.harness.api.user(701, NAME, language_code="da")
    await check_in(world.harness, nanna, "nord-t1", anonymous=False)
    nanna.send("/anonymous")
    await world.harness.settle()
    answer = nanna.last()["text"]
    assert "uden dit navn" in answer
    assert "kaldes tilbage" not in answer
