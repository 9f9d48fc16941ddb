"""`rehearse --serve`: the walls served while the simulated afternoon runs."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import httpx

from bot.eventfile import SEED_EVENT
from bot.sandbox.rehearsal import rehearse
from tests.waiting import eventually
from web.server import Listen


async def test_the_walls_are_served_and_follow_the_rehearsal_while_it_runs(
    tmp_path: Path,
) -> None:
    announced: list[str] = []
    run = asyncio.create_task(
        rehearse(
            SEED_EVENT,
            participants=6,
            speed=3000,  # three and a half hours in about four seconds
            out=tmp_path / "out",
            serve=Listen("127.0.0.1", 0),
            announce=announced.append,
        )
    )
    try:
        await eventually(lambda: len(announced) == 3, what="the walls' URLs")
        urls = dict(line.strip().split(": ", 1) for line in announced)
        assert set(urls) == {"Aalborg", "København", "Alle steder"}
        assert all(
            re.fullmatch(r"http://127\.0\.0\.1:\d+/wall/[\w-]{32}", u) for u in urls.values()
        )
        titles: set[str] = set()
        async with httpx.AsyncClient() as client:

            async def title() -> str:
                page = await client.get(urls["Aalborg"])
                assert page.status_code == 200
                found = re.search(r'<h2 class="title">([^<]+)</h2>', page.text)
                assert found is not None
                return found.group(1)

            while not run.done() and len(titles) < 3:
                titles.add(await title())
                await asyncio.sleep(0.05)
        assert len(titles) >= 3, titles  # the programme moved on under the page
    finally:
        await run
