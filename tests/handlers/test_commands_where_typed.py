"""Commands where people type them: in the facilitators' group chat, with a code in capitals
as printed on a card, and `/delay` with the site before or after the minutes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from bot.clock import ManualClock
from bot.config import Settings
from bot.event import Event
from bot.eventfile import load_event
from bot.sandbox import FakeBotApi, FakeGroup, FakeUser
from bot.sandbox.harness import BotHarness
from tests.handlers.conftest import ORGANISER_ID, TOKEN
from tests.handlers.helpers import check_in, run_until
from tests.handlers.test_relay import THREE_SITES, at

NORD_TEAM = -1001500000001
LISTED = 906  # a facilitator at Nord by id in the event file, who has never written to the bot


def event_with_team_chat() -> Event:
    """The three sites, Nord's facilitators with a group chat of their own."""
    data = load_event(THREE_SITES).model_dump(mode="python")
    data["sites"][0]["facilitator_chat"] = NORD_TEAM
    data["sites"][0]["facilitators"] = [LISTED]
    return Event.model_validate(data)


@dataclass
class Team:
    harness: BotHarness
    clock: ManualClock
    host: FakeUser  # facilitator at Nord, by its code
    guest: FakeUser  # facilitator at Midt
    anna: FakeUser  # participant at Nord, table 1
    chat: FakeGroup  # Nord's facilitators' group, where all three are members


@pytest.fixture
async def team(settings: Settings, clock: ManualClock) -> AsyncIterator[Team]:
    event = event_with_team_chat()
    api = FakeBotApi(TOKEN)
    async with BotHarness.running(settings, api=api, event=event, clock=clock) as harness:
        host = api.user(901, "Vært Nord", language_code="en")
        guest = api.user(902, "Vært Midt", language_code="en")
        for person, site in ((host, "nord"), (guest, "midt")):
            code = event.site(site).facilitator_code  # type: ignore[union-attr]
            person.send(f"/start {code}")
            await harness.settle()
        anna = api.user(903, "Anna", language_code="en")
        await check_in(harness, anna, "nord-t1")
        await run_until(harness, clock, at("13:15"))
        yield Team(harness, clock, host, guest, anna, api.group(NORD_TEAM, "Værter i Nord"))
    api.assert_no_unexpected()


async def test_now_in_the_facilitators_group_answers_there_for_the_groups_site(
    team: Team,
) -> None:
    before = len(team.chat.inbox())
    team.chat.send(team.host, "/now")
    await team.harness.settle()
    team.chat.send(team.host, "/now@samtidig_bot")
    await team.harness.settle()
    answers = [m["text"] for m in team.chat.inbox()[before:]]
    assert len(answers) == 2
    for status in answers:
        assert "13:10 Group work 1" in status
        assert "Checked in: 1" in status
    assert not any(m["text"] in answers for m in team.host.inbox())


async def test_the_programme_commands_in_the_group_act_on_its_site_with_the_writers_rights(
    team: Team,
) -> None:
    team.chat.send(team.host, "/next")
    await team.harness.settle()
    assert "Checking in" in team.chat.last()["text"]
    assert "has started now" in team.chat.last()["text"]
    assert team.harness.query("SELECT site_key, reason FROM agenda_shifts") == [("nord", "next")]
    # Midt's facilitator and Nord's participant are in the group too: no rights at Nord.
    team.chat.send(team.guest, "/pause")
    await team.harness.settle()
    assert "not a facilitator at that site" in team.chat.last()["text"]
    team.chat.send(team.anna, "/delay 5")
    await team.harness.settle()
    assert "for facilitators and organisers" in team.chat.last()["text"]
    assert team.harness.query("SELECT COUNT(*) FROM agenda_pauses") == [(0,)]
    assert team.harness.query("SELECT COUNT(*) FROM agenda_shifts") == [(1,)]
    # The organiser, a member too, acts on Nord there, or names another site.
    organiser = team.harness.api.user(ORGANISER_ID, "Olga", language_code="en")
    team.chat.send(organiser, "/pause midt")
    await team.harness.settle()
    assert team.harness.query("SELECT site_key FROM agenda_pauses") == [("midt",)]


async def test_a_listed_facilitator_can_start_in_the_group_without_writing_to_the_bot_first(
    team: Team,
) -> None:
    listed = team.harness.api.user(LISTED, "Liv", language_code="en")
    team.chat.send(listed, "/pause")
    await team.harness.settle()
    assert "paused" in team.chat.last()["text"]
    assert team.harness.query("SELECT site_key, paused_by FROM agenda_pauses") == [
        ("nord", LISTED)
    ]
    # Recorded with their private chat, not the group's.
    assert team.harness.query(
        "SELECT chat_id, unreachable_at FROM participants WHERE user_id = ?", (LISTED,)
    ) == [(LISTED, None)]


async def test_a_group_that_is_not_a_sites_facilitator_chat_stays_silent(team: Team) -> None:
    stranger = team.harness.api.group(-1001500000099, "Some group")
    for command in ("/now", "/now@samtidig_bot", "/next nord", "/agenda", "/stats"):
        stranger.send(team.host, command)
    await team.harness.settle()
    assert stranger.inbox() == []
    assert team.harness.query("SELECT COUNT(*) FROM agenda_shifts") == [(0,)]


async def test_a_check_in_code_matches_in_any_case_and_with_spaces_around_it(
    team: Team,
) -> None:
    bo = team.harness.api.user(904, "Bo", language_code="en")
    bo.send("/checkin  Nord-T2 ")
    await team.harness.settle()
    assert "Yes, I take part" in str(bo.last().get("reply_markup"))
    cy = team.harness.api.user(905, "Cy", language_code="en")
    await check_in(team.harness, cy, "MIDT")
    assert team.harness.query("SELECT site_key FROM checkins WHERE user_id = 905") == [("midt",)]
    bo.press_button(bo.last(), "✅ Yes, I take part")
    await team.harness.settle()
    assert team.harness.query("SELECT site_key, group_key FROM checkins WHERE user_id = 904") == [
        ("nord", "t2")
    ]


async def test_delay_takes_the_site_before_or_after_the_minutes(team: Team) -> None:
    team.host.send("/delay 10 nord")
    await team.harness.settle()
    assert "10 minutes" in team.host.last()["text"]
    team.host.send("/delay nord 5")
    await team.harness.settle()
    assert "5 minutes" in team.host.last()["text"]
    team.guest.send("/delay 5 nord")
    await team.harness.settle()
    assert "not a facilitator at that site" in team.guest.last()["text"]
    assert team.harness.query("SELECT site_key, seconds FROM agenda_shifts ORDER BY id") == [
        ("nord", 600),
        ("nord", 300),
    ]
