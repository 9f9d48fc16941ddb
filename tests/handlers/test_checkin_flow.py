"""Check-in through the real application: updates in, Bot API calls out (recorded by the fake)."""

from __future__ import annotations

from typing import Any

from bot.event import Event
from bot.sandbox.harness import BotHarness
from tests.handlers.helpers import answer_questions


def buttons(message: dict[str, Any]) -> list[str]:
    rows = message.get("reply_markup", {}).get("inline_keyboard", [])
    return [button["text"] for row in rows for button in row]


async def db_rows(harness: BotHarness, sql: str) -> list[tuple[Any, ...]]:
    return harness.query(sql)


async def test_a_table_qr_code_leads_through_consent_to_a_check_in_at_that_table(
    harness: BotHarness,
) -> None:
    anna = harness.api.user(101, "Anna", language_code="da")
    anna.send("/start aalborg-t2")
    await harness.deliver()

    consent = anna.last()
    assert "Åbne værksteder" in consent["text"]
    assert "Det gemmer jeg" in consent["text"]
    assert buttons(consent) == ["✅ Ja, jeg deltager", "Nej tak"]
    assert await db_rows(harness, "SELECT * FROM consents") == []

    anna.press_button(consent, "✅ Ja, jeg deltager")
    await harness.deliver()
    role = anna.last()
    assert "Hvad er din rolle" in role["text"]
    assert buttons(role) == ["politiker", "embedsperson", "forsker", "virksomhed", "andet"]
    anna.press_button(role, "embedsperson")
    await harness.deliver()
    assert "arrangørerne kan stadig se, hvem der har skrevet hvad" in anna.last()["text"]
    anna.press_button(anna.last(), "Anonymt")
    await harness.deliver()

    confirmation = anna.last()
    assert confirmation["message_id"] == consent["message_id"]  # edited: no stale buttons left
    assert "Aalborg" in confirmation["text"]
    assert "Bord 2" in confirmation["text"]
    assert "velfærdsteknologi" in confirmation["text"]
    assert "Næste punkt kl. 13.00" in confirmation["text"]
    assert buttons(confirmation) == []
    assert await db_rows(harness, "SELECT user_id, site_key, group_key FROM checkins") == [
        (101, "aalborg", "t2")
    ]
    [(version, given_at)] = await db_rows(harness, "SELECT version, given_at FROM consents")
    assert version == harness.services.texts.raw("da", "consent.version")
    assert given_at.startswith("2018-10-03T10:00")  # 12:00 in Copenhagen, stored in UTC
    assert harness.api.callback_answers  # the button's spinner was stopped


async def test_a_site_code_asks_for_the_table_with_buttons(harness: BotHarness) -> None:
    bo = harness.api.user(102, "Bo", language_code="en")
    bo.send("/start kobenhavn")
    await harness.deliver()
    assert "What I store" in bo.last()["text"]
    bo.press_button(bo.last(), "✅ Yes, I take part")
    await harness.deliver()
    tables = bo.last()
    assert "Which table" in tables["text"]
    assert buttons(tables) == ["Table 1", "Table 2", "Table 3", "Table 4"]
    bo.press_button(tables, "Table 3")
    await harness.deliver()
    await answer_questions(harness, bo)
    assert "Copenhagen" in bo.last()["text"] or "København" in bo.last()["text"]
    assert "Table 3" in bo.last()["text"]
    assert await db_rows(harness, "SELECT site_key, group_key FROM checkins") == [
        ("kobenhavn", "t3")
    ]


async def test_checkin_command_works_like_the_deep_link_and_explains_itself(
    harness: BotHarness,
) -> None:
    cy = harness.api.user(103, "Cy", language_code="da")
    cy.send("/checkin")
    await harness.deliver()
    assert "/checkin aalborg-t4" in cy.last()["text"]  # a code of this event, as on its cards
    cy.send("/checkin aalborg-t1")
    await harness.deliver()
    assert buttons(cy.last()) == ["✅ Ja, jeg deltager", "Nej tak"]


async def test_plain_start_explains_how_to_check_in(harness: BotHarness) -> None:
    dag = harness.api.user(104, "Dag", language_code="da")
    dag.send("/start")
    await harness.deliver()
    assert "scanne QR-koden" in dag.last()["text"]


async def test_unknown_and_malformed_codes_get_a_friendly_answer(harness: BotHarness) -> None:
    eva = harness.api.user(105, "Eva", language_code="en")
    eva.send("/start odense-t9")
    await harness.deliver()
    assert "I do not know that code" in eva.last()["text"]
    eva.send("/checkin <b>aalborg</b>")
    await harness.deliver()
    assert "I cannot read that code" in eva.last()["text"]
    assert await db_rows(harness, "SELECT * FROM checkins") == []
    # Nothing about the person is stored before a valid code.
    assert await db_rows(harness, "SELECT * FROM participants") == []


async def test_where_and_switch_show_and_change_the_table(harness: BotHarness) -> None:
    fie = harness.api.user(106, "Fie", language_code="da")
    fie.send("/where")
    await harness.deliver()
    assert "ikke tjekket ind" in fie.last()["text"]
    fie.send("/start aalborg-t1")
    await harness.deliver()
    fie.press_button(fie.last(), "✅ Ja, jeg deltager")
    await harness.deliver()
    await answer_questions(harness, fie)
    fie.send("/where")
    await harness.deliver()
    assert "Videnscenter for Velfærdsteknologi Vest" in fie.last()["text"]
    assert "Bord 1" in fie.last()["text"]
    fie.send("/switch")
    await harness.deliver()
    assert "✅ Bord 1" in buttons(fie.last())
    fie.press_button(fie.last(), "Bord 4")
    await harness.deliver()
    assert await db_rows(harness, "SELECT group_key FROM checkins") == [("t4",)]


async def test_moving_to_another_site_is_confirmed_first(harness: BotHarness) -> None:
    gry = harness.api.user(107, "Gry", language_code="da")
    gry.send("/start aalborg-t1")
    await harness.deliver()
    gry.press_button(gry.last(), "✅ Ja, jeg deltager")
    await harness.deliver()
    await answer_questions(harness, gry)
    gry.send("/start kobenhavn-t2")
    await harness.deliver()
    assert "Vil du flytte" in gry.last()["text"]
    assert await db_rows(harness, "SELECT site_key FROM checkins") == [("aalborg",)]
    gry.press_button(gry.last(), "Ja, flyt mig")
    await harness.deliver()
    assert "flyttet" in gry.last()["text"]
    assert await db_rows(harness, "SELECT site_key, group_key FROM checkins") == [
        ("kobenhavn", "t2")
    ]


async def test_declining_consent_stores_no_check_in(harness: BotHarness) -> None:
    hal = harness.api.user(108, "Hal", language_code="da")
    hal.send("/start aalborg-t3")
    await harness.deliver()
    hal.press_button(hal.last(), "Nej tak")
    await harness.deliver()
    assert "ikke gemt noget" in hal.last()["text"]
    assert await db_rows(harness, "SELECT * FROM checkins") == []
    assert await db_rows(harness, "SELECT * FROM consents") == []


async def test_forged_and_stale_buttons_are_refused_politely(harness: BotHarness) -> None:
    ida = harness.api.user(109, "Ida", language_code="en")
    ida.send("/start aalborg")
    await harness.deliver()
    consent = ida.last()
    for forged in ("v2:consent:yes", "nonsense", "v1:consent:maybe", "v1:move:yes'", "x" * 64):
        ida.press(consent, forged)
        await harness.deliver()
        answer = list(harness.api.callback_answers.values())[-1]
        assert "no longer valid" in answer["text"], forged
        assert answer["show_alert"] is True
    assert ida.last() == consent  # the real buttons are still there
    assert await db_rows(harness, "SELECT * FROM consents") == []
    # A table button pressed before consent places no one at that table.
    ida.press(consent, "v1:table:t1")
    await harness.deliver()
    assert "not checked in" in ida.last()["text"]
    assert await db_rows(harness, "SELECT group_key FROM checkins") == [(None,)]


async def test_a_facilitator_code_grants_the_role_and_help_shows_it(
    harness: BotHarness, seed_event: Event
) -> None:
    site = seed_event.site("kobenhavn")
    assert site is not None
    assert site.facilitator_code is not None
    jon = harness.api.user(110, "Jon", language_code="da")
    jon.send("/help")
    await harness.deliver()
    assert jon.last()["text"].startswith("Scan QR-koden på dit bord for at tjekke ind")
    jon.send(f"/start {site.facilitator_code}")
    await harness.deliver()
    assert "facilitator i" in jon.last()["text"]
    assert "København" in jon.last()["text"]
    jon.send("/help")
    await harness.deliver()
    assert jon.last()["text"].startswith("Som facilitator")
    assert await db_rows(harness, "SELECT role, site_key, via LIKE 'code:%' FROM roles") == [
        ("facilitator", "kobenhavn", 1)
    ]


async def test_organisers_from_the_settings_see_the_organiser_help(harness: BotHarness) -> None:
    from tests.handlers.conftest import ORGANISER_ID

    boss = harness.api.user(ORGANISER_ID, "Org", language_code="en")
    boss.send("/help")
    await harness.deliver()
    assert boss.last()["text"].startswith("As an organiser")


async def test_language_can_be_switched_with_a_button(harness: BotHarness) -> None:
    kim = harness.api.user(111, "Kim", language_code="da")
    kim.send("/language")
    await harness.deliver()
    assert buttons(kim.last()) == ["🇩🇰 Dansk", "🇬🇧 English"]
    kim.press_button(kim.last(), "🇬🇧 English")
    await harness.deliver()
    assert "in English" in kim.last()["text"]
    kim.send("/start")
    await harness.deliver()
    assert "To check in" in kim.last()["text"]


async def test_commands_are_registered_in_danish_and_english(harness: BotHarness) -> None:
    calls = harness.api.calls_to("setMyCommands")
    languages = sorted(str(call.params.get("language_code", "")) for call in calls)
    assert languages == ["", "da", "en"]
    english = next(c for c in calls if c.params.get("language_code") == "en")
    names = [command["command"] for command in english.params["commands"]]
    # The menu is /help's first screen for strangers and participants, not every command.
    assert names == ["checkin", "language", "privacy", "agenda", "mine", "undo", "help"]


async def test_stray_commands_and_messages_get_a_useful_answer(harness: BotHarness) -> None:
    liv = harness.api.user(112, "Liv", language_code="en")
    liv.send("/frobnicate now")
    await harness.deliver()
    assert "I do not know that command" in liv.last()["text"]
    liv.send("hello?")
    await harness.deliver()
    assert "not checked in yet" in liv.last()["text"]
    liv.send_sticker()
    await harness.deliver()
    assert "Please write it as text" in liv.last()["text"]


async def test_forget_erases_the_participant_after_confirmation(harness: BotHarness) -> None:
    mo = harness.api.user(113, "Mo", language_code="en")
    mo.send("/start aalborg-t2")
    await harness.deliver()
    mo.press_button(mo.last(), "✅ Yes, I take part")
    await harness.deliver()
    await answer_questions(harness, mo)
    mo.send("/forget")
    await harness.deliver()
    mo.press_button(mo.last(), "No, keep it")
    await harness.deliver()
    assert await db_rows(harness, "SELECT COUNT(*) FROM checkins") == [(1,)]
    mo.send("/forget")
    await harness.deliver()
    mo.press_button(mo.last(), "Yes, erase everything")
    await harness.deliver()
    assert "erased" in mo.last()["text"]
    for table in ("participants", "consents", "checkins", "roles"):
        assert await db_rows(harness, f"SELECT COUNT(*) FROM {table}") == [(0,)], table  # noqa: S608


async def test_health_shows_organisers_the_queues_and_refuses_others(
    harness: BotHarness,
) -> None:
    from tests.handlers.conftest import ORGANISER_ID

    boss = harness.api.user(ORGANISER_ID, "Org", language_code="en")
    boss.send("/health")
    await harness.deliver()
    report = boss.last()["text"]
    assert "How the bot is doing" in report
    assert "Outbox: 0 waiting, 0 with unknown outcome, 0 failed" in report
    nosy = harness.api.user(140, "Nosy", language_code="en")
    nosy.send("/health")
    await harness.deliver()
    assert "for organisers" in nosy.last()["text"]


async def test_health_offers_to_send_copies_of_unknown_outcome_again_saying_they_may_double(
    harness: BotHarness,
) -> None:
    from tests.handlers.conftest import ORGANISER_ID

    bo = harness.api.user(150, "Bo", language_code="en")
    bo.send("/start")
    await harness.deliver()
    before = len(bo.inbox())
    # A copy whose send was cut off by a read timeout: it may or may not have arrived.
    harness.query(
        """
        INSERT INTO outbox (key, event_key, chat_id, kind, payload, status, created_at, error)
        VALUES ('push:x:y:z:150', NULL, 150, 'push', '{"text":"The next item"}', 'unknown',
                '2026-01-01T10:00:00+00:00', 'Timed out')
        """
    )
    boss = harness.api.user(ORGANISER_ID, "Org", language_code="en")
    boss.send("/health")
    await harness.deliver()
    offer = boss.last()
    assert "1 copy may not have arrived" in offer["text"]
    assert "twice" in offer["text"]
    assert buttons(offer) == ["Send again (may arrive twice)"]

    boss.press_button(offer, "Send again (may arrive twice)")
    await harness.settle()
    assert "Queued again: 1 copy. It may arrive twice." in boss.last()["text"]
    assert [m["text"] for m in bo.inbox()[before:]] == ["The next item"]
    assert harness.query("SELECT status FROM outbox WHERE key LIKE 'resend:%'") == [("sent",)]

    boss.send("/health")  # sent again once: no second offer
    await harness.deliver()
    assert "How the bot is doing" in boss.last()["text"]
