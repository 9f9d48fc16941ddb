"""Erasure reaches Telegram: after /forget no feed card, relay or digest in any chat of the fake
Bot API still shows the person's words or name; someone who declines consent leaves no row;
an edit sent after /withdraw is not stored; the database overwrites what it deletes."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from bot.clock import ManualClock
from bot.event import Event
from bot.sandbox.harness import BotHarness
from tests.handlers.helpers import at, check_in, run_until
from tests.handlers.test_privacy import every_value
from tests.handlers.test_relay import World, answer_and_star, relays_to, world
from tests.handlers.test_relay import at as three_sites_at

NORD_WORDS = "Politikerne skal tage risikoen med ind i rammen"
MIDT_WORDS = "Borgerpaneler før hver stor investering"

__all__ = ["world"]  # the three-site fixture, shared with the relay tests


def bot_messages_outside(world: World, chat_id: int) -> list[str]:
    """The text of every bot message that every other chat of the fake shows now."""
    return [
        str(m.get("text", m.get("caption", "")))
        for m in world.harness.api.sent_messages()
        if m["chat"]["id"] != chat_id
    ]


async def test_forget_edits_feed_cards_and_removes_relays_that_carried_the_persons_words(
    world: World,
) -> None:
    nord = world.people["nord"]
    await run_until(world.harness, world.clock, three_sites_at("13:15"))
    card = await answer_and_star(world, "nord", NORD_WORDS)
    await answer_and_star(world, "midt", MIDT_WORDS)
    await run_until(world.harness, world.clock, three_sites_at("13:40"))
    # Before: the words are in Nord's hosts' feed card and in both other sites' digests;
    # Syd's digest also carries Midt's highlight, Midt's carries only Nord's.
    assert NORD_WORDS in world.harness.api.message(card["chat"]["id"], card["message_id"])["text"]
    [midt_digest] = relays_to(world, "midt")
    [syd_digest] = relays_to(world, "syd")
    assert NORD_WORDS in midt_digest
    assert NORD_WORDS in syd_digest
    assert MIDT_WORDS in syd_digest

    nord.send("/forget")
    await world.harness.settle()
    nord.press_button(nord.last(), "Ja, slet alt")
    await world.harness.settle()

    shown = bot_messages_outside(world, nord.id)
    assert not [text for text in shown if NORD_WORDS in text or "Deltager Nord" in text]
    edited = world.harness.api.message(card["chat"]["id"], card["message_id"])
    assert "trukket tilbage af forfatteren" in edited["text"]
    assert "reply_markup" not in edited  # no star or hide buttons left on it
    # Midt's digest carried only Nord's highlight: deleted. Syd's held Midt's too: rendered
    # again with Midt's alone, its 👍 still there; Nord's 👍 gone.
    assert relays_to(world, "midt") == []
    [kept] = [m for m in world.people["syd"].inbox() if "De andre, den indeholdt" in m["text"]]
    assert MIDT_WORDS in kept["text"]
    assert [[b["text"] for b in row] for row in kept["reply_markup"]["inline_keyboard"]] == [
        ["👍 1"]
    ]
    # Nord's hosts' check-in card quoted her highlight: cleared.
    assert [m for m in world.hosts["nord"].inbox() if "citerede input" in m["text"]]
    # Midt's own card in its hosts' chat is untouched.
    assert any(MIDT_WORDS in text for text in shown)
    # The edits and deletions went through the outbox (so the rate limits held): the feed
    # card, the two digests and Nord's hosts' check-in card, which quoted her highlight.
    assert world.harness.query(
        "SELECT COUNT(*) FROM outbox WHERE kind = 'erasure' AND status = 'sent'"
    ) == [(4,)]
    methods = [call.method for call in world.harness.api.calls]
    assert "editMessageText" in methods
    assert "deleteMessage" in methods


async def test_a_declined_consent_leaves_no_row_with_the_persons_id(harness: BotHarness) -> None:
    hal = harness.api.user(1590, "Hal Afvisersen", language_code="da")
    hal.send("/start aalborg-t3")
    await harness.deliver()
    hal.press_button(hal.last(), "Nej tak")
    await harness.settle()
    assert "ikke gemt noget" in hal.last()["text"]
    traces = [
        (table, column, value)
        for table, column, value in every_value(harness.database_path)
        if value == str(hal.id) or "Afvisersen" in value or f":{hal.id}:" in value
    ]
    assert traces == []


async def test_an_edit_sent_after_withdrawing_consent_is_not_stored(
    harness: BotHarness, seed_event: Event, clock: ManualClock
) -> None:
    anna = harness.api.user(1591, "Anna", language_code="da")
    await check_in(harness, anna, "aalborg-t1")
    await run_until(harness, clock, at(seed_event, "13:41"))
    sent = anna.send("Mit første svar")
    await harness.settle()
    anna.send("/withdraw")
    await harness.settle()
    anna.press_button(anna.last(), "Ja, træk det tilbage")
    await harness.settle()
    anna.edit(sent["message"], "En ny mening efter jeg trak mig")
    await harness.settle()
    assert harness.query("SELECT text FROM inputs") == [("Mit første svar",)]
    assert harness.query("SELECT COUNT(*) FROM input_edits") == [(0,)]


async def test_after_forget_neither_the_database_file_nor_its_log_holds_the_words(
    harness: BotHarness, seed_event: Event, clock: ManualClock
) -> None:
    anna = harness.api.user(1592, "Anna", language_code="da")
    await check_in(harness, anna, "aalborg-t1")
    await run_until(harness, clock, at(seed_event, "13:41"))
    bo = harness.api.user(1593, "Bo", language_code="da")
    await check_in(harness, bo, "aalborg-t2")
    anna.send("Et svar der skal glemmes helt")
    await harness.settle()
    bo.send("Bos svar bliver")  # a row beside hers: her page stays, with the gap she left
    await harness.settle()
    anna.send("/forget")
    await harness.settle()
    anna.press_button(anna.last(), "Ja, slet alt")
    await harness.settle()
    wal = Path(f"{harness.database_path}-wal")
    for path in (harness.database_path, wal):
        if path.exists():
            assert b"glemmes helt" not in path.read_bytes()
    with sqlite3.connect(harness.database_path) as conn:
        assert conn.execute("SELECT text FROM inputs").fetchall() == [("Bos svar bliver",)]
