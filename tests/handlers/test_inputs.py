"""Inputs through the real application: capture, acknowledgement, edits, withdrawal, media,
anonymity, the facilitators' feed, votes, duplicates, floods and length."""

from __future__ import annotations

from typing import Any

import pytest
from telegram import Update

from bot.clock import ManualClock
from bot.config import Settings
from bot.event import Event
from bot.sandbox import FakeBotApi, FakeUser
from bot.sandbox.harness import BotHarness
from tests.handlers.conftest import TOKEN
from tests.handlers.helpers import at, become_facilitator, check_in, run_until


def with_event(event: Event, **changes: Any) -> Event:
    """The seed event with other settings, validated as if read from a file."""
    data = event.model_dump(mode="python")
    data["event"].update(changes)
    return Event.model_validate(data)


async def open_prompt(harness: BotHarness, clock: ManualClock, event: Event) -> None:
    await run_until(harness, clock, at(event, "13:41"))


def inputs(harness: BotHarness) -> list[tuple[Any, ...]]:
    return harness.query(
        "SELECT user_id, site_key, group_key, role, category_key, item_key, kind, text, state"
        " FROM inputs ORDER BY id"
    )


def reactions(harness: BotHarness, user: FakeUser) -> dict[int, str]:
    return {
        message_id: reaction[0]["emoji"]
        for (chat, message_id), reaction in harness.api.reactions.items()
        if chat == user.id
    }


def buttons(message: dict[str, Any]) -> list[tuple[str, str]]:
    rows = message.get("reply_markup", {}).get("inline_keyboard", [])
    return [(b["text"], b.get("callback_data", "")) for row in rows for b in row]


@pytest.fixture
async def anna(harness: BotHarness) -> FakeUser:
    user = harness.api.user(601, "Anna Andersen", language_code="da")
    await check_in(harness, user, "aalborg-t2", role="politician")
    return user


@pytest.fixture
async def host(harness: BotHarness, seed_event: Event) -> FakeUser:
    user = harness.api.user(690, "Vært", language_code="da")
    await become_facilitator(harness, seed_event, user, "aalborg")
    return user


async def test_an_answer_is_stored_with_its_origin_and_acknowledged_after_commit(
    harness: BotHarness, seed_event: Event, clock: ManualClock, anna: FakeUser
) -> None:
    await open_prompt(harness, clock, seed_event)
    first = anna.send("Politikerne skal sætte rammen.")
    second = anna.send("Og de skal tåle, at et forsøg fejler.")
    await harness.settle()
    assert inputs(harness) == [
        (
            601,
            "aalborg",
            "t2",
            "participant",
            "politician",
            "group_work_1",
            "text",
            "Politikerne skal sætte rammen.",
            "visible",
        ),
        (
            601,
            "aalborg",
            "t2",
            "participant",
            "politician",
            "group_work_1",
            "text",
            "Og de skal tåle, at et forsøg fejler.",
            "visible",
        ),
    ]
    [(message_id, update_id)] = harness.query(
        "SELECT message_id, update_id FROM inputs WHERE id = 1"
    )
    assert (message_id, update_id) == (first["message"]["message_id"], first["update_id"])
    acked = reactions(harness, anna)
    assert acked == {first["message"]["message_id"]: "👍", second["message"]["message_id"]: "👍"}


async def test_outside_a_prompt_the_event_keeps_a_general_input_or_redirects(
    settings: Settings, seed_event: Event, clock: ManualClock
) -> None:
    api = FakeBotApi(TOKEN)
    async with BotHarness.running(settings, api=api, event=seed_event, clock=clock) as harness:
        anna = api.user(602, "Anna", language_code="da")
        await check_in(harness, anna, "aalborg-t1")
        anna.send("En tanke før vi starter")
        await harness.settle()
        assert harness.query("SELECT item_key, adhoc_id, text FROM inputs") == [
            (None, None, "En tanke før vi starter")
        ]
    redirect = with_event(seed_event, outside_prompt="redirect")
    settings2 = settings.model_copy(
        update={"database_path": settings.database_path.with_name("r.db")}
    )
    api2 = FakeBotApi(TOKEN)
    async with BotHarness.running(settings2, api=api2, event=redirect, clock=clock) as harness:
        bo = api2.user(603, "Bo", language_code="da")
        await check_in(harness, bo, "aalborg-t1")
        bo.send("En tanke før vi starter")
        await harness.settle()
        assert harness.query("SELECT COUNT(*) FROM inputs") == [(0,)]
        assert "Gruppearbejde 1" in bo.last()["text"]
        assert "13.40" in bo.last()["text"]


async def test_an_edit_updates_the_input_and_keeps_the_earlier_text(
    harness: BotHarness, seed_event: Event, clock: ManualClock, anna: FakeUser
) -> None:
    await open_prompt(harness, clock, seed_event)
    sent = anna.send("Politikerne skal sæte rammen")
    await harness.settle()
    anna.edit(sent["message"], "Politikerne skal sætte rammen.")
    await harness.settle()
    assert harness.query("SELECT text, edited_at IS NOT NULL FROM inputs") == [
        ("Politikerne skal sætte rammen.", 1)
    ]
    assert harness.query("SELECT text FROM input_edits") == [("Politikerne skal sæte rammen",)]
    before = len(anna.inbox())
    stranger = harness.api.user(604, "Cy", language_code="da")
    await check_in(harness, stranger, "aalborg-t3")
    hello = stranger.send("/help")
    await harness.settle()
    stranger.edit(hello["message"], "/help me")  # not an input: nothing happens, no crash
    await harness.settle()
    assert len(anna.inbox()) == before


async def test_mine_lists_and_undo_and_the_button_withdraw(
    harness: BotHarness, seed_event: Event, clock: ManualClock, anna: FakeUser
) -> None:
    await open_prompt(harness, clock, seed_event)
    for text in ("Første", "Anden", "Tredje"):
        anna.send(text)
    await harness.settle()
    anna.send("/mine")
    await harness.settle()
    listing = anna.last()
    assert "3 i alt" in listing["text"]
    assert listing["text"].index("Tredje") < listing["text"].index("Første")
    anna.send("/undo")
    await harness.settle()
    assert "Trukket tilbage" in anna.last()["text"]
    assert "Tredje" in anna.last()["text"]
    anna.send("/mine")
    await harness.settle()
    listing = anna.last()
    labels = dict(buttons(listing))
    anna.press(listing, labels["↩ 2"])  # the older of the two left: "Første"
    await harness.settle()
    assert "Første" in anna.last()["text"].split("\n\n")[0]
    assert harness.query("SELECT text FROM inputs WHERE state = 'visible'") == [("Anden",)]
    # Someone else's input cannot be withdrawn with forged button data.
    bo = harness.api.user(605, "Bo", language_code="da")
    await check_in(harness, bo, "aalborg-t1")
    bo.send("/mine")
    await harness.settle()
    bo.press(bo.last(), "v1:wd:2")
    await harness.settle()
    assert harness.query("SELECT state FROM inputs WHERE id = 2") == [("visible",)]


async def test_photos_documents_and_voice_are_inputs_and_stickers_are_not(
    harness: BotHarness, seed_event: Event, clock: ManualClock, anna: FakeUser
) -> None:
    await open_prompt(harness, clock, seed_event)
    anna.send_photo("Vores flipover")
    anna.send_document("noter.pdf", "Referat", mime_type="application/pdf")
    anna.send_voice()
    await harness.settle()
    rows = harness.query("SELECT kind, text, file_id IS NOT NULL, file_name FROM inputs")
    assert rows == [
        ("photo", "Vores flipover", 1, None),
        ("document", "Referat", 1, "noter.pdf"),
        ("voice", "", 1, None),
    ]
    for send in (anna.send_sticker, anna.send_location, anna.send_contact, anna.send_poll):
        send()
        await harness.settle()
        assert "Skriv det gerne som tekst" in anna.last()["text"]
    assert harness.query("SELECT COUNT(*) FROM inputs") == [(3,)]


async def test_the_feed_shows_each_input_to_the_sites_facilitators_with_buttons(
    harness: BotHarness, seed_event: Event, clock: ManualClock, anna: FakeUser, host: FakeUser
) -> None:
    other_host = harness.api.user(691, "Anden vært", language_code="da")
    await become_facilitator(harness, seed_event, other_host, "kobenhavn")
    await open_prompt(harness, clock, seed_event)
    anna.send("Politikerne skal <b>sætte</b> rammen")
    await harness.settle()
    card = host.last()
    assert "Bord 2" in card["text"]
    assert "Gruppearbejde 1" in card["text"]
    assert "Anna Andersen" in card["text"]
    assert "<b>sætte</b>" in card["text"]  # shown as typed, not as markup
    labels = dict(buttons(card))
    assert set(labels) == {"⭐ Stjerne (0)", "🙈 Skjul"}
    assert not any("rammen" in m["text"] for m in other_host.inbox())

    host.press(card, labels["⭐ Stjerne (0)"])
    await harness.settle()
    assert "⭐ Stjerne (1)" in dict(buttons(host.last()))
    host.press(host.last(), dict(buttons(host.last()))["🙈 Skjul"])
    await harness.settle()
    assert harness.query("SELECT state FROM inputs") == [("hidden",)]
    assert "skjult" in host.last()["text"]
    host.press(host.last(), dict(buttons(host.last()))["↩ Vis igen"])
    await harness.settle()
    assert harness.query("SELECT state FROM inputs") == [("visible",)]
    assert harness.query("SELECT COUNT(*) FROM input_stars") == [(1,)]

    # A participant or another site's facilitator pressing forged data is refused.
    for presser in (anna, other_host):
        presser.press(presser.last(), "v1:mod:hide-1")
        await harness.settle()
        answer = list(harness.api.callback_answers.values())[-1]
        assert "ikke facilitator" in answer["text"]
    for forged in ("v1:mod:hide-999", "v1:mod:burn-1", "v1:mod:hide-" + "9" * 40):
        host.press(host.last(), forged)
        await harness.settle()
    assert harness.query("SELECT state FROM inputs") == [("visible",)]


@pytest.mark.parametrize(
    ("mode", "anonymous", "shown", "hidden"),
    [
        ("named", False, "Anna Andersen", None),
        ("role_only", False, "politiker, Aalborg", "Anna Andersen"),
        ("anonymous", False, "anonym", "Anna Andersen"),
        ("participant_choice", True, "anonym", "Anna Andersen"),
        ("participant_choice", False, "Anna Andersen", None),
    ],
)
async def test_the_feed_honours_anonymity(
    settings: Settings,
    seed_event: Event,
    clock: ManualClock,
    mode: str,
    anonymous: bool,
    shown: str,
    hidden: str | None,
) -> None:
    event = with_event(seed_event, anonymity=mode)
    api = FakeBotApi(TOKEN)
    async with BotHarness.running(settings, api=api, event=event, clock=clock) as harness:
        host = api.user(692, "Vært", language_code="da")
        await become_facilitator(harness, event, host, "aalborg")
        anna = api.user(606, "Anna Andersen", language_code="da")
        await check_in(harness, anna, "aalborg-t2", anonymous=anonymous)
        await open_prompt(harness, clock, event)
        anna.send("Mit svar")
        await harness.settle()
        card = host.last()["text"]
        assert shown in card
        if hidden:
            assert hidden not in card


async def test_anonymous_switches_the_choice_and_says_organisers_still_see(
    harness: BotHarness, anna: FakeUser
) -> None:
    anna.send("/anonymous")
    await harness.settle()
    assert "uden dit navn" in anna.last()["text"]
    assert "Arrangørerne kan stadig se" in anna.last()["text"]
    assert harness.query("SELECT anonymous FROM checkins WHERE user_id = 601") == [(1,)]
    anna.send("/anonymous")
    await harness.settle()
    assert harness.query("SELECT anonymous FROM checkins WHERE user_id = 601") == [(0,)]


async def test_participants_vote_on_their_sites_inputs_and_toggle_it(
    harness: BotHarness, seed_event: Event, clock: ManualClock, anna: FakeUser
) -> None:
    bo = harness.api.user(607, "Bo", language_code="en")
    cy = harness.api.user(608, "Cy", language_code="da")
    await check_in(harness, bo, "aalborg-t1")
    await check_in(harness, cy, "kobenhavn-t1")
    await open_prompt(harness, clock, seed_event)
    anna.send("Et godt svar")
    await harness.settle()
    bo.send("/inputs")
    await harness.settle()
    view = bo.last()
    assert "Et godt svar" in view["text"]
    assert dict(buttons(view)) == {"👍 1": "v1:vote:1"}
    bo.press(view, "v1:vote:1")
    await harness.settle()
    assert "(👍 1)" in bo.last()["text"]
    assert dict(buttons(bo.last())) == {"✅ 1": "v1:vote:1"}
    bo.press(bo.last(), "v1:vote:1")
    await harness.settle()
    assert harness.query("SELECT COUNT(*) FROM input_votes") == [(0,)]
    # Not one's own input, and not another site's.
    for voter in (anna, cy):
        voter.send("/help")
        await harness.settle()
        voter.press(voter.last(), "v1:vote:1")
        await harness.settle()
    assert harness.query("SELECT COUNT(*) FROM input_votes") == [(0,)]


async def test_inputs_and_quiet_show_facilitators_their_tables(
    harness: BotHarness, seed_event: Event, clock: ManualClock, anna: FakeUser, host: FakeUser
) -> None:
    await open_prompt(harness, clock, seed_event)
    anna.send("Svar fra bord 2")
    await harness.settle()
    host.send("/inputs")
    await harness.settle()
    assert "Bord 2: 1" in host.last()["text"]
    assert "Bord 1: 0" in host.last()["text"]
    host.send("/quiet")
    await harness.settle()
    quiet = host.last()["text"]
    assert "Bord 1" in quiet
    assert "Bord 3" in quiet
    assert "Bord 2" not in quiet


async def test_the_reminder_goes_only_to_those_who_have_not_answered(
    harness: BotHarness, seed_event: Event, clock: ManualClock, anna: FakeUser
) -> None:
    bo = harness.api.user(609, "Bo", language_code="da")
    await check_in(harness, bo, "aalborg-t1")
    await open_prompt(harness, clock, seed_event)
    anna.send("Mit svar")
    await run_until(harness, clock, at(seed_event, "14:21"))
    reminded = harness.query("SELECT user_id FROM outbox WHERE kind = 'reminder'")
    assert reminded == [(609,)]


async def test_the_same_update_or_message_twice_makes_one_input(
    harness: BotHarness, seed_event: Event, clock: ManualClock, anna: FakeUser
) -> None:
    await open_prompt(harness, clock, seed_event)
    raw = anna.send("Kun én gang")
    await harness.settle()
    update = Update.de_json(raw, harness.app.bot)
    await harness.process(update)  # the same update delivered again
    again = {key: value for key, value in raw.items() if key != "update_id"}
    harness.api.push_update(again)  # the same message under a new update id
    await harness.settle()
    assert harness.query("SELECT COUNT(*) FROM inputs") == [(1,)]


async def test_a_flood_is_slowed_politely_and_nothing_acknowledged_is_dropped(
    harness: BotHarness, seed_event: Event, clock: ManualClock, anna: FakeUser
) -> None:
    await open_prompt(harness, clock, seed_event)
    sent = [anna.send(f"Besked {n}") for n in range(30)]
    await harness.settle()
    stored = harness.query("SELECT text FROM inputs ORDER BY id")
    assert len(stored) == 20
    acked = reactions(harness, anna)
    assert len(acked) == 20
    # Every acknowledged message is stored, and no stored one went unacknowledged.
    by_id = {m["message"]["message_id"]: m["message"]["text"] for m in sent}
    assert sorted(by_id[i] for i in acked) == sorted(text for (text,) in stored)
    warnings = [m for m in anna.inbox() if "det går stærkt" in m["text"]]
    assert len(warnings) == 1


async def test_a_full_length_message_is_stored_whole_and_shown_shortened(
    harness: BotHarness, seed_event: Event, clock: ManualClock, anna: FakeUser, host: FakeUser
) -> None:
    await open_prompt(harness, clock, seed_event)
    long_text = ("Politikerne & embedsfolk <skal> samarbejde. " * 100)[:4096]
    anna.send(long_text)
    await harness.settle()
    assert harness.query("SELECT text FROM inputs") == [(long_text,)]
    card = host.last()["text"]
    assert card.endswith("[…]") or "[…]" in card
    assert len(card.encode("utf-16-le")) // 2 <= 4096
    assert harness.query("SELECT COUNT(*) FROM outbox WHERE status = 'failed'") == [(0,)]
    anna.send("/mine")
    await harness.settle()
    assert len(anna.last()["text"]) < 1000


async def test_an_input_carries_the_facilitator_role_only_at_the_site_facilitated(
    harness: BotHarness, seed_event: Event, clock: ManualClock, anna: FakeUser
) -> None:
    await become_facilitator(harness, seed_event, anna, "kobenhavn")
    await open_prompt(harness, clock, seed_event)
    anna.send("Skrevet i Aalborg.")
    await harness.settle()
    await become_facilitator(harness, seed_event, anna, "aalborg")
    anna.send("Skrevet i Aalborg igen.")
    await harness.settle()
    assert [(site, role) for _, site, _, role, *_ in inputs(harness)] == [
        ("aalborg", "participant"),  # a facilitator of København, writing at Aalborg
        ("aalborg", "facilitator"),
    ]
