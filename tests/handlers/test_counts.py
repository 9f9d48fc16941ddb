"""Counts a facilitator can trust: people, not messages; the questions that are really open;
a table's question measured against that table; no question sent to the wrong people."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest

from bot.clock import ManualClock
from bot.config import Settings
from bot.sandbox import FakeBotApi, FakeUser
from bot.sandbox.harness import BotHarness
from handlers import jobs
from tests.handlers.conftest import TOKEN
from tests.handlers.helpers import check_in, run_until
from tests.handlers.test_relay import World, at, build_world, event_with


def numbers(text: str) -> list[int]:
    """The counts in a line, not the digits of a clock time (13.05 in Danish, 13:05 in
    English)."""
    return [int(n) for n in re.findall(r"(?<![\d:.])\d+(?!\d|[:.]\d)", text)]


@pytest.fixture
async def world(settings: Settings, clock: ManualClock) -> AsyncIterator[World]:
    """The three sites; at Nord, Deltager Nord at table 1 and Bo and Cy at table 2."""
    event = event_with()
    api = FakeBotApi(TOKEN)
    async with BotHarness.running(settings, api=api, event=event, clock=clock) as harness:
        world = await build_world(harness, clock, event)
        for uid, name in ((711, "Bo"), (712, "Cy")):
            world.people[name.lower()] = api.user(uid, name, language_code="da")
            await check_in(harness, world.people[name.lower()], "nord-t2")
        yield world
    api.assert_no_unexpected()


def host(world: World) -> FakeUser:
    return world.hosts["nord"]


async def say(world: World, person: FakeUser, text: str) -> str:
    person.send(text)
    await world.harness.settle()
    return str(person.last()["text"])


async def test_next_counts_the_people_its_item_goes_to_not_every_message_it_queued(
    world: World,
) -> None:
    await run_until(world.harness, world.clock, at("13:35"))
    answer = await say(world, host(world), "/next")  # the crosscheck: pushes and digests
    assert "Vi tjekker ind" in answer
    pushed = world.harness.query(
        "SELECT COUNT(*) FROM outbox WHERE key LIKE 'push:tre-steder:nord:check_in:%'"
    )
    queued = world.harness.query(
        "SELECT COUNT(*) FROM outbox WHERE user_id IN (700, 711, 712) AND created_at = ("
        " SELECT created_at FROM outbox WHERE key LIKE 'push:tre-steder:nord:check_in:%'"
        " LIMIT 1)"
    )
    assert pushed == [(3,)]
    assert queued[0][0] > 3  # the digests of the other sites went out in the same tick
    assert numbers(answer) == [3]


async def test_quiet_sees_a_tables_own_question_and_who_has_answered_it(
    world: World,
) -> None:
    await run_until(world.harness, world.clock, at("13:05"))  # the welcome: no prompt open
    await say(world, host(world), "/prompt t2 Hvad håber I på?")
    quiet = await say(world, host(world), "/quiet")
    assert quiet == "Borde uden input til Hvad håber I på?: Bord 2"
    await say(world, world.people["bo"], "Gode samtaler")
    quiet = await say(world, host(world), "/quiet")
    assert quiet == "Borde, der har skrevet noget til Hvad håber I på?: Bord 2"
    # With group work 1 open as well, both questions are listed, each with its own tables.
    await run_until(world.harness, world.clock, at("13:11"))
    await say(world, host(world), "/prompt t2 Og nu?")
    quiet = await say(world, host(world), "/quiet")
    assert quiet.splitlines() == [
        "Borde uden input til Gruppearbejde 1: Bord 1",
        "Borde uden input til Og nu?: Bord 2",
    ]


async def test_stats_measures_a_tables_question_against_that_tables_people(
    world: World,
) -> None:
    await run_until(world.harness, world.clock, at("13:05"))
    await say(world, host(world), "/prompt t2 Hvad håber I på?")
    await say(world, world.people["bo"], "Gode samtaler")
    stats = await say(world, host(world), "/stats")
    (line,) = [line for line in stats.splitlines() if line.startswith("•") and "13.05" in line]
    # Two people sit at table 2 and one of them answered: half, not a third of the site.
    assert numbers(line) == [1, 1, 50]


async def test_stats_sets_each_tables_count_apart_from_the_tables_name(world: World) -> None:
    # "Bord 1 1, Bord 2 2" read as a list of numbers; the count follows a colon, as in /inputs.
    stats = await say(world, host(world), "/stats")
    (line,) = [line for line in stats.splitlines() if line.startswith("Tjekket ind pr. bord")]
    assert line == "Tjekket ind pr. bord: Bord 1: 1, Bord 2: 2"


async def test_prompt_refuses_a_table_the_site_does_not_have_instead_of_asking_everyone(
    world: World,
) -> None:
    await run_until(world.harness, world.clock, at("13:05"))
    answer = await say(world, host(world), "/prompt t9 Hvad håber I på?")
    assert "intet bord »t9« i Nord" in answer
    assert "t1 (Bord 1), t2 (Bord 2)" in answer
    syd = world.hosts["syd"]
    answer = await say(world, syd, "/prompt t2 Hvad håber I på?")
    assert "intet bord »t2« i Syd" in answer
    assert world.harness.query("SELECT COUNT(*) FROM adhoc_prompts") == [(0,)]
    assert not any("Hvad håber I på?" in m["text"] for m in world.people["bo"].inbox())
    # A question that starts with an ordinary word goes to the whole site, as before.
    await say(world, host(world), "/prompt Tre ting, I håber på?")
    assert world.harness.query("SELECT site_key, group_key, text FROM adhoc_prompts") == [
        ("nord", None, "Tre ting, I håber på?")
    ]


async def test_a_broadcast_counts_the_people_who_blocked_the_bot_as_now_does(
    world: World,
) -> None:
    world.people["cy"].block()
    await world.harness.settle()
    status = await say(world, host(world), "/now")
    assert re.search(r"Kan ikke nås.*: 1", status)
    host(world).send("/broadcast Kaffen er klar")
    await world.harness.settle()
    preview_message = host(world).last()
    assert numbers(preview_message["text"].split("\n")[0]) == [3]
    host(world).press_button(preview_message, "📣 Send")
    await world.harness.settle()
    assert numbers(host(world).last()["text"]) == [3]  # "going to 3", as the preview said
    watch = jobs.BroadcastWatch(1, host(world).id, preview_message["message_id"], "da")
    report = ""
    for _ in range(50):
        if await jobs.report_broadcast(world.harness.app.bot, world.harness.services, watch):
            report = host(world).last()["text"]
            break
        await world.harness.settle()
    # Delivered to 2 of 3; the 1 who blocked the bot is the 1 /now shows; nothing else lost.
    assert numbers(report) == [2, 3, 1, 0]
    assert not any("Kaffen" in m["text"] for m in world.people["cy"].inbox())
