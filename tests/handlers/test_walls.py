"""The walls' tokens, `/wall` in the chat, and what a wall's state holds under each setting."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from bot.clock import ManualClock
from bot.config import Settings
from bot.event import Event
from bot.sandbox import FakeBotApi, FakeUser
from bot.sandbox.harness import BotHarness
from bot.services.walls import ALL_SITES
from tests.handlers.conftest import ORGANISER_ID, TOKEN
from tests.handlers.helpers import at, become_facilitator, check_in, run_until
from tests.handlers.test_inputs import buttons, with_event

PUBLIC = "https://samtidig.example.org"


@asynccontextmanager
async def bot(
    settings: Settings, event: Event, clock: ManualClock, **changes: Any
) -> AsyncIterator[BotHarness]:
    api = FakeBotApi(TOKEN)
    async with BotHarness.running(
        settings.model_copy(update=changes), api=api, event=event, clock=clock
    ) as harness:
        yield harness
    api.assert_no_unexpected()


async def star(harness: BotHarness, host: FakeUser) -> None:
    card = host.last()
    host.press(card, next(data for label, data in buttons(card) if label.startswith("⭐")))
    await harness.settle()


async def test_each_wall_has_its_own_token_kept_until_rotated(
    settings: Settings, seed_event: Event, clock: ManualClock
) -> None:
    async with bot(settings, seed_event, clock) as harness:
        walls = harness.services.walls
        first = await walls.tokens()
        assert set(first) == {"aalborg", "kobenhavn", ALL_SITES}
        assert len(set(first.values())) == 3
        assert all(len(token) >= 32 for token in first.values())
        assert await walls.tokens() == first
        assert await walls.wall_of(first["aalborg"]) == "aalborg"
        assert await walls.wall_of(first["aalborg"][:-1]) is None
        assert await walls.wall_of("") is None

        after = await walls.rotate(["aalborg"])
        assert after["aalborg"] != first["aalborg"]
        assert {k: v for k, v in after.items() if k != "aalborg"} == {
            k: v for k, v in first.items() if k != "aalborg"
        }
        assert await walls.wall_of(first["aalborg"]) is None
        assert await walls.wall_of(after["aalborg"]) == "aalborg"
        stored = harness.query("SELECT wall, token FROM wall_tokens ORDER BY wall")
        assert dict(stored) == after


async def test_wall_in_the_chat_gives_facilitators_their_site_and_organisers_every_wall(
    settings: Settings, seed_event: Event, clock: ManualClock
) -> None:
    async with bot(settings, seed_event, clock, public_url=PUBLIC) as harness:
        tokens = await harness.services.walls.tokens()
        host = harness.api.user(690, "Vært", language_code="da")
        await become_facilitator(harness, seed_event, host, "aalborg")
        host.send("/wall")
        await harness.settle()
        text = host.last()["text"]
        assert f"Aalborg: {PUBLIC}/wall/{tokens['aalborg']}" in text
        assert tokens["kobenhavn"] not in text
        assert tokens[ALL_SITES] not in text

        organiser = harness.api.user(ORGANISER_ID, "Olga", language_code="en")
        organiser.send("/wall")
        await harness.settle()
        text = organiser.last()["text"]
        assert all(f"{PUBLIC}/wall/{token}" in text for token in tokens.values())
        assert "All sites" in text

        anna = harness.api.user(601, "Anna", language_code="da")
        await check_in(harness, anna, "aalborg-t2")
        anna.send("/wall")
        await harness.settle()
        assert "Kun værter og arrangører" in anna.last()["text"]
        assert not any(token in anna.last()["text"] for token in tokens.values())


async def test_without_public_url_the_chat_says_so_instead_of_a_link(
    settings: Settings, seed_event: Event, clock: ManualClock
) -> None:
    async with bot(settings, seed_event, clock) as harness:
        tokens = await harness.services.walls.tokens()
        organiser = harness.api.user(ORGANISER_ID, "Olga", language_code="en")
        organiser.send("/wall")
        await harness.settle()
        assert "PUBLIC_URL" in organiser.last()["text"]
        assert not any(token in organiser.last()["text"] for token in tokens.values())


async def test_a_wall_shows_inputs_as_the_event_allows_and_authors_as_anonymity_allows(
    settings: Settings, seed_event: Event, clock: ManualClock
) -> None:
    cases = {
        ("starred", "named"): (["Stjernet svar"], "Anna Andersen"),
        ("all", "named"): (["Andet svar", "Stjernet svar"], "Anna Andersen"),
        ("all", "anonymous"): (["Andet svar", "Stjernet svar"], "anonym"),
        ("none", "named"): ([], None),
    }
    for (shown, anonymity), (texts, author) in cases.items():
        event = with_event(seed_event, wall={"inputs": shown}, anonymity=anonymity)
        day = ManualClock(at(seed_event, "12:00"))
        database = settings.database_path.with_name(f"{shown}-{anonymity}.sqlite3")
        async with bot(settings, event, day, database_path=database) as harness:
            host = harness.api.user(690, "Vært", language_code="da")
            await become_facilitator(harness, event, host, "aalborg")
            anna = harness.api.user(601, "Anna Andersen", language_code="da")
            await check_in(harness, anna, "aalborg-t2")
            await run_until(harness, day, at(event, "13:41"))
            anna.send("Stjernet svar")
            await harness.settle()
            await star(harness, host)
            anna.send("Andet svar")
            await harness.settle()
            wall = await harness.services.walls.site_wall("aalborg", "da")
            assert [card.text for card in wall.inputs] == texts, (shown, anonymity)
            assert {card.author for card in wall.inputs} == ({author} if author else set())
            assert wall.site.checked_in == 1
            assert wall.site.answered == 1
            assert wall.site.now is not None
            assert wall.site.now.prompt

            other = await harness.services.walls.site_wall("kobenhavn", "da")
            assert [(c.text, c.site_name) for c in other.arriving] == [
                ("Stjernet svar", "Aalborg")
            ]
            assert all(card.author == author or author is None for card in other.arriving)


async def test_a_highlight_edited_after_its_star_leaves_the_walls_until_starred_again(
    settings: Settings, seed_event: Event, clock: ManualClock
) -> None:
    event = with_event(seed_event, wall={"inputs": "starred"}, anonymity="named")
    async with bot(settings, event, clock) as harness:
        host = harness.api.user(690, "Vært", language_code="da")
        await become_facilitator(harness, event, host, "aalborg")
        anna = harness.api.user(601, "Anna Andersen", language_code="da")
        await check_in(harness, anna, "aalborg-t2")
        await run_until(harness, clock, at(event, "13:41"))
        sent = anna.send("Et godt svar")
        await harness.settle()
        await star(harness, host)
        walls = harness.services.walls
        assert [c.text for c in (await walls.site_wall("aalborg", "da")).inputs] == [
            "Et godt svar"
        ]
        assert [c.text for c in (await walls.site_wall("kobenhavn", "da")).arriving] == [
            "Et godt svar"
        ]
        anna.edit(sent["message"], "STEM PÅ PARTI X")
        await harness.settle()
        # Not approved: on no projector, neither its own site's nor the other's.
        assert not (await walls.site_wall("aalborg", "da")).inputs
        assert not (await walls.site_wall("kobenhavn", "da")).arriving
