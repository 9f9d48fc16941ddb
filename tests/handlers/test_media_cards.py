"""Media that facilitators can see: a photo, document or voice note reaches the feed card
itself (sent again by its Telegram file id, the card as its caption, within Telegram's 1,024
characters), moderation and edits change the caption, and /forget removes the card."""

from __future__ import annotations

from typing import Any

import pytest

from bot.sandbox.fake_api import MAX_CAPTION_LENGTH, utf16_length
from tests.handlers.helpers import run_until
from tests.handlers.test_relay import World, at, world

__all__ = ["world"]  # the three-site fixture, shared with the relay tests


def shown(world: World, card: dict[str, Any]) -> dict[str, Any]:
    return world.harness.api.message(card["chat"]["id"], card["message_id"])


def labels(message: dict[str, Any]) -> list[str]:
    return [b["text"] for row in message["reply_markup"]["inline_keyboard"] for b in row]


async def test_a_photo_reaches_the_feed_card_itself_with_the_card_as_caption(
    world: World,
) -> None:
    await run_until(world.harness, world.clock, at("13:15"))
    sent = world.people["nord"].send_photo("Vores tavle efter første runde")
    await world.harness.settle()

    card = world.hosts["nord"].last()
    largest = sent["message"]["photo"][-1]["file_id"]
    [call] = world.harness.api.calls_to("sendPhoto")
    assert call.params["photo"] == largest  # by file id: nothing downloaded or uploaded
    assert "photo" in card
    assert "text" not in card
    assert "Vores tavle efter første runde" in card["caption"]
    assert "[foto]" not in card["caption"]
    assert labels(card) == ["⭐ Stjerne (0)", "🙈 Skjul"]

    world.hosts["nord"].press_button(card, "⭐ Stjerne (0)")
    await world.harness.settle()
    starred = shown(world, card)
    assert "photo" in starred  # the caption changed, the photo stayed
    assert labels(starred) == ["⭐ Stjerne (1)", "🙈 Skjul"]
    assert world.harness.api.calls_to("editMessageCaption")
    assert not [m for m in world.hosts["nord"].inbox() if m["message_id"] > card["message_id"]]


async def test_voice_notes_and_documents_reach_the_card_as_themselves(world: World) -> None:
    await run_until(world.harness, world.clock, at("13:15"))
    world.people["nord"].send_voice(12)
    await world.harness.settle()
    voice = world.hosts["nord"].last()
    assert voice["voice"]["duration"] == 12
    assert "talebesked" not in voice.get("caption", "")  # heard, not described

    world.people["nord"].send_document("plan.pdf", "Vores plan")
    await world.harness.settle()
    document = world.hosts["nord"].last()
    assert document["document"]["file_name"] == "plan.pdf"
    assert "Vores plan" in document["caption"]


async def test_a_card_caption_is_cut_to_telegrams_limit_with_a_marker(world: World) -> None:
    await run_until(world.harness, world.clock, at("13:15"))
    world.people["nord"].send_photo("ord " * 256)  # 1,024 characters: Telegram's own limit
    await world.harness.settle()

    card = world.hosts["nord"].last()
    assert "photo" in card
    assert utf16_length(card["caption"]) <= MAX_CAPTION_LENGTH
    assert "[…]" in card["caption"]
    assert world.harness.query("SELECT status FROM outbox WHERE kind = 'feed'") == [("sent",)]


async def test_an_edited_caption_is_edited_on_the_media_card(world: World) -> None:
    await run_until(world.harness, world.clock, at("13:15"))
    sent = world.people["nord"].send_photo("Første udkast")
    await world.harness.settle()
    card = world.hosts["nord"].last()

    world.people["nord"].edit(sent["message"], "Andet udkast")
    await world.harness.settle()

    now = shown(world, card)
    assert "photo" in now
    assert "Andet udkast" in now["caption"]
    assert "Redigeret" in now["caption"]
    assert world.harness.query("SELECT text FROM inputs") == [("Andet udkast",)]


async def test_forget_deletes_a_card_that_shows_the_persons_photo(world: World) -> None:
    await run_until(world.harness, world.clock, at("13:15"))
    nord = world.people["nord"]
    nord.send_photo("Et billede af mig ved tavlen")
    await world.harness.settle()
    card = world.hosts["nord"].last()

    nord.send("/forget")
    await world.harness.settle()
    nord.press_button(nord.last(), "Ja, slet alt")
    await world.harness.settle()

    assert (card["chat"]["id"], card["message_id"]) not in {
        (m["chat"]["id"], m["message_id"]) for m in world.harness.api.sent_messages()
    }
    assert world.harness.query("SELECT status FROM outbox WHERE kind = 'erasure'") == [("sent",)]
    assert world.harness.api.calls_to("deleteMessage")


@pytest.mark.parametrize("world", [{"mode": "live"}], indirect=True)
async def test_a_relayed_photo_is_shown_itself_after_the_relay_and_forget_removes_it(
    world: World,
) -> None:
    await run_until(world.harness, world.clock, at("13:15"))
    nord = world.people["nord"]
    sent = nord.send_photo("Tavlen fra Nord")
    await world.harness.settle()
    card = world.hosts["nord"].last()
    world.hosts["nord"].press_button(card, "⭐ Stjerne (0)")
    await world.harness.settle()

    midt = world.people["midt"]
    relay, photo = midt.inbox()[-2:]
    assert relay["text"].startswith("✨")
    assert "Tavlen fra Nord" in relay["text"]
    assert photo["photo"][-1]["file_id"] == sent["message"]["photo"][-1]["file_id"]
    assert photo["caption"].startswith("1. Fra Nord, Bord 1")
    [[thumbs]] = photo["reply_markup"]["inline_keyboard"]
    assert thumbs["text"] == "👍 1"
    midt.press(photo, thumbs["callback_data"])  # the photo's own 👍 counts as the relay's
    await world.harness.settle()
    assert world.harness.query("SELECT site_key FROM relay_reactions") == [("midt",)]

    nord.send("/forget")
    await world.harness.settle()
    nord.press_button(nord.last(), "Ja, slet alt")
    await world.harness.settle()
    left = {(m["chat"]["id"], m["message_id"]) for m in world.harness.api.sent_messages()}
    for site in ("midt", "syd"):
        assert not [m for m in world.people[site].inbox() if "photo" in m]
    assert (card["chat"]["id"], card["message_id"]) not in left


@pytest.mark.parametrize("world", [{"mode": "live"}], indirect=True)
async def test_the_check_in_digest_calls_a_photo_shared_live_a_photo_not_a_quoted_word(
    world: World,
) -> None:
    await run_until(world.harness, world.clock, at("13:15"))
    world.people["nord"].send_photo(None)
    world.people["nord"].send("Vi vil have flere forsøg")
    await world.harness.settle()
    for card in world.hosts["nord"].inbox()[-2:]:
        star = next(
            b["callback_data"]
            for row in card["reply_markup"]["inline_keyboard"]
            for b in row
            if b["callback_data"].startswith("v1:mod:star-")
        )
        world.hosts["nord"].press(card, star)
        await world.harness.settle()

    await run_until(world.harness, world.clock, at("13:41"))
    inbox = world.people["midt"].inbox()
    [digest] = [m["text"] for m in inbox if m.get("text", "").startswith("📡")]
    assert "Allerede delt med jer live siden sidst: " in digest
    shared = digest.split("Allerede delt med jer live siden sidst: ")[1].split("\n")[0]
    assert sorted(shared.split(", ")) == ["et foto", "»Vi vil have flere forsøg«"]
