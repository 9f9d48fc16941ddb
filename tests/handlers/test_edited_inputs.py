"""An edit after a star: the facilitators' card shows every edit (edited through the outbox),
a highlight edited before it travelled waits for a new star instead of carrying unreviewed
words to the other sites, and copies relayed before the edit keep the approved text."""

from __future__ import annotations

from typing import Any

import pytest

from bot.clock import ManualClock
from bot.config import Settings
from bot.sandbox import FakeBotApi
from bot.sandbox.harness import BotHarness
from tests.handlers.conftest import TOKEN
from tests.handlers.helpers import check_in, run_until
from tests.handlers.test_relay import (
    World,
    answer_and_star,
    at,
    build_world,
    event_with,
    relays_to,
    world,
)
from tests.waiting import eventually

APPROVED = "Politikerne skal sætte rammen for forsøgene"
EDITED = "STEM PÅ PARTI X VED NÆSTE VALG!"

__all__ = ["world"]  # the three-site fixture, shared with the relay tests


def shown(world: World, card: dict[str, Any]) -> dict[str, Any]:
    """The card as the facilitators' chat shows it now."""
    return world.harness.api.message(card["chat"]["id"], card["message_id"])


def buttons(message: dict[str, Any]) -> list[str]:
    return [b["text"] for row in message["reply_markup"]["inline_keyboard"] for b in row]


async def edit(world: World, site: str, words: str) -> None:
    person = world.people[site]
    [(chat_id, message_id)] = world.harness.query(
        "SELECT chat_id, message_id FROM inputs WHERE user_id = ?", (person.id,)
    )
    person.edit(world.harness.api.message(chat_id, message_id), words)
    await world.harness.settle()


async def test_an_edit_updates_the_sent_card_through_the_outbox_and_marks_it_edited(
    world: World,
) -> None:
    await run_until(world.harness, world.clock, at("13:15"))
    world.people["nord"].send(APPROVED)
    await world.harness.settle()
    card = world.hosts["nord"].last()
    assert APPROVED in card["text"]
    world.clock.advance(at("13:17") - world.clock.now())

    await edit(world, "nord", "Politikerne skal sætte rammen – og følge op")

    now = shown(world, card)
    assert "Politikerne skal sætte rammen – og følge op" in now["text"]
    assert "✏️ Redigeret kl. 13.17." in now["text"]
    assert buttons(now) == ["⭐ Stjerne (0)", "🙈 Skjul"]  # still moderated from the card
    # Through the outbox, as an edit of the message sent (rate-limited, kept across a restart).
    assert world.harness.query(
        "SELECT kind, status, telegram_message_id FROM outbox WHERE key LIKE 'feed:%:edit:1'"
    ) == [("feed", "sent", card["message_id"])]
    assert len(world.hosts["nord"].inbox()) == len(
        [m for m in world.hosts["nord"].inbox() if m["message_id"] <= card["message_id"]]
    )  # no second card


async def test_an_input_its_author_takes_back_is_marked_on_the_card_which_loses_its_buttons(
    world: World,
) -> None:
    await run_until(world.harness, world.clock, at("13:15"))
    world.people["nord"].send(APPROVED)
    await world.harness.settle()
    card = world.hosts["nord"].last()
    assert buttons(card) == ["⭐ Stjerne (0)", "🙈 Skjul"]

    world.people["nord"].send("/undo")
    await world.harness.settle()

    now = shown(world, card)
    assert APPROVED in now["text"]
    assert "· trukket tilbage" in now["text"]
    assert "reply_markup" not in now  # nothing left to star or hide
    assert world.hosts["nord"].last()["message_id"] == card["message_id"]  # no second card


async def test_a_starred_input_edited_before_the_relay_waits_for_a_new_star(
    world: World,
) -> None:
    await run_until(world.harness, world.clock, at("13:15"))
    card = await answer_and_star(world, "nord", APPROVED)
    await edit(world, "nord", EDITED)

    now = shown(world, card)
    assert EDITED in now["text"]
    assert "Det sendes ikke videre til de andre steder, før det får ⭐ igen." in now["text"]
    assert buttons(now)[0] == "⭐ Stjerne igen (1)"
    await run_until(world.harness, world.clock, at("13:40"))
    # Neither the unreviewed words nor the approved ones travelled in the digests.
    for site in ("midt", "syd"):
        [digest] = relays_to(world, site)
        assert EDITED not in digest
        assert APPROVED not in digest
    assert world.harness.query("SELECT COUNT(*) FROM highlight_relays") == [(0,)]

    # Starred again, the edited text is approved and travels at the next relay.
    world.hosts["nord"].press_button(shown(world, card), "⭐ Stjerne igen (1)")
    await world.harness.settle()
    assert buttons(shown(world, card))[0] == "⭐ Stjerne (1)"
    assert world.harness.query(
        "SELECT stars, held FROM (SELECT (SELECT COUNT(*) FROM"
        " input_stars) AS stars, held_at IS NOT NULL AS held"
        " FROM highlights)"
    ) == [(1, 0)]


@pytest.mark.parametrize("world", [{"mode": "live"}], indirect=True)
async def test_a_starred_input_edited_before_a_live_relay_does_not_travel(world: World) -> None:
    await run_until(world.harness, world.clock, at("13:15"))
    await answer_and_star(world, "syd", "Første highlight")  # the live relay's cooldown starts
    assert len(relays_to(world, "midt")) == 1
    world.clock.advance(at("13:16") - world.clock.now())
    card = await answer_and_star(world, "nord", APPROVED)
    await edit(world, "nord", EDITED)
    await run_until(world.harness, world.clock, at("13:25"))

    # Syd (no relay yet) received it at the star, as approved; Midt, waiting out the
    # cooldown, receives nothing of it until it is starred again.
    assert any(APPROVED in t for t in relays_to(world, "syd"))
    assert not any(EDITED in t for t in relays_to(world, "syd"))
    assert not any(EDITED in t or APPROVED in t for t in relays_to(world, "midt"))
    assert "til andre steder kommer det kun, hvis det får ⭐ igen" in shown(world, card)["text"]
    world.hosts["nord"].press_button(shown(world, card), "⭐ Stjerne igen (1)")
    await run_until(world.harness, world.clock, at("13:30"))
    assert any(EDITED in t for t in relays_to(world, "midt"))


async def test_an_edit_after_the_relay_leaves_the_relayed_copies_as_approved(
    world: World,
) -> None:
    await run_until(world.harness, world.clock, at("13:15"))
    card = await answer_and_star(world, "nord", APPROVED)
    await run_until(world.harness, world.clock, at("13:41"))
    [digest] = [m for m in world.people["midt"].inbox() if m["text"].startswith("📡")]
    assert APPROVED in digest["text"]

    await edit(world, "nord", EDITED)

    relayed = world.harness.api.message(digest["chat"]["id"], digest["message_id"])
    assert APPROVED in relayed["text"]
    assert EDITED not in relayed["text"]
    assert not any(EDITED in t for t in relays_to(world, "midt") + relays_to(world, "syd"))
    now = shown(world, card)
    assert EDITED in now["text"]
    assert "efter at det blev sendt videre. De steder, det er nået til, beholder" in now["text"]


@pytest.mark.parametrize("world", [{"mode": "live"}], indirect=True)
async def test_the_check_in_digest_names_a_live_highlight_by_its_approved_text_not_its_edit(
    world: World,
) -> None:
    await run_until(world.harness, world.clock, at("13:15"))
    await answer_and_star(world, "nord", APPROVED)
    assert any(APPROVED in t for t in relays_to(world, "midt"))  # relayed live, as approved
    world.clock.advance(at("13:17") - world.clock.now())
    await edit(world, "nord", EDITED)

    await run_until(world.harness, world.clock, at("13:41"))
    [digest] = [t for t in relays_to(world, "midt") if t.startswith("📡")]
    assert f"Allerede delt med jer live siden sidst: »{APPROVED}«" in digest
    assert not any(EDITED in t for t in relays_to(world, "midt") + relays_to(world, "syd"))


async def test_an_edited_vote_highlight_is_held_like_a_starred_one(
    settings: Settings, clock: ManualClock
) -> None:
    event = event_with(mode="digest", vote_threshold=2)
    api = FakeBotApi(TOKEN)
    async with BotHarness.running(settings, api=api, event=event, clock=clock) as harness:
        world = await build_world(harness, clock, event)
        voters = [api.user(760 + n, f"V{n}", language_code="da") for n in range(3)]
        for voter in voters:
            await check_in(harness, voter, "nord-t2")
        await run_until(harness, clock, at("13:15"))
        world.people["nord"].send(APPROVED)
        await harness.settle()
        card = world.hosts["nord"].last()
        for voter in voters[:2]:
            voter.send("/inputs")
            await harness.settle()
            voter.press(voter.last(), "v1:vote:1")
            await harness.settle()
        assert harness.query("SELECT reason FROM highlights") == [("votes",)]

        await edit(world, "nord", EDITED)
        # One more vote does not release it: only a facilitator's star does.
        voters[2].send("/inputs")
        await harness.settle()
        voters[2].press(voters[2].last(), "v1:vote:1")
        await run_until(harness, clock, at("13:41"))

        assert not any(EDITED in t or APPROVED in t for t in relays_to(world, "midt"))
        assert "før det får ⭐ igen" in shown(world, card)["text"]


async def test_an_edit_of_a_card_still_in_the_outbox_rewrites_it_before_it_is_sent(
    world: World,
) -> None:
    await run_until(world.harness, world.clock, at("13:15"))
    host = world.hosts["nord"]
    # Telegram asks the bot to slow down: the card waits in the outbox for its retry.
    world.harness.api.fail_next("sendMessage", error_code=429, retry_after=1, chat_id=host.id)
    world.people["nord"].send(APPROVED)
    await world.harness.deliver()
    await eventually(
        lambda: world.harness.query(
            "SELECT 1 FROM outbox WHERE kind = 'feed' AND status = 'pending' AND attempts = 1"
        ),
        what="the card back in the outbox after the 429",
    )
    world.clock.advance(at("13:16") - world.clock.now())

    await edit(world, "nord", EDITED)

    [card] = [m for m in host.inbox() if m["text"].startswith("🗨")]
    assert EDITED in card["text"]
    assert APPROVED not in card["text"]
    assert "✏️ Redigeret kl. 13.16." in card["text"]
    # Sent once, as it is now: no edit of it in the host's chat.
    assert not [
        c for c in world.harness.api.calls_to("editMessageText") if c.params["chat_id"] == host.id
    ]


async def test_a_plain_star_pressed_on_a_card_not_yet_updated_approves_nothing(
    world: World,
) -> None:
    site = world.event.site("nord")
    assert site is not None
    other_host = world.harness.api.user(810, "Anden vært", language_code="da")
    other_host.send(f"/start {site.facilitator_code}")
    await world.harness.settle()
    await run_until(world.harness, world.clock, at("13:15"))
    await answer_and_star(world, "nord", APPROVED)
    [input_id] = [row[0] for row in world.harness.query("SELECT id FROM inputs")]
    await edit(world, "nord", EDITED)

    # The other host's ⭐ was on its way from the card as it read before the edit.
    stale = next(m for m in other_host.inbox() if m["text"].startswith("🗨"))
    other_host.press(stale, f"v1:mod:star-{input_id}")
    await world.harness.settle()

    assert world.harness.query("SELECT held_at IS NOT NULL FROM highlights") == [(1,)]
    await run_until(world.harness, world.clock, at("13:40"))
    assert not any(EDITED in t for t in relays_to(world, "midt") + relays_to(world, "syd"))
    # Their card now shows the edited text and the button that approves it.
    assert buttons(shown(world, stale))[0] == "⭐ Stjerne igen (2)"
