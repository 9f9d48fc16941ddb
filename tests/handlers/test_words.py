"""Words people read (issue 15, items 8 and 12): plurals, numbers and clock times as the
language writes them, hints from the running event, what /withdraw and /delay leave people
knowing, and a /help that fits a phone."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.buttons import HelpMore
from bot.clock import ManualClock
from bot.config import Settings
from bot.event import Event
from bot.eventfile import load_event
from bot.sandbox import FakeBotApi, FakeUser
from bot.sandbox.harness import BotHarness
from tests.handlers.conftest import TOKEN
from tests.handlers.helpers import at, become_facilitator, check_in, run_until
from tests.handlers.test_relay import THREE_SITES


def commands_in(text: str) -> list[str]:
    return [line.split()[0] for line in text.splitlines() if line.startswith("/")]


def button_labels(message: dict[str, Any]) -> list[str]:
    rows = message.get("reply_markup", {}).get("inline_keyboard", [])
    return [button["text"] for row in rows for button in row]


@pytest.fixture
async def three_sites(settings: Settings, tmp_path: Path) -> AsyncIterator[BotHarness]:
    """The three-site event running beside the seed event's `harness`, in its own database."""
    event = load_event(THREE_SITES)
    clock = ManualClock(at(event, "12:30"))
    api = FakeBotApi(TOKEN)
    own = settings.model_copy(update={"database_path": tmp_path / "three_sites.sqlite3"})
    async with BotHarness.running(own, api=api, event=event, clock=clock) as running:
        yield running
    api.assert_no_unexpected()


# -- plurals, numbers, clock times ------------------------------------------------------------


async def test_a_reminder_of_one_minute_says_minut_and_asks_naar_du(
    settings: Settings, seed_event: Event, clock: ManualClock
) -> None:
    data = seed_event.model_dump(mode="python")
    for item in data["agenda"]:
        if item.get("remind_before"):
            item["remind_before"] = 1
    event = Event.model_validate(data)
    api = FakeBotApi(TOKEN)
    async with BotHarness.running(settings, api=api, event=event, clock=clock) as harness:
        anna = harness.api.user(1601, "Anna", language_code="da")
        await check_in(harness, anna, "aalborg-t2")
        await run_until(harness, clock, at(event, "14:25"))
        [reminder] = [m["text"] for m in anna.inbox() if m["text"].startswith("⏳")]
        assert reminder.startswith("⏳ 1 minut tilbage af Gruppearbejde 1.")
        assert "Når du at skrive dine svar" in reminder


async def test_resume_names_the_next_item_and_its_clock_time_the_danish_way(
    harness: BotHarness, seed_event: Event, clock: ManualClock
) -> None:
    # The old answer, "efter 1 minutters pause", is gone with the rule behind it: a resume
    # before anything fell due keeps the times, and says when the next item comes.
    host = harness.api.user(1602, "Vært", language_code="da")
    await become_facilitator(harness, seed_event, host, "aalborg")
    await run_until(harness, clock, at(seed_event, "13:20"))
    host.send("/pause")
    await harness.settle()
    await run_until(harness, clock, at(seed_event, "13:21"))
    host.send("/resume")
    await harness.settle()
    text = host.last()["text"]
    assert "pause" not in text
    assert re.search(r"begynder stadig kl\. \d\d\.\d\d\.$", text)


async def test_a_broadcast_to_one_participant_says_deltager_in_the_singular(
    harness: BotHarness, seed_event: Event
) -> None:
    host = harness.api.user(1603, "Vært", language_code="da")
    anna = harness.api.user(1604, "Anna", language_code="da")
    await become_facilitator(harness, seed_event, host, "aalborg")
    await check_in(harness, anna, "aalborg-t2")
    host.send("/broadcast Kaffen er klar")
    await harness.settle()
    assert host.last()["text"].startswith("Sådan ser beskeden ud for 1 deltager (Aalborg):")
    host.press_button(host.last(), "📣 Send")
    await harness.settle()
    assert "sendes til 1 deltager." in host.last()["text"]


async def test_clock_times_are_written_as_each_language_writes_them(
    harness: BotHarness, seed_event: Event
) -> None:
    anna = harness.api.user(1605, "Anna", language_code="da")
    eve = harness.api.user(1606, "Eve", language_code="en")
    await check_in(harness, anna, "aalborg-t2")
    await check_in(harness, eve, "aalborg-t1")
    anna.send("/agenda")
    eve.send("/agenda")
    await harness.settle()
    assert "• 13.40  Gruppearbejde 1" in anna.last()["text"]  # Danish: kl. 13.40
    assert "• 13:40  Group work 1" in eve.last()["text"]


# -- /delay that closes an open question earlier -----------------------------------------------


async def test_a_delay_that_closes_the_open_question_earlier_tells_participants_when(
    harness: BotHarness, seed_event: Event, clock: ManualClock
) -> None:
    host = harness.api.user(1607, "Vært", language_code="da")
    anna = harness.api.user(1608, "Anna", language_code="da")
    await become_facilitator(harness, seed_event, host, "aalborg")
    await check_in(harness, anna, "aalborg-t2")
    await run_until(harness, clock, at(seed_event, "13:45"))
    assert "Åbent til kl. 14" in anna.last()["text"]  # the prompt, as pushed (14.25)

    host.send("/delay -5")
    await harness.settle()
    notice = anna.last()["text"]
    assert notice.startswith("⏱ Programmet er rykket 5 minutter frem.")
    assert "Spørgsmålet Gruppearbejde 1 er derfor åbent til kl. 14.20." in notice


async def test_a_facilitator_who_brings_the_programme_forward_reads_frem_not_minus_minutes(
    harness: BotHarness, seed_event: Event, clock: ManualClock
) -> None:
    host = harness.api.user(1620, "Vært", language_code="da")
    guest = harness.api.user(1621, "Guest", language_code="en")
    await become_facilitator(harness, seed_event, host, "aalborg")
    await become_facilitator(harness, seed_event, guest, "aalborg")
    await run_until(harness, clock, at(seed_event, "13:45"))

    host.send("/delay -5")
    await harness.settle()
    assert host.last()["text"].startswith("⏱ Resten af programmet er rykket 5 minutter frem.")
    guest.send("/delay -1")
    await harness.settle()
    earlier = "⏱ The rest of the programme has moved 1 minute earlier."
    assert guest.last()["text"].startswith(earlier)
    assert "-" not in host.last()["text"] + guest.last()["text"]


# -- hints from the running event -------------------------------------------------------------


async def test_a_facilitator_named_in_the_event_file_who_opens_the_chat_is_told_the_role(
    settings: Settings,
) -> None:
    # By id and by @username, nobody gives them a code: their first /start must not send them
    # off to scan a table's QR code.
    data = load_event(THREE_SITES).model_dump(mode="python")
    data["sites"][0]["facilitators"] = [1631, "@anne_midt"]
    data["sites"][1]["facilitators"] = ["@anne_midt"]
    event = Event.model_validate(data)
    api = FakeBotApi(TOKEN)
    clock = ManualClock(at(event, "12:30"))
    async with BotHarness.running(settings, api=api, event=event, clock=clock) as harness:
        finn = api.user(1631, "Finn", language_code="en")
        anne = api.user(1632, "Anne", language_code="da", username="anne_midt")
        finn.send("/start")
        anne.send("/start")
        await harness.settle()
        assert finn.last()["text"] == (
            "You are already a facilitator at Nord. Send /help to see your commands."
        )
        assert anne.last()["text"].startswith("Du er allerede facilitator i ")
        assert "QR" not in finn.last()["text"] + anne.last()["text"]
    api.assert_no_unexpected()


async def test_hints_quote_the_running_events_codes_and_sites_not_the_seed_events(
    three_sites: BotHarness,
) -> None:
    harness = three_sites
    sten = harness.api.user(1609, "Sten", language_code="da")
    sten.send("/checkin")
    await harness.settle()
    assert "/checkin nord-t2" in sten.last()["text"]
    sten.send("/start")
    await harness.settle()
    assert "/checkin nord-t2" in sten.last()["text"]
    olga = harness.api.user(900, "Olga", language_code="da")  # ORGANIZER_IDS of the tests
    olga.send("/pause")
    await harness.settle()
    which = olga.last()["text"]
    assert which.startswith("Hvilket sted? Skriv stedet efter kommandoen, sådan:")
    assert which.endswith("/pause nord, /pause midt, /pause syd")
    olga.send("/revoke")
    await harness.settle()
    assert "/revoke 123456789 nord" in olga.last()["text"]
    everything = "\n".join(m["text"] for m in [*sten.inbox(), *olga.inbox()])
    assert "aalborg" not in everything.lower()
    assert "nøgle" not in everything


async def test_the_role_question_promises_the_role_beside_inputs_only_where_it_is_shown(
    harness: BotHarness, three_sites: BotHarness
) -> None:
    # The seed event lets each participant choose: the role is not shown next to inputs.
    anna = harness.api.user(1610, "Anna", language_code="da")
    anna.send("/start aalborg-t2")
    await harness.settle()
    anna.press_button(anna.last(), "✅ Ja, jeg deltager")
    await harness.settle()
    assert anna.last()["text"].startswith("Hvad er din rolle i dag?")
    assert "ved dine input" not in anna.last()["text"]
    # The three-site event shows the role instead of a name.
    bo = three_sites.api.user(1611, "Bo", language_code="da")
    bo.send("/start nord-t1")
    await three_sites.settle()
    bo.press_button(bo.last(), "✅ Ja, jeg deltager")
    await three_sites.settle()
    assert "står ved dine input i stedet for dit navn" in bo.last()["text"]


# -- after /withdraw, and the questions before erasing -----------------------------------------


async def test_after_withdrawing_where_and_messages_say_so_and_how_to_come_back(
    harness: BotHarness, seed_event: Event, clock: ManualClock
) -> None:
    anna = harness.api.user(1612, "Anna", language_code="da")
    await check_in(harness, anna, "aalborg-t2")
    await run_until(harness, clock, at(seed_event, "13:41"))
    anna.send("/withdraw")
    await harness.settle()
    assert button_labels(anna.last()) == ["Ja, træk det tilbage", "Nej, jeg bliver"]
    anna.press_button(anna.last(), "Ja, træk det tilbage")
    await harness.settle()
    for said in ("/where", "Et input efter", "/anonymous", "/agenda", "/inputs", "/switch"):
        anna.send(said)
        await harness.settle()
        text = anna.last()["text"]
        assert text.startswith("Du har trukket dit samtykke tilbage"), said
        assert "scan QR-koden på dit bord igen" in text, said
        assert "vilkårene" not in text, said
        assert "endnu" not in text, said


async def test_the_forget_question_says_the_inputs_are_erased_too(harness: BotHarness) -> None:
    anna = harness.api.user(1613, "Anna", language_code="da")
    await check_in(harness, anna, "aalborg-t2")
    anna.send("/forget")
    await harness.settle()
    assert "alle dine input" in anna.last()["text"]


# -- /help that fits a phone --------------------------------------------------------------------


async def press_more(harness: BotHarness, person: FakeUser) -> str:
    person.press(person.last(), HelpMore().pack())
    await harness.settle()
    return str(person.last()["text"])


async def test_a_stranger_is_shown_how_to_check_in_and_nothing_for_the_checked_in(
    harness: BotHarness,
) -> None:
    sten = harness.api.user(1614, "Sten", language_code="da")
    sten.send("/help")
    await harness.settle()
    short = sten.last()
    assert short["text"].startswith("Scan QR-koden på dit bord for at tjekke ind")
    assert commands_in(short["text"]) == ["/checkin", "/language", "/privacy"]
    assert button_labels(short) == ["Flere kommandoer"]
    more = commands_in(await press_more(harness, sten))
    assert {"/mine", "/undo", "/inputs", "/agenda"} & set(more) == set()
    assert "/forget" in more


async def test_help_shows_a_participant_and_a_facilitator_a_few_lines_and_the_rest_on_request(
    harness: BotHarness, seed_event: Event
) -> None:
    anna = harness.api.user(1615, "Anna", language_code="da")
    host = harness.api.user(1616, "Vært", language_code="en")
    await check_in(harness, anna, "aalborg-t2")
    await become_facilitator(harness, seed_event, host, "aalborg")
    for person, most in ((anna, 6), (host, 7)):
        person.send("/help")
        await harness.settle()
        short = person.last()["text"]
        assert len(short.splitlines()) <= most, short
        person.send("/help all")
        await harness.settle()
        everything = commands_in(person.last()["text"])
        assert set(commands_in(short)) < set(everything)
        person.send("/help")
        await harness.settle()
        assert commands_in(await press_more(harness, person)) == everything
    assert "/mine" in commands_in(anna.inbox()[-1]["text"])
    assert {"/next", "/delay", "/export", "/relay"} <= set(commands_in(host.last()["text"]))
