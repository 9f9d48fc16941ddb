"""The walls' hub on its own: one render per wall per burst of changes, only changed states
sent, and pages on a token that changed elsewhere (another process) closed."""

from __future__ import annotations

import asyncio

from bot.services.live import AgendaChange, AgendaChanged, InputChange, InputChanged
from web.live import GONE, WallHub


class FakeWalls:
    def __init__(self) -> None:
        self.tokens = {"nord": "t-nord", "midt": "t-midt", "*": "t-all"}
        self.version = 0
        self.renders: list[tuple[str, str]] = []

    async def render(self, wall: str, lang: str) -> str:
        self.renders.append((wall, lang))
        return f"{wall} {lang} v{self.version}\nsecond line"

    async def read_tokens(self) -> dict[str, str]:
        return dict(self.tokens)


async def test_a_burst_of_changes_is_rendered_once_per_open_wall_and_sent_to_every_page() -> None:
    walls = FakeWalls()
    hub = WallHub(walls.render, walls.read_tokens, refresh=3600)
    pages = [hub.stream("nord", "da", "t-nord") for _ in range(3)]
    firsts = [await anext(page) for page in pages]
    assert firsts[0] == b"retry: 1000\n\nevent: state\ndata: nord da v0\ndata: second line\n\n"
    assert walls.renders == [("nord", "da")]  # the second and third page got the same state

    walls.version = 1
    for n in range(50):
        hub.on_event(InputChanged(InputChange.ADDED, "nord", n))
    frames = [await asyncio.wait_for(anext(page), 2) for page in pages]
    assert frames[0] == b"event: state\ndata: nord da v1\ndata: second line\n\n"
    assert all(frame is frames[0] for frame in frames)
    assert walls.renders == [("nord", "da")] * 2

    # A new input elsewhere renders only that site's wall (none open here) and all sites'.
    hub.on_event(InputChanged(InputChange.ADDED, "midt", 99))
    await asyncio.sleep(0.2)
    assert walls.renders == [("nord", "da")] * 2
    # Nothing changed on the page: nothing is sent, however often it is rendered.
    hub.on_event(AgendaChanged(AgendaChange.DELAYED, "midt"))
    await asyncio.sleep(0.2)
    assert walls.renders == [("nord", "da")] * 3
    for page in pages:
        await page.aclose()
    assert hub.open_pages == 0
    await hub.stop()


async def test_a_token_changed_by_another_process_closes_its_pages_at_the_next_refresh() -> None:
    walls = FakeWalls()
    hub = WallHub(walls.render, walls.read_tokens, refresh=0.05)
    hub.start()
    nord = hub.stream("nord", "da", "t-nord")
    midt = hub.stream("midt", "da", "t-midt")
    await anext(nord)
    await anext(midt)
    walls.tokens["nord"] = "t-nord-2"  # `python -m bot walls --rotate nord`, elsewhere
    assert await asyncio.wait_for(anext(nord), 2) == GONE
    assert hub.open_pages == 1
    await hub.stop()
    async for _ in midt:  # the stop ends the other stream too
        raise AssertionError("no state expected after the stop")


async def test_a_change_made_while_the_walls_render_is_sent_without_waiting_for_another() -> None:
    walls = FakeWalls()
    rendering, release = asyncio.Event(), asyncio.Event()
    release.set()

    async def slow_render(wall: str, lang: str) -> str:
        state = await walls.render(wall, lang)  # the state as it is when the render starts
        rendering.set()
        await release.wait()
        return state

    hub = WallHub(slow_render, walls.read_tokens, refresh=3600)
    page = hub.stream("nord", "da", "t-nord")
    await anext(page)
    release.clear()
    rendering.clear()
    walls.version = 1
    hub.on_event(InputChanged(InputChange.ADDED, "nord", 1))
    await asyncio.wait_for(rendering.wait(), 2)
    walls.version = 2  # committed while version 1 is being rendered
    hub.on_event(InputChanged(InputChange.ADDED, "nord", 2))
    release.set()
    assert (
        await asyncio.wait_for(anext(page), 2)
        == b"event: state\ndata: nord da v1\ndata: second line\n\n"
    )
    # The last change of a burst: nothing else happens, and it still reaches the page.
    assert (
        await asyncio.wait_for(anext(page), 2)
        == b"event: state\ndata: nord da v2\ndata: second line\n\n"
    )
    await page.aclose()
    await hub.stop()


async def test_a_quiet_stream_sends_a_ping_and_still_the_next_change() -> None:
    walls = FakeWalls()
    hub = WallHub(walls.render, walls.read_tokens, refresh=3600, ping=0.05)
    page = hub.stream("nord", "da", "t-nord")
    await anext(page)
    assert await asyncio.wait_for(anext(page), 2) == b": ping\n\n"
    walls.version = 1
    hub.on_event(InputChanged(InputChange.ADDED, "nord", 1))
    frame = await asyncio.wait_for(anext(page), 2)
    while frame == b": ping\n\n":
        frame = await asyncio.wait_for(anext(page), 2)
    assert frame == b"event: state\ndata: nord da v1\ndata: second line\n\n"
    await page.aclose()
    await hub.stop()
