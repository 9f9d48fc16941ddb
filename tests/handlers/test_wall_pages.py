"""The walls over HTTP (in-process, httpx) and their live stream (the hub's frames): what a
page shows, what it never shows, its headers, and how it follows changes."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator

import httpx
import pytest

from bot.clock import ManualClock
from bot.config import Settings
from bot.event import Event
from bot.sandbox import FakeBotApi, FakeUser
from bot.sandbox.harness import BotHarness
from bot.services.walls import ALL_SITES
from tests.handlers.conftest import TOKEN
from tests.handlers.helpers import at, become_facilitator, check_in, run_until
from tests.handlers.test_inputs import buttons, with_event
from web.app import build_web_app
from web.pages import Pages
from web.walls import Walls


@pytest.fixture
async def world(
    settings: Settings, seed_event: Event, clock: ManualClock
) -> AsyncIterator[tuple[BotHarness, Walls, httpx.AsyncClient]]:
    event = with_event(seed_event, wall={"inputs": "all"})
    api = FakeBotApi(TOKEN)
    async with BotHarness.running(settings, api=api, event=event, clock=clock) as harness:
        services = harness.services
        walls = Walls(services.walls, Pages(services.texts, event.tz), services.clock)
        services.live.subscribe(walls.hub.on_event)
        app = build_web_app(lambda: asyncio.sleep(0, None), walls=walls)  # type: ignore[arg-type]
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://wall.test") as client:
            yield harness, walls, client
        await walls.hub.stop()


async def day(harness: BotHarness, clock: ManualClock) -> tuple[FakeUser, FakeUser]:
    event = harness.services.event
    host = harness.api.user(690, "Vært", language_code="da")
    await become_facilitator(harness, event, host, "aalborg")
    anna = harness.api.user(601, "Anna Andersen", language_code="da")
    await check_in(harness, anna, "aalborg-t2")
    await run_until(harness, clock, at(event, "13:41"))
    return host, anna


async def test_a_site_wall_is_a_page_that_shows_the_item_figures_and_inputs_escaped(
    world: tuple[BotHarness, Walls, httpx.AsyncClient], clock: ManualClock
) -> None:
    harness, walls, client = world
    _, anna = await day(harness, clock)
    anna.send("<script>alert(1)</script> Politikerne skal sætte rammen")
    await harness.settle()
    tokens = await walls.service.tokens()
    page = await client.get(f"/wall/{tokens['aalborg']}")
    assert page.status_code == 200
    html = page.text
    assert "Gruppearbejde 1" in html
    # The next item's clock time as Danish writes it, like every time the chat gives.
    assert re.search(r"Derefter: [^<]* kl\. \d\d\.\d\d<", html)
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Politikerne skal sætte rammen" in html
    assert "<script>alert" not in html
    assert "Anna Andersen" in html
    assert '<svg role="img"' in html  # the check-in QR code, inline
    assert f'data-live="/wall/{tokens["aalborg"]}/live"' in html
    assert '<script src="/static/wall.js" defer></script>' in html
    assert "<script>" not in html  # no inline script at all
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp
    assert "default-src 'none'" in csp
    assert "unsafe-inline" not in csp
    assert page.headers["referrer-policy"] == "no-referrer"
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["cache-control"] == "no-store"

    other = await client.get(f"/wall/{tokens['kobenhavn']}")
    assert "Politikerne skal sætte rammen" not in other.text  # not a highlight (yet)


async def test_a_wrong_or_rotated_token_is_a_plain_404(
    world: tuple[BotHarness, Walls, httpx.AsyncClient],
) -> None:
    _, walls, client = world
    tokens = await walls.service.tokens()
    for wrong in ("nope", tokens["aalborg"][:-1] + "x", tokens["aalborg"].upper()):
        for path in (f"/wall/{wrong}", f"/wall/{wrong}/live"):
            answer = await client.get(path)
            assert answer.status_code == 404, path
            assert "Denne side findes ikke." in answer.text
            assert "content-security-policy" in answer.headers
    await walls.service.rotate(["aalborg"])
    assert (await client.get(f"/wall/{tokens['aalborg']}")).status_code == 404
    assert (await client.get(f"/wall/{tokens['kobenhavn']}")).status_code == 200


async def test_the_all_sites_wall_shows_every_site_side_by_side(
    world: tuple[BotHarness, Walls, httpx.AsyncClient], clock: ManualClock
) -> None:
    harness, walls, client = world
    await day(harness, clock)
    tokens = await walls.service.tokens()
    html = (await client.get(f"/wall/{tokens[ALL_SITES]}?lang=en")).text
    assert '<html lang="en">' in html
    assert html.count('<section class="column">') == 2
    assert "Aalborg" in html
    assert "Copenhagen" in html
    assert "All sites" in html
    assert re.search(r"Next: [^<]* at \d\d:\d\d<", html)


async def test_the_static_script_and_style_are_served_by_the_bot(
    world: tuple[BotHarness, Walls, httpx.AsyncClient],
) -> None:
    _, _, client = world
    script = await client.get("/static/wall.js")
    assert script.status_code == 200
    assert "EventSource" in script.text
    assert "javascript" in script.headers["content-type"]
    style = await client.get("/static/wall.css")
    assert style.status_code == 200
    assert "text/css" in style.headers["content-type"]


async def test_the_short_checkin_link_leads_to_the_bot_with_the_code(
    world: tuple[BotHarness, Walls, httpx.AsyncClient],
) -> None:
    _, _, client = world
    answer = await client.get("/c/aalborg")
    assert answer.status_code == 303
    assert answer.headers["location"] == "https://t.me/samtidig_bot?start=aalborg"
    assert (await client.get("/c/no-such-code")).status_code == 404
    # A facilitator's secret code is never turned into a public link.
    assert (await client.get("/c/demo-vaert-aalborg-7Fq3Lm")).status_code == 404


async def test_the_stream_sends_the_state_then_each_change_once_rendered(
    world: tuple[BotHarness, Walls, httpx.AsyncClient], clock: ManualClock
) -> None:
    harness, walls, _ = world
    host, anna = await day(harness, clock)
    tokens = await walls.service.tokens()
    aalborg = walls.hub.stream("aalborg", "da", tokens["aalborg"])
    projector = walls.hub.stream("aalborg", "da", tokens["aalborg"])  # a second page on it
    kobenhavn = walls.hub.stream("kobenhavn", "da", tokens["kobenhavn"])
    first = (await anext(aalborg)).decode()
    assert first.startswith("retry: 1000\n\nevent: state\ndata: ")
    assert "Endnu intet her." in first
    await anext(kobenhavn)
    await anext(projector)

    anna.send("Et nyt input")
    await harness.settle()
    raw = await asyncio.wait_for(anext(aalborg), 2)
    # Rendered once for the wall, the same bytes for every page on it.
    assert await asyncio.wait_for(anext(projector), 2) is raw
    await projector.aclose()
    frame = raw.decode()
    assert frame.startswith("event: state\n")
    assert "Et nyt input" in frame
    assert all(line.startswith(("event:", "data:")) for line in frame.strip().splitlines())

    card = host.last()
    host.press(card, next(data for label, data in buttons(card) if label.startswith("⭐")))
    await harness.settle()
    elsewhere = (await asyncio.wait_for(anext(kobenhavn), 2)).decode()
    assert "Et nyt input" in elsewhere
    assert "fra Aalborg" in elsewhere
    await asyncio.wait_for(anext(aalborg), 2)

    host.press(host.last(), dict(buttons(host.last()))["🙈 Skjul"])
    await harness.settle()
    for stream in (aalborg, kobenhavn):
        assert "Et nyt input" not in (await asyncio.wait_for(anext(stream), 2)).decode()

    await walls.service.rotate(["aalborg"])
    assert (await asyncio.wait_for(anext(aalborg), 2)).decode().startswith("event: gone")
    with pytest.raises(StopAsyncIteration):
        await asyncio.wait_for(anext(aalborg), 2)
    await kobenhavn.aclose()
    assert walls.hub.open_pages == 0
