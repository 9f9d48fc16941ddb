"""`rehearse --serve`: the walls and the console served while the simulated afternoon runs."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from pathlib import Path

import httpx

from bot.eventfile import SEED_EVENT, load_event
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
        await eventually(lambda: any("Organiser" in a for a in announced), what="the links")
        urls = dict(line.strip().split(": ", 1) for line in announced if "/wall/" in line)
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


# The process runs in a temporary folder: the code under test is this checkout's, not
# whichever one the virtual environment was installed from.
ROOT = Path(__file__).resolve().parents[1]


async def _line(process: asyncio.subprocess.Process, printed: list[str]) -> str:
    assert process.stdout is not None
    line = await asyncio.wait_for(process.stdout.readline(), 60)
    assert line, "the rehearsal ended before printing its links:\n" + "".join(printed)
    printed.append(line.decode())
    return printed[-1]


async def test_the_printed_organiser_link_opens_the_console_once_for_the_whole_rehearsal(
    tmp_path: Path,
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "PUBLIC_"))}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    log = (tmp_path / "stderr.log").open("wb")
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *("-m", "bot", "rehearse", "--serve", "--port", "0", "--participants", "6"),
        *("--speed", "600", "--out", str(tmp_path / "out")),  # 3.5 event hours in ~25 s
        env=env,
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=log,
    )
    log.close()
    printed: list[str] = []
    try:
        while "Organiser" not in await _line(process, printed):
            pass
        links = dict(line.strip().split(": ", 1) for line in printed if "http" in line)
        assert set(links) == {
            "Aalborg",
            "København",
            "Alle steder",
            "Aalborg, facilitator",
            "København, facilitator",
            "Organiser, every site",
        }
        login = links["Organiser, every site"]
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/console/login/[\w-]{43}", login)
        items = {item.title.get("da", "da") for item in load_event(SEED_EVENT).agenda}
        async with httpx.AsyncClient(follow_redirects=True, timeout=30) as client:

            async def programme_started() -> bool:
                wall = (await client.get(links["Aalborg"])).text
                title = re.search(r'<h2 class="title">([^<]+)</h2>', wall)
                return title is not None and title.group(1) in items

            # Half an event hour passes before the first item: far past a live link's ten
            # minutes.
            while not await programme_started():
                assert process.returncode is None
                await asyncio.sleep(0.1)
            console = await client.get(login)
            assert console.status_code == 200
            assert str(console.url).endswith("/console")
            assert 'href="/console?site=%2A"' in console.text  # the overview of every site
            for name in ("Aalborg", "København"):
                assert name in console.text
            csrf = re.search(r'name="csrf" value="([^"]+)"', console.text)
            assert csrf is not None
            # An action on the console acts on the rehearsal, as in a live event.
            delayed = await client.post(
                str(console.url.copy_with(path="/console/agenda", query=None)),
                data={"csrf": csrf.group(1), "site": "kobenhavn", "action": "delay"}
                | {"minutes": "7"},
                headers={"origin": str(console.url.copy_with(path="", query=None))},
            )
            assert delayed.status_code == 200

            async with httpx.AsyncClient() as stranger:  # the link, opened a second time
                again = await stranger.get(login)
            assert again.status_code == 403
            assert "Linket til konsollen er brugt eller udløbet" in again.text
            assert "Start generalprøven igen for at få nye links." in again.text
            assert "Skriv /console" not in again.text  # no bot to ask in a rehearsal
        assert process.stdout is not None
        report = (await asyncio.wait_for(process.stdout.read(), 120)).decode()
        assert await asyncio.wait_for(process.wait(), 30) == 0
        assert "programme moved +7 min by the facilitator" in report
    finally:
        if process.returncode is None:
            process.terminate()
            await process.wait()
