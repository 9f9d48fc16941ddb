"""The agenda runs itself: the seed event's afternoon in seconds, on a controllable clock."""

from __future__ import annotations

from datetime import timedelta

from bot.clock import ManualClock
from bot.event import Event
from bot.sandbox.harness import BotHarness
from handlers import jobs
from tests.handlers.helpers import at, become_facilitator, check_in, received, run_until

SEED_ITEMS = [
    ("welcome", "13:00"),
    ("cases", "13:15"),
    ("group_work_1", "13:40"),
    ("break", "14:25"),
    ("check_in", "14:40"),
    ("group_work_2", "14:55"),
    ("wrap_up", "15:40"),
    ("close", "16:00"),
]


def agenda_pushes(log: list[tuple[str, str, str]]) -> list[tuple[str, str]]:
    return [(item, time) for kind, item, time in log if kind == "push" and item]


async def test_the_whole_afternoon_reaches_every_participant_on_time_in_their_language(
    harness: BotHarness, seed_event: Event, clock: ManualClock
) -> None:
    anna = harness.api.user(201, "Anna", language_code="da")
    bo = harness.api.user(202, "Bo", language_code="en")
    cy = harness.api.user(203, "Cy", language_code="da")
    await check_in(harness, anna, "aalborg-t1")
    await check_in(harness, bo, "aalborg-t3")
    await check_in(harness, cy, "kobenhavn-t2")

    await run_until(harness, clock, at(seed_event, "16:05"))

    for person in (201, 202, 203):
        log = received(harness, seed_event, person)
        assert agenda_pushes(log) == SEED_ITEMS
        # One "5 minutes left" for each of the two prompts that ask for it.
        assert [(item, time) for kind, item, time in log if kind == "reminder"] == [
            ("group_work_1", "14:20"),
            ("group_work_2", "15:35"),
        ]
    texts = {u.id: [m["text"] for m in u.inbox()] for u in (anna, bo, cy)}
    # The per-group variant for Aalborg's table 1, the site variant for table 3, and
    # Copenhagen's own; Bo reads English.
    assert any("Bord 1 ser på risikoen" in t for t in texts[201])
    assert any("Think of a welfare-technology investment" in t for t in texts[202])
    assert not any("Bord 1 ser på risikoen" in t for t in texts[202])
    assert any("to modeller for politisk lederskab" in t for t in texts[203])
    assert any("Group work 1" in t for t in texts[202])
    assert not any("Gruppearbejde 1" in t for t in texts[202])
    harness.api.assert_no_unexpected()


async def test_a_late_joiner_receives_the_current_item_straight_away(
    harness: BotHarness, seed_event: Event, clock: ManualClock
) -> None:
    early = harness.api.user(211, "Early", language_code="da")
    await check_in(harness, early, "kobenhavn-t1")
    await run_until(harness, clock, at(seed_event, "13:50"))
    late = harness.api.user(212, "Late", language_code="da")
    await check_in(harness, late, "kobenhavn-t4")
    assert agenda_pushes(received(harness, seed_event, 212)) == [("group_work_1", "13:50")]
    assert "Gruppearbejde 1" in late.last()["text"]
    # Checking in again does not send it twice.
    late.send("/start kobenhavn-t4")
    await harness.settle()
    assert agenda_pushes(received(harness, seed_event, 212)) == [("group_work_1", "13:50")]
    await run_until(harness, clock, at(seed_event, "14:30"))
    assert agenda_pushes(received(harness, seed_event, 212))[-1] == ("break", "14:25")


async def test_delay_moves_only_that_sites_remaining_items_and_tells_its_participants(
    harness: BotHarness, seed_event: Event, clock: ManualClock
) -> None:
    host = harness.api.user(220, "Host", language_code="da")
    anna = harness.api.user(221, "Anna", language_code="da")
    cy = harness.api.user(222, "Cy", language_code="da")
    await become_facilitator(harness, seed_event, host, "aalborg")
    await check_in(harness, anna, "aalborg-t2")
    await check_in(harness, cy, "kobenhavn-t2")
    await run_until(harness, clock, at(seed_event, "13:20"))

    host.send("/delay 10")
    await harness.settle()
    assert "10 minutter" in host.last()["text"]
    assert "13.50" in host.last()["text"]
    assert "rykket 10 minutter" in anna.last()["text"]
    assert "13.50" in anna.last()["text"]
    anna.send("/agenda")
    await harness.settle()
    programme = anna.last()["text"]
    assert "▶️ 13.15  Dagens cases" in programme
    assert "• 13.50  Gruppearbejde 1 (planlagt 13.40)" in programme
    assert "• 16.10  Tak for i dag (planlagt 16.00)" in programme

    await run_until(harness, clock, at(seed_event, "16:15"))
    aalborg = dict(agenda_pushes(received(harness, seed_event, 221)))
    kobenhavn = dict(agenda_pushes(received(harness, seed_event, 222)))
    assert aalborg["cases"] == "13:15"  # already started: stays where it was
    assert aalborg["group_work_1"] == "13:50"
    assert aalborg["close"] == "16:10"
    assert kobenhavn["group_work_1"] == "13:40"
    assert kobenhavn["close"] == "16:00"


async def test_next_starts_the_next_item_now(
    harness: BotHarness, seed_event: Event, clock: ManualClock
) -> None:
    host = harness.api.user(230, "Host", language_code="en")
    anna = harness.api.user(231, "Anna", language_code="da")
    await become_facilitator(harness, seed_event, host, "kobenhavn")
    await check_in(harness, anna, "kobenhavn-t3")
    await run_until(harness, clock, at(seed_event, "13:05"))
    host.send("/next")
    await harness.settle()
    assert "has started now" in host.last()["text"]
    await run_until(harness, clock, at(seed_event, "13:35"))
    log = dict(agenda_pushes(received(harness, seed_event, 231)))
    assert log["cases"] == "13:05"
    assert log["group_work_1"] == "13:30"  # the rest moved 10 minutes earlier with it


async def test_pause_stops_the_clock_and_resume_starts_what_fell_due_meanwhile(
    harness: BotHarness, seed_event: Event, clock: ManualClock
) -> None:
    host = harness.api.user(240, "Host", language_code="da")
    anna = harness.api.user(241, "Anna", language_code="da")
    await become_facilitator(harness, seed_event, host, "aalborg")
    await check_in(harness, anna, "aalborg-t4")
    await run_until(harness, clock, at(seed_event, "13:35"))
    host.send("/pause")
    await harness.settle()
    assert "pause" in host.last()["text"]
    await run_until(harness, clock, at(seed_event, "13:50"))
    assert "group_work_1" not in dict(agenda_pushes(received(harness, seed_event, 241)))
    anna.send("/agenda")
    await harness.settle()
    programme = anna.last()["text"]
    assert "▶️ 13.15  Dagens cases" in programme  # not the item held by the pause
    assert "⏸" in programme
    host.send("/resume")
    await harness.settle()
    # Group work 1 was due at 13:40, inside the pause: it starts now, ten minutes late, and
    # the rest of the programme moves by as much.
    assert "starter nu" in host.last()["text"]
    await run_until(harness, clock, at(seed_event, "14:45"))
    log = dict(agenda_pushes(received(harness, seed_event, 241)))
    assert log["group_work_1"] == "13:50"
    assert log["break"] == "14:35"


async def test_next_during_a_pause_starts_the_item_the_room_was_waiting_for(
    harness: BotHarness, seed_event: Event, clock: ManualClock
) -> None:
    host = harness.api.user(242, "Host", language_code="da")
    anna = harness.api.user(243, "Anna", language_code="da")
    await become_facilitator(harness, seed_event, host, "aalborg")
    await check_in(harness, anna, "aalborg-t4")
    await run_until(harness, clock, at(seed_event, "13:35"))
    host.send("/pause")
    await run_until(harness, clock, at(seed_event, "13:55"))
    host.send("/next")
    await harness.settle()
    log = agenda_pushes(received(harness, seed_event, 243))
    assert log[-1] == ("group_work_1", "13:55")
    assert ("break", "13:55") not in log
    assert harness.query(
        "SELECT outcome FROM agenda_fired WHERE item_key = 'group_work_1' AND what = 'start'"
        " AND site_key = 'aalborg'"
    ) == [("sent",)]
    host.send("/delay 5")
    await harness.settle()
    assert "rykket 5 minutter" in anna.last()["text"]


async def test_no_reminder_counts_down_while_the_programme_is_paused(
    harness: BotHarness, seed_event: Event, clock: ManualClock
) -> None:
    host = harness.api.user(244, "Host", language_code="da")
    anna = harness.api.user(245, "Anna", language_code="da")
    await become_facilitator(harness, seed_event, host, "aalborg")
    await check_in(harness, anna, "aalborg-t4")
    await run_until(harness, clock, at(seed_event, "14:15"))
    host.send("/pause")
    await run_until(harness, clock, at(seed_event, "14:30"))
    assert not [k for k, *_ in received(harness, seed_event, 245) if k == "reminder"]
    host.send("/delay 5")
    await harness.settle()
    assert "sat på pause" in host.last()["text"]
    host.send("/resume")
    await harness.settle()
    await run_until(harness, clock, at(seed_event, "14:45"))
    # The break fell due during the pause and starts at the resume: the prompt it closes
    # gets no late "5 minutes left".
    assert not [k for k, *_ in received(harness, seed_event, 245) if k == "reminder"]
    assert dict(agenda_pushes(received(harness, seed_event, 245)))["break"] == "14:30"


async def test_a_late_joiner_whose_confirmation_failed_still_gets_the_current_item(
    harness: BotHarness, seed_event: Event, clock: ManualClock
) -> None:
    early = harness.api.user(246, "Early", language_code="da")
    await check_in(harness, early, "kobenhavn-t1")
    await run_until(harness, clock, at(seed_event, "13:50"))
    late = harness.api.user(247, "Late", language_code="da")
    late.send("/start kobenhavn-t2")
    await harness.deliver()
    late.press_button(late.last(), "✅ Ja, jeg deltager")
    await harness.deliver()
    late.press(late.last(), "v1:cat:politician")
    await harness.deliver()
    # The confirmation (an edit) fails: the handler stops before its catch-up.
    harness.api.fail_next("editMessageText", error_code=502)
    harness.api.fail_next("sendMessage", error_code=502, chat_id=247)
    late.press(late.last(), "v1:anon:named")
    await harness.deliver()
    await run_until(harness, clock, at(seed_event, "13:52"))
    assert agenda_pushes(received(harness, seed_event, 247))[0][0] == "group_work_1"


async def test_a_delay_that_reaches_now_starts_the_item_without_a_zero_minute_notice(
    harness: BotHarness, seed_event: Event, clock: ManualClock
) -> None:
    host = harness.api.user(248, "Host", language_code="en")
    anna = harness.api.user(249, "Anna", language_code="en")
    await become_facilitator(harness, seed_event, host, "aalborg")
    await check_in(harness, anna, "aalborg-t1")
    await run_until(harness, clock, at(seed_event, "13:38"))
    host.send("/delay -5")
    await harness.settle()
    assert "has started now" in host.last()["text"]
    assert not any("0 minutes" in m["text"] for m in anna.inbox())
    assert dict(agenda_pushes(received(harness, seed_event, 249)))["group_work_1"] == "13:38"
    host.send("/delay 0")
    await harness.settle()
    assert "Write a number of minutes" in host.last()["text"]


async def test_next_with_a_clock_between_whole_seconds_starts_the_item(
    harness: BotHarness, seed_event: Event, clock: ManualClock
) -> None:
    host = harness.api.user(250, "Host", language_code="en")
    anna = harness.api.user(251, "Anna", language_code="en")
    await become_facilitator(harness, seed_event, host, "aalborg")
    await check_in(harness, anna, "aalborg-t1")
    await run_until(harness, clock, at(seed_event, "13:05"))
    clock.advance(timedelta(milliseconds=250))
    host.send("/next")
    await harness.settle()
    assert "goes to 1 participant." in host.last()["text"]


async def test_participants_and_other_sites_facilitators_are_refused_politely(
    harness: BotHarness, seed_event: Event
) -> None:
    anna = harness.api.user(251, "Anna", language_code="en")
    host = harness.api.user(252, "Host", language_code="en")
    await check_in(harness, anna, "aalborg-t1")
    await become_facilitator(harness, seed_event, host, "kobenhavn")
    for command in (
        "/next",
        "/delay 5",
        "/pause",
        "/resume",
        "/now",
        "/broadcast hi",
        "/prompt why?",
        "/close",
    ):
        anna.send(command)
        await harness.settle()
        assert "for facilitators and organisers" in anna.last()["text"], command
    host.send("/next aalborg")
    await harness.settle()
    assert "not a facilitator at that site" in host.last()["text"]
    assert harness.query("SELECT COUNT(*) FROM agenda_shifts") == [(0,)]


async def test_delay_explains_itself_when_the_number_is_missing_or_wild(
    harness: BotHarness, seed_event: Event
) -> None:
    host = harness.api.user(260, "Host", language_code="en")
    await become_facilitator(harness, seed_event, host, "aalborg")
    for bad in ("/delay", "/delay soon", "/delay 999", "/delay 5 10", "/delay 0", "/delay -0"):
        host.send(bad)
        await harness.settle()
        assert "Write a number of minutes" in host.last()["text"], bad


async def test_an_adhoc_prompt_reaches_one_table_and_closes(
    harness: BotHarness, seed_event: Event, clock: ManualClock
) -> None:
    host = harness.api.user(270, "Host", language_code="da")
    t2 = harness.api.user(271, "T2", language_code="da")
    t3 = harness.api.user(272, "T3", language_code="da")
    await become_facilitator(harness, seed_event, host, "aalborg")
    await check_in(harness, t2, "aalborg-t2")
    await check_in(harness, t3, "aalborg-t3")
    await run_until(harness, clock, at(seed_event, "13:05"))
    host.send("/prompt t2 Hvad er jeres vigtigste <pointe>?")
    await harness.settle()
    assert "1 deltager (" in host.last()["text"]
    assert "Hvad er jeres vigtigste &lt;pointe&gt;?" not in t2.last()["text"]  # shown as text
    assert "Hvad er jeres vigtigste <pointe>?" in t2.last()["text"]
    assert not any("vigtigste" in m["text"] for m in t3.inbox())
    host.send("/close")
    await harness.settle()
    assert "lukket" in host.last()["text"]
    host.send("/close")
    await harness.settle()
    assert "ikke noget åbent" in host.last()["text"]


async def test_broadcast_is_previewed_then_sent_once_to_the_site(
    harness: BotHarness, seed_event: Event
) -> None:
    host = harness.api.user(280, "Host", language_code="en")
    anna = harness.api.user(281, "Anna", language_code="da")
    cy = harness.api.user(282, "Cy", language_code="da")
    await become_facilitator(harness, seed_event, host, "aalborg")
    await check_in(harness, anna, "aalborg-t1")
    await check_in(harness, cy, "kobenhavn-t1")
    host.send("/broadcast Coffee is\nready <3")
    await harness.settle()
    preview = host.last()
    assert "1 participant (" in preview["text"]
    assert "ready <3" in preview["text"]
    before = len(anna.inbox())
    host.press_button(preview, "📣 Send")
    await harness.settle()
    assert "going to 1 participant." in host.last()["text"]
    # The JobQueue then checks the delivery and turns the confirmation into the figure.
    watch = jobs.BroadcastWatch(1, host.id, preview["message_id"], "en")
    services = harness.services
    assert await jobs.report_broadcast(harness.app.bot, services, watch)
    assert "reached 1 of 1 participant." in host.last()["text"]
    assert len(anna.inbox()) == before + 1
    assert "Coffee is\nready <3" in anna.last()["text"]
    assert "værterne i Aalborg" in anna.last()["text"]
    assert not any("Coffee" in m["text"] for m in cy.inbox())
    # A second press (a replayed update, or the old message) sends nothing more.
    host.press(preview, "v1:bcast:send-1")
    await harness.settle()
    assert len(anna.inbox()) == before + 1
    # Forged data with an id too large for the database is refused, not a crash.
    host.press(host.last(), "v1:bcast:send-" + "9" * 30)
    await harness.settle()
    assert "no longer valid" in list(harness.api.callback_answers.values())[-1]["text"]
    # Nor can someone else confirm it, even with forged button data.
    anna.press(anna.last(), "v1:bcast:send-1")
    await harness.settle()
    assert len(anna.inbox()) == before + 1


async def test_now_shows_the_sites_state(
    harness: BotHarness, seed_event: Event, clock: ManualClock
) -> None:
    host = harness.api.user(290, "Host", language_code="en")
    anna = harness.api.user(291, "Anna", language_code="da")
    await become_facilitator(harness, seed_event, host, "aalborg")
    await check_in(harness, anna, "aalborg-t1")
    await run_until(harness, clock, at(seed_event, "13:41"))
    host.send("/now")
    await harness.settle()
    status = host.last()["text"]
    assert "13:40 Group work 1" in status
    assert "14:25 Break" in status
    assert "Checked in: 1" in status
    assert "1 sent" in status


async def test_items_missed_while_the_bot_was_down_are_reported_not_sent_late(
    harness: BotHarness, seed_event: Event, clock: ManualClock
) -> None:
    host = harness.api.user(300, "Host", language_code="da")
    anna = harness.api.user(301, "Anna", language_code="da")
    await become_facilitator(harness, seed_event, host, "aalborg")
    await check_in(harness, anna, "aalborg-t1")
    await run_until(harness, clock, at(seed_event, "13:30"))
    clock.set(at(seed_event, "14:30"))  # down for an hour; the grace period is 10 minutes
    await harness.settle()
    log = dict(agenda_pushes(received(harness, seed_event, 301)))
    assert "group_work_1" not in log
    assert log["break"] == "14:30"  # 5 minutes late: within the grace period
    assert any("Gruppearbejde 1" in m["text"] and "ikke sendt" in m["text"] for m in host.inbox())
    assert harness.query(
        "SELECT item_key, what, outcome FROM agenda_fired WHERE item_key = 'group_work_1'"
        " AND site_key = 'aalborg'"
    ) == [("group_work_1", "start", "missed"), ("group_work_1", "reminder", "missed")]


async def test_timing_follows_the_clock_not_the_step(
    harness: BotHarness, seed_event: Event, clock: ManualClock
) -> None:
    anna = harness.api.user(311, "Anna", language_code="da")
    await check_in(harness, anna, "aalborg-t1")
    await run_until(harness, clock, at(seed_event, "12:59"), step=timedelta(minutes=10))
    assert agenda_pushes(received(harness, seed_event, 311)) == []
    await run_until(harness, clock, at(seed_event, "13:00"))
    assert agenda_pushes(received(harness, seed_event, 311)) == [("welcome", "13:00")]


async def test_length_limits_count_emoji_as_telegram_does(
    harness: BotHarness, seed_event: Event, clock: ManualClock
) -> None:
    host = harness.api.user(320, "Host", language_code="en")
    anna = harness.api.user(321, "Anna", language_code="en")
    await become_facilitator(harness, seed_event, host, "aalborg")
    await check_in(harness, anna, "aalborg-t1")
    host.send("/prompt " + "🙂" * 2000)  # 2000 characters, 4000 UTF-16 units
    await harness.settle()
    assert "too long" in host.last()["text"]
    host.send("/prompt " + "🙂" * 1700)
    await harness.settle()
    assert "went to 1 participant (" in host.last()["text"]
    assert harness.query("SELECT COUNT(*) FROM outbox WHERE status = 'failed'") == [(0,)]
    host.send("/broadcast " + "🙂" * 1890)  # within 3800 units, previewed in full
    await harness.settle()
    assert "Send it?" in host.last()["text"]
