"""Relays between three simultaneous sites: live and digest, check-in cards, greetings,
anonymity, reactions across sites, exclusion, and a restart between star and relay."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from bot.clock import ManualClock
from bot.config import Settings
from bot.event import Event
from bot.eventfile import load_event
from bot.i18n import MESSAGE_LIMIT, telegram_length
from bot.sandbox import FakeBotApi, FakeUser
from bot.sandbox.harness import BotHarness
from tests.handlers.conftest import TOKEN
from tests.handlers.helpers import check_in, run_until

THREE_SITES = Path(__file__).parent.parent / "data" / "three_sites.yaml"


def event_with(**relay: Any) -> Event:
    base = load_event(THREE_SITES)
    data = base.model_dump(mode="python")
    data["event"]["relay"].update(relay)
    return Event.model_validate(data)


def at(hhmm: str) -> datetime:
    hours, minutes = (int(p) for p in hhmm.split(":"))
    return datetime(2018, 10, 3, hours, minutes, tzinfo=load_event(THREE_SITES).tz)


@dataclass
class World:
    harness: BotHarness
    clock: ManualClock
    event: Event
    people: dict[str, FakeUser]  # "nord", "midt", "syd": one participant each
    hosts: dict[str, FakeUser]


async def build_world(harness: BotHarness, clock: ManualClock, event: Event) -> World:
    people, hosts = {}, {}
    for n, site in enumerate(event.sites):
        host = harness.api.user(800 + n, f"Vært {site.key}", language_code="da")
        assert site.facilitator_code is not None
        host.send(f"/start {site.facilitator_code}")
        await harness.settle()
        person = harness.api.user(
            700 + n, f"Deltager {site.name.get('da', 'da')}", language_code="da"
        )
        await check_in(harness, person, f"{site.code}-t1", role="politician")
        people[site.key], hosts[site.key] = person, host
    return World(harness, clock, event, people, hosts)


@pytest.fixture
async def world(
    settings: Settings, clock: ManualClock, request: pytest.FixtureRequest
) -> AsyncIterator[World]:
    event = event_with(**getattr(request, "param", {}))
    api = FakeBotApi(TOKEN)
    async with BotHarness.running(settings, api=api, event=event, clock=clock) as harness:
        yield await build_world(harness, clock, event)
    api.assert_no_unexpected()


async def answer_and_star(world: World, site: str, text: str) -> dict[str, Any]:
    world.people[site].send(text)
    await world.harness.settle()
    card = world.hosts[site].last()
    star = next(
        b["callback_data"]
        for row in card["reply_markup"]["inline_keyboard"]
        for b in row
        if b["callback_data"].startswith("v1:mod:star-")
    )
    world.hosts[site].press(card, star)
    await world.harness.settle()
    return card


def relays_to(world: World, site: str) -> list[str]:
    return [
        m["text"] for m in world.people[site].inbox() if m["text"].startswith(("✨", "📡", "👋"))
    ]


def relay_messages(world: World, site: str) -> list[dict[str, Any]]:
    return [m for m in world.people[site].inbox() if m["text"].startswith(("✨", "📡", "👋"))]


def reaction_buttons(message: dict[str, Any]) -> list[list[tuple[str, str]]]:
    return [
        [(b["text"], b["callback_data"]) for b in row]
        for row in message.get("reply_markup", {}).get("inline_keyboard", [])
    ]


async def test_digest_mode_collects_highlights_until_the_cross_site_check_in(
    world: World,
) -> None:
    await run_until(world.harness, world.clock, at("13:15"))
    await answer_and_star(world, "nord", "Politikerne skal tage risikoen med ind i rammen.")
    await run_until(world.harness, world.clock, at("13:39"))
    assert relays_to(world, "midt") == []
    await run_until(world.harness, world.clock, at("13:40"))
    # One digest per participant, with a section per other site: Nord's with the
    # highlight, Syd's with its figures.
    [digest] = relays_to(world, "midt")
    assert digest.startswith("📡 Nyt fra de andre steder\n")
    assert digest.count("📡") == 1  # one heading, not one per site
    nord, syd = digest.index("📍 Nord – 1 deltager, 1 input"), digest.index("📍 Syd")
    assert nord < syd  # the sites in the event's order
    from_nord, from_syd = digest[nord:syd], digest[syd:]
    assert "Politikerne skal tage risikoen med ind i rammen." in from_nord
    # role_only: the role, no name; and the prompt it answered (the site is the section's).
    assert "1. Bord 1, politiker – svar på »Gruppearbejde 1«:" in from_nord
    assert "Deltager Nord" not in digest
    assert "Stedets vinkel: Politikernes rolle i velfærdsteknologi" in from_nord
    assert "Stedets vinkel: Borgerne og politikerne" in from_syd
    assert "Ingen highlights siden sidst" in from_syd
    [syd_digest] = relays_to(world, "syd")
    assert "📍 Nord" in syd_digest
    assert "📍 Midt" in syd_digest
    assert "📍 Syd" not in syd_digest
    [nord_digest] = relays_to(world, "nord")
    assert "risikoen" not in nord_digest  # not to its own site
    assert "📍 Nord" not in nord_digest
    await run_until(world.harness, world.clock, at("14:25"))
    assert len(relays_to(world, "midt")) == 1  # relayed once, never again


async def test_a_thumbs_up_under_a_digest_reaches_the_highlights_site(world: World) -> None:
    await run_until(world.harness, world.clock, at("13:15"))
    await answer_and_star(world, "nord", "Del risikoen mellem kommunerne")
    await answer_and_star(world, "syd", "Spørg borgerne først")
    await run_until(world.harness, world.clock, at("13:40"))
    [digest] = relay_messages(world, "midt")
    # A row of 👍 per site with highlights, numbered as the highlights in the text.
    [[(nord_label, nord_data)], [(syd_label, syd_data)]] = reaction_buttons(digest)
    assert (nord_label, syd_label) == ("👍 1", "👍 2")
    assert digest["text"].index("1. Bord 1") < digest["text"].index("📍 Syd")
    assert digest["text"].index("📍 Syd") < digest["text"].index("2. Bord 1")
    world.people["midt"].press(digest, syd_data)
    await world.harness.settle()
    assert world.harness.query("SELECT input_id, site_key FROM relay_reactions") == [
        (int(syd_data.removeprefix("v1:rv:")), "midt")
    ]
    assert "1 👍 fra de andre steder (Midt 1)" in world.hosts["syd"].last()["text"]
    # Nord's own highlight was not relayed to Nord: its 👍 there counts for nothing.
    world.people["nord"].press(relay_messages(world, "nord")[0], nord_data)
    await world.harness.settle()
    assert world.harness.query("SELECT COUNT(*) FROM relay_reactions") == [(1,)]


async def test_a_digest_too_long_for_one_message_is_split_between_sites(world: World) -> None:
    await run_until(world.harness, world.clock, at("13:15"))
    # Ten highlights of 500 characters (the preview's length) from two sites: about 6,000
    # characters, more than Telegram's 4,096.
    for site in ("nord", "syd"):
        for n in range(1, 6):
            await answer_and_star(world, site, f"{site}-{n} " + "ord " * 130)
    await run_until(world.harness, world.clock, at("13:40"))
    parts = relay_messages(world, "midt")
    assert len(parts) == 2
    assert all(telegram_length(m["text"]) <= MESSAGE_LIMIT for m in parts)
    assert parts[0]["text"].startswith("📡 Nyt fra de andre steder\n")
    assert parts[1]["text"].startswith("📡 Nyt fra de andre steder, fortsat (2/2)\n")
    # Cut between the sites; every highlight exactly once, its 👍 under its own message.
    assert ("📍 Nord" in parts[0]["text"], "📍 Syd" in parts[0]["text"]) == (True, False)
    assert ("📍 Nord" in parts[1]["text"], "📍 Syd" in parts[1]["text"]) == (False, True)
    for site, part in (("nord", 0), ("syd", 1)):
        for n in range(1, 6):
            assert [m["text"].count(f"{site}-{n} ord") for m in parts] == [
                int(part == 0),
                int(part == 1),
            ]
    assert [label for row in reaction_buttons(parts[0]) for label, _ in row] == [
        f"👍 {n}" for n in range(1, 6)
    ]
    assert [label for row in reaction_buttons(parts[1]) for label, _ in row] == [
        f"👍 {n}" for n in range(6, 11)
    ]
    assert "\n6. Bord 1, politiker" in parts[1]["text"]
    assert world.harness.query(
        "SELECT relay_key, COUNT(*) FROM highlight_relays WHERE to_site = 'midt'"
        " GROUP BY relay_key ORDER BY relay_key"
    ) == [("digest:tre-steder:midt:check_in:1", 5), ("digest:tre-steder:midt:check_in:2", 5)]


async def test_the_check_in_card_reaches_facilitators_two_minutes_before(
    world: World,
) -> None:
    await run_until(world.harness, world.clock, at("13:15"))
    await answer_and_star(world, "nord", "Et forsøg skal have et stop-punkt.")
    await run_until(world.harness, world.clock, at("13:37"))
    assert not any("Om lidt" in m["text"] for m in world.hosts["nord"].inbox())
    await run_until(world.harness, world.clock, at("13:38"))
    card = world.hosts["nord"].last()["text"]
    assert "Om lidt: Vi tjekker ind kl. 13.40" in card
    assert "Et forsøg skal have et stop-punkt." in card
    assert "Ingen highlights endnu" in world.hosts["midt"].last()["text"]


@pytest.mark.parametrize("world", [{"mode": "live"}], indirect=True)
async def test_live_mode_relays_at_once_then_at_most_every_few_minutes(world: World) -> None:
    await run_until(world.harness, world.clock, at("13:15"))
    await answer_and_star(world, "nord", "Første highlight")
    assert len(relays_to(world, "midt")) == 1
    assert "Første highlight" in relays_to(world, "midt")[0]
    world.clock.advance(at("13:16") - world.clock.now())
    await answer_and_star(world, "syd", "Andet highlight")
    await answer_and_star(world, "nord", "Tredje highlight")
    assert len(relays_to(world, "midt")) == 1  # collected: the last relay was a minute ago
    await run_until(world.harness, world.clock, at("13:18"))
    midt = relays_to(world, "midt")
    assert len(midt) == 2
    assert "Andet highlight" in midt[1]
    assert "Tredje highlight" in midt[1]
    # Nord received Syd's highlight but never its own.
    assert any("Andet highlight" in t for t in relays_to(world, "nord"))
    assert not any("Første highlight" in t for t in relays_to(world, "nord"))


@pytest.mark.parametrize("world", [{"mode": "live", "exclude_sites": ["syd"]}], indirect=True)
async def test_an_excluded_site_receives_no_relays(world: World) -> None:
    await run_until(world.harness, world.clock, at("13:15"))
    await answer_and_star(world, "nord", "Kun til Midt")
    await run_until(world.harness, world.clock, at("13:45"))
    assert any("Kun til Midt" in t for t in relays_to(world, "midt"))
    assert relays_to(world, "syd") == []


async def test_a_greeting_goes_to_the_other_sites_labelled_with_its_site(world: World) -> None:
    host = world.hosts["midt"]
    host.send("/relay Mange hilsner fra Midt – vi er i fuld gang!")
    await world.harness.settle()
    preview = host.last()
    assert "2 deltagere (de andre steder)" in preview["text"]
    host.press_button(preview, "📣 Send")
    await world.harness.settle()
    for site in ("nord", "syd"):
        greeting = world.people[site].last()["text"]
        assert greeting.startswith("👋 Hilsen fra Midt")
        assert "vi er i fuld gang" in greeting
    assert not any("fuld gang" in m["text"] for m in world.people["midt"].inbox())
    world.people["nord"].send("/relay Hej")
    await world.harness.settle()
    assert "for facilitatorer og arrangører" in world.people["nord"].last()["text"]


@pytest.mark.parametrize("world", [{"mode": "live"}], indirect=True)
async def test_reactions_across_sites_are_counted_and_reported_home(world: World) -> None:
    await run_until(world.harness, world.clock, at("13:15"))
    card = await answer_and_star(world, "nord", "Del risikoen mellem kommunerne")
    relay = next(m for m in world.people["midt"].inbox() if m["text"].startswith("✨"))
    [[button]] = relay["reply_markup"]["inline_keyboard"]
    world.people["midt"].press(relay, button["callback_data"])
    await world.harness.settle()
    assert world.harness.query("SELECT site_key FROM relay_reactions") == [("midt",)]
    report = world.hosts["nord"].last()["text"]
    assert "1 👍 fra de andre steder (Midt 1)" in report
    # Someone the highlight was not relayed to cannot react to it, even with forged data.
    world.people["nord"].press(world.people["nord"].last(), button["callback_data"])
    await world.harness.settle()
    assert world.harness.query("SELECT COUNT(*) FROM relay_reactions") == [(1,)]
    del card


async def test_a_restart_between_star_and_relay_relays_exactly_once(
    settings: Settings, clock: ManualClock
) -> None:
    event = event_with(mode="digest")
    api = FakeBotApi(TOKEN)
    async with BotHarness.running(settings, api=api, event=event, clock=clock) as harness:
        world = await build_world(harness, clock, event)
        await run_until(harness, clock, at("13:15"))
        await answer_and_star(world, "nord", "Overlever en genstart")
    async with BotHarness.running(settings, api=api, event=event, clock=clock) as harness:
        world.harness = harness
        await run_until(harness, clock, at("14:25"))
        for site in ("midt", "syd"):
            copies = [t for t in relays_to(world, site) if "Overlever en genstart" in t]
            assert len(copies) == 1
        assert harness.query("SELECT to_site, mode FROM highlight_relays ORDER BY to_site") == [
            ("midt", "digest"),
            ("syd", "digest"),
        ]


async def test_a_check_in_decided_again_after_a_restart_sends_no_second_digest(
    settings: Settings, clock: ManualClock
) -> None:
    event = event_with(mode="digest")
    api = FakeBotApi(TOKEN)
    async with BotHarness.running(settings, api=api, event=event, clock=clock) as harness:
        world = await build_world(harness, clock, event)
        await run_until(harness, clock, at("13:15"))
        await answer_and_star(world, "nord", "Kun én gang")
        await run_until(harness, clock, at("13:40"))
    assert len(relays_to(world, "midt")) == 1
    # As if the record of the check-in were lost: the next start decides it again, finding
    # nothing new to relay, under the same keys.
    harness.query("DELETE FROM agenda_fired WHERE item_key = 'check_in'")
    async with BotHarness.running(settings, api=api, event=event, clock=clock) as harness:
        world.harness = harness
        await run_until(harness, clock, at("13:45"))
        assert harness.query("SELECT COUNT(*) FROM agenda_fired WHERE item_key = 'check_in'") == [
            (3,)
        ]
        for site in ("nord", "midt", "syd"):
            assert len(relays_to(world, site)) == 1
        assert harness.query("SELECT COUNT(*) FROM outbox WHERE key LIKE 'digest:%'") == [(3,)]


async def test_votes_past_the_threshold_make_a_highlight(
    settings: Settings, clock: ManualClock
) -> None:
    event = event_with(mode="live", vote_threshold=2)
    api = FakeBotApi(TOKEN)
    async with BotHarness.running(settings, api=api, event=event, clock=clock) as harness:
        world = await build_world(harness, clock, event)
        voters = [api.user(760 + n, f"V{n}", language_code="da") for n in range(2)]
        for voter in voters:
            await check_in(harness, voter, "nord-t2")
        await run_until(harness, clock, at("13:15"))
        world.people["nord"].send("Et populært input")
        await harness.settle()
        for voter in voters:
            voter.send("/inputs")
            await harness.settle()
            voter.press(voter.last(), "v1:vote:1")
            await harness.settle()
        assert harness.query("SELECT reason FROM highlights") == [("votes",)]
        assert any("Et populært input" in t for t in relays_to(world, "midt"))
