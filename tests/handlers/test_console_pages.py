"""The facilitators' console over HTTP (in-process, httpx): the one-time link from /console,
the session it opens, what is refused, and each action's result in the database and the
outbox — through the same services as the chat."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from urllib.parse import urlsplit

import httpx
import pytest
from pydantic import SecretStr

from bot.clock import ManualClock
from bot.config import Settings
from bot.event import Event
from bot.models import UserRef
from bot.sandbox import FakeBotApi, FakeUser
from bot.sandbox.harness import BotHarness
from tests.handlers.conftest import ORGANISER_ID, TOKEN
from tests.handlers.helpers import at, become_facilitator, check_in, run_until
from tests.handlers.test_inputs import with_event
from tests.waiting import eventually
from web.app import build_web_app
from web.console import PREFIX, SECURE_COOKIE, Console
from web.live import WallHub
from web.pages import ConsolePages, Pages
from web.walls import Walls

BASE = "https://samtidig.test"
LINK = re.compile(r"https://samtidig\.test/console/login/[A-Za-z0-9_-]+")

World = tuple[BotHarness, Console, httpx.AsyncClient]


@pytest.fixture
async def world(tmp_path: object, seed_event: Event, clock: ManualClock) -> AsyncIterator[World]:
    settings = Settings(
        _env_file=None,
        telegram_bot_token=SecretStr(TOKEN),
        database_path=f"{tmp_path}/bot.sqlite3",
        organizer_ids=frozenset({ORGANISER_ID}),
        public_url=BASE,
    )
    event = with_event(seed_event, wall={"inputs": "all"})
    async with BotHarness.running(settings, api=FakeBotApi(TOKEN), event=event, clock=clock) as h:
        services = h.services
        pages = Pages(services.texts, event.tz)
        walls = Walls(services.walls, pages, services.clock)
        console = Console(services, ConsolePages(pages), walls.hub)
        services.live.subscribe(walls.hub.on_event)
        app = build_web_app(lambda: asyncio.sleep(0, None), walls=walls, console=console)  # type: ignore[arg-type]
        transport = httpx.ASGITransport(app=app, client=("198.51.100.7", 50000))
        async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
            yield h, console, client
        await walls.hub.stop()


async def day(harness: BotHarness, clock: ManualClock) -> tuple[FakeUser, FakeUser]:
    """A facilitator of Aalborg, a participant who answered the open question."""
    event = harness.services.event
    host = harness.api.user(690, "Vært", language_code="da")
    await become_facilitator(harness, event, host, "aalborg")
    anna = harness.api.user(601, "Anna Andersen", language_code="da")
    await check_in(harness, anna, "aalborg-t2")
    await run_until(harness, harness.services.clock, at(event, "13:41"))  # type: ignore[arg-type]
    anna.send("Politikerne skal sætte rammen")
    await harness.settle()
    return host, anna


async def link_of(harness: BotHarness, user: FakeUser) -> str:
    user.send("/console")
    await harness.settle()
    found = LINK.search(user.last()["text"])
    assert found, user.last()["text"]
    return urlsplit(found.group(0)).path


async def signed_in(harness: BotHarness, client: httpx.AsyncClient, user: FakeUser) -> str:
    """Open the console with a fresh link; the page's CSRF token."""
    answer = await client.get(await link_of(harness, user))
    assert answer.status_code == 303
    page = await client.get("/console")
    assert page.status_code == 200
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found
    return found.group(1)


def input_id(harness: BotHarness, text: str) -> int:
    [(found,)] = harness.query("SELECT id FROM inputs WHERE text = ?", (text,))
    return int(found)


def state_of(harness: BotHarness, number: int) -> str:
    [(state,)] = harness.query("SELECT state FROM inputs WHERE id = ?", (number,))
    return str(state)


async def test_console_sends_a_one_time_link_to_facilitators_and_refuses_others(
    world: World, clock: ManualClock
) -> None:
    harness, console, _ = world
    host, anna = await day(harness, clock)
    path = await link_of(harness, host)
    assert "for dig" in host.last()["text"]
    assert "10 minutter" in host.last()["text"]
    token = path.rsplit("/", 1)[1]
    # Only a hash is stored: the database alone opens no console.
    stored = harness.query("SELECT token_hash, user_id FROM console_links")
    assert stored == [(stored[0][0], 690)]
    assert token not in stored[0][0]

    anna.send("/console")
    await harness.settle()
    assert "for facilitatorer og arrangører" in anna.last()["text"]

    console.service.public_url = None
    host.send("/console")
    await harness.settle()
    assert "PUBLIC_URL" in host.last()["text"]


async def test_a_link_opens_one_session_once_with_a_safe_cookie(
    world: World, clock: ManualClock
) -> None:
    harness, _, client = world
    host, _ = await day(harness, clock)
    path = await link_of(harness, host)
    first = await client.get(path)
    assert first.status_code == 303
    assert first.headers["location"] == "/console"
    cookie = first.headers["set-cookie"]
    assert cookie.startswith("__Host-samtidig_console=")
    for part in ("HttpOnly", "Secure", "SameSite=lax", "Path=/"):
        assert part in cookie
    session_id = cookie.split("=", 1)[1].split(";", 1)[0]
    [(stored,)] = harness.query("SELECT session_hash FROM console_sessions")
    assert session_id not in stored

    page = await client.get("/console")
    assert page.status_code == 200
    assert "Politikerne skal sætte rammen" in page.text
    assert "Aalborg" in page.text
    assert "· 13.41</p>" in page.text  # when it came, as Danish writes a clock time

    client.cookies.clear()
    again = await client.get(path)
    assert again.status_code == 403
    assert "Linket til konsollen er brugt eller udløbet" in again.text
    assert (
        "set-cookie" not in again.headers or 'samtidig_console=""' in again.headers["set-cookie"]
    )
    assert (await client.get("/console")).status_code == 401
    assert harness.query("SELECT COUNT(*) FROM console_sessions") == [(1,)]


async def test_an_expired_link_and_a_forged_cookie_get_the_plain_refusal(
    world: World, clock: ManualClock
) -> None:
    harness, _, client = world
    host, _ = await day(harness, clock)
    path = await link_of(harness, host)
    clock.advance(timedelta(minutes=10, seconds=1))
    english = {"Accept-Language": "en-GB,en;q=0.9"}
    expired = await client.get(path, headers=english)
    assert expired.status_code == 403
    # In its person's language (Danish), whatever the browser asks for.
    assert "Linket til konsollen er brugt eller udløbet" in expired.text
    assert "Politikerne" not in expired.text
    unknown = await client.get("/console/login/" + "x" * 43, headers=english)
    assert unknown.status_code == 403
    assert "This console link has been used or has expired" in unknown.text  # the browser's
    assert harness.query("SELECT COUNT(*) FROM console_sessions") == [(0,)]

    client.cookies.set("__Host-samtidig_console", "forged-" + "A" * 40, domain="samtidig.test")
    for url in ("/console", "/console/live?site=aalborg", "/console/export/csv?site=aalborg"):
        forged = await client.get(url)
        assert forged.status_code == 401, url
        assert "Linket til konsollen" in forged.text
        assert "Politikerne" not in forged.text


async def test_the_login_endpoint_is_rate_limited_per_client_address(world: World) -> None:
    _, console, client = world
    answers = [(await client.get(f"/console/login/guess{n}")).status_code for n in range(22)]
    assert answers[:20] == [403] * 20
    assert answers[20:] == [429, 429]
    limiter = console.service.limiter
    assert limiter.admit("203.0.113.9")  # another address is not held up
    assert not limiter.admit("198.51.100.7", now=time.monotonic() + 30)
    assert limiter.admit("198.51.100.7", now=time.monotonic() + 61)  # the window slid on


async def test_an_open_live_console_closes_when_the_role_is_revoked(
    world: World, clock: ManualClock
) -> None:
    harness, console, client = world
    host, _ = await day(harness, clock)
    await signed_in(harness, client, host)
    hub = WallHub(console.render, console.services.walls.tokens, refresh=0.05)
    hub.add_view(PREFIX, console.render, console.service.still_open)
    hub.start()
    session = await console.service.open(client.cookies.get(SECURE_COOKIE))
    assert session is not None
    stream = hub.stream(PREFIX + "aalborg", "da", session.session_hash)
    first = (await anext(stream)).decode()
    assert "Politikerne skal sætte rammen" in first
    # Several checks pass while the role holds: the page stays open.
    before = hub.renders
    await eventually(lambda: hub.renders >= before + 3, what="three refreshes")
    assert hub.open_pages == 1
    await harness.services.roles.revoke(690, None)
    gone = await asyncio.wait_for(anext(stream), 5)
    while gone.startswith((b": ping", b"event: state")):
        gone = await asyncio.wait_for(anext(stream), 5)
    assert gone.decode().startswith("event: gone")
    await hub.stop()


async def test_a_change_without_the_right_csrf_token_or_from_elsewhere_is_refused(
    world: World, clock: ManualClock
) -> None:
    harness, _, client = world
    host, _ = await day(harness, clock)
    csrf = await signed_in(harness, client, host)
    number = input_id(harness, "Politikerne skal sætte rammen")
    hide = {"one": f"hide:{number}", "site": "aalborg"}
    for form, headers in (
        (hide, {}),
        (hide | {"csrf": "wrong"}, {}),
        (hide | {"csrf": csrf}, {"Origin": "https://evil.test"}),
        (hide | {"csrf": csrf}, {"Sec-Fetch-Site": "cross-site"}),
    ):
        answer = await client.post("/console/moderate", data=form, headers=headers)
        assert answer.status_code == 403
        assert state_of(harness, number) == "visible"
    assert (await client.get("/console/moderate")).status_code == 405  # changes are POSTs

    done = await client.post(
        "/console/moderate", data=hide | {"csrf": csrf}, headers={"Origin": BASE}
    )
    assert done.status_code == 303
    assert state_of(harness, number) == "hidden"


async def test_a_facilitator_of_another_site_can_neither_see_nor_change_it(
    world: World, clock: ManualClock
) -> None:
    harness, _, client = world
    _, _ = await day(harness, clock)
    other = harness.api.user(691, "Vært KBH", language_code="da")
    await become_facilitator(harness, harness.services.event, other, "kobenhavn")
    csrf = await signed_in(harness, client, other)
    page = await client.get("/console?site=aalborg")
    assert "Politikerne skal sætte rammen" not in page.text  # their own site instead
    number = input_id(harness, "Politikerne skal sætte rammen")
    star = await client.post(
        "/console/moderate", data={"one": f"star:{number}", "site": "kobenhavn", "csrf": csrf}
    )
    assert star.status_code == 303
    assert "done=not_allowed" in star.headers["location"]
    assert harness.query("SELECT COUNT(*) FROM input_stars") == [(0,)]
    pause = await client.post(
        "/console/agenda", data={"action": "pause", "site": "aalborg", "csrf": csrf}
    )
    assert pause.status_code == 403
    assert harness.query("SELECT COUNT(*) FROM agenda_pauses") == [(0,)]
    refused = await client.get("/console/export/csv?site=aalborg")
    assert refused.status_code == 403


async def test_a_revoked_role_is_refused_at_the_next_request(
    world: World, clock: ManualClock
) -> None:
    harness, _, client = world
    host, _ = await day(harness, clock)
    csrf = await signed_in(harness, client, host)
    await harness.services.roles.revoke(690, None)
    assert (await client.get("/console")).status_code == 401
    number = input_id(harness, "Politikerne skal sætte rammen")
    answer = await client.post(
        "/console/moderate", data={"one": f"hide:{number}", "site": "aalborg", "csrf": csrf}
    )
    assert answer.status_code == 401
    assert state_of(harness, number) == "visible"


async def test_star_hide_and_show_one_or_several_as_the_chat_buttons_do(
    world: World, clock: ManualClock
) -> None:
    harness, _, client = world
    host, anna = await day(harness, clock)
    anna.send("Et andet input")
    await harness.settle()
    csrf = await signed_in(harness, client, host)
    first = input_id(harness, "Politikerne skal sætte rammen")
    second = input_id(harness, "Et andet input")

    star = await client.post(
        "/console/moderate",
        data={"one": f"star:{first}", "site": "aalborg", "csrf": csrf},
        headers={"Accept": "application/json"},
    )
    assert star.json() == {"notice": "1 input er opdateret."}
    assert harness.query("SELECT input_id, user_id FROM input_stars") == [(first, 690)]
    assert harness.query("SELECT input_id, reason FROM highlights") == [(first, "star")]

    both = await client.post(
        "/console/moderate",
        data={
            "action": "hide",
            "input": [str(first), str(second), str(first)],  # each once, however often named
            "site": "aalborg",
            "csrf": csrf,
        },
    )
    assert both.status_code == 303
    assert both.headers["location"] == "/console?site=aalborg&done=moderated&n=2"
    assert {state_of(harness, first), state_of(harness, second)} == {"hidden"}
    page = (await client.get(both.headers["location"])).text
    assert "2 input er opdateret." in page
    assert page.count('<span class="badge">Skjult</span>') == 2  # hidden ones stay, marked

    await client.post(
        "/console/moderate", data={"one": f"show:{second}", "site": "aalborg", "csrf": csrf}
    )
    assert state_of(harness, second) == "visible"
    assert harness.query(
        "SELECT state_changed_by FROM inputs WHERE id IN (?, ?)", (first, second)
    ) == [(690,), (690,)]


async def test_the_agenda_actions_change_the_programme_and_queue_its_messages(
    world: World, clock: ManualClock
) -> None:
    harness, _, client = world
    host, anna = await day(harness, clock)
    csrf = await signed_in(harness, client, host)
    pushes = len(harness.query("SELECT id FROM outbox WHERE user_id = 601"))

    async def agenda(**form: str) -> str:
        answer = await client.post(
            "/console/agenda",
            data={"site": "aalborg", "csrf": csrf, **form},
            headers={"Accept": "application/json"},
        )
        assert answer.status_code == 200
        return str(answer.json()["notice"])

    assert await agenda(action="pause") == "Programmet er sat på pause."
    assert harness.query("SELECT site_key, paused_by FROM agenda_pauses") == [("aalborg", 690)]
    assert await agenda(action="pause") == "Programmet var allerede sat på pause."
    assert await agenda(action="resume") == "Programmet fortsætter."
    assert harness.query("SELECT COUNT(*) FROM agenda_pauses") == [(0,)]
    assert await agenda(action="delay", minutes="0") == (
        "Skriv et antal minutter mellem -180 og 180, ikke 0."
    )
    assert await agenda(action="delay", minutes="10") == "Programmet er flyttet 10 min."
    assert await agenda(action="next") == "Næste punkt er startet."
    await harness.settle()
    shifts = harness.query("SELECT reason, created_by FROM agenda_shifts ORDER BY id")
    assert ("delay", 690) in shifts
    assert ("next", 690) in shifts
    assert len(harness.query("SELECT id FROM outbox WHERE user_id = 601")) > pushes
    assert anna.inbox()  # the next item reached the participant through the outbox


async def test_a_delay_sent_without_the_script_lands_on_the_console_saying_how_far(
    world: World, clock: ManualClock
) -> None:
    harness, _, client = world
    host, _ = await day(harness, clock)
    csrf = await signed_in(harness, client, host)
    form = {"site": "aalborg", "csrf": csrf, "action": "delay", "minutes": "-5"}
    answer = await client.post("/console/agenda", data=form, follow_redirects=True)
    assert answer.status_code == 200
    assert "Programmet er flyttet -5 min." in answer.text
    assert harness.query("SELECT seconds, created_by FROM agenda_shifts") == [(-300, 690)]


async def test_a_link_issued_until_a_given_moment_outlives_ten_minutes_and_still_opens_once(
    world: World, clock: ManualClock
) -> None:
    harness, console, client = world
    host, _ = await day(harness, clock)
    await link_of(harness, host)  # the chat's link: host is a facilitator now
    end = clock.now() + timedelta(hours=3)
    link = await console.service.issue_link(
        UserRef(690, 690, "Vært"), valid_until=end, base="http://127.0.0.1:8080"
    )
    assert link.url is not None
    assert link.url.startswith(f"{BASE}/console/login/")  # PUBLIC_URL, when set, comes first
    clock.advance(timedelta(hours=2, minutes=59))
    assert (await client.get(urlsplit(link.url).path)).status_code == 303
    client.cookies.clear()
    assert (await client.get(urlsplit(link.url).path)).status_code == 403

    console.service.public_url = None
    late = await console.service.issue_link(UserRef(690, 690, "Vært"), base="http://[::1]:80/")
    assert late.url is not None
    assert late.url.startswith("http://[::1]:80/console/login/")
    clock.advance(timedelta(minutes=10, seconds=1))  # without an end: the live ten minutes
    assert (await client.get(urlsplit(late.url).path)).status_code == 403


async def test_an_adhoc_question_and_a_broadcast_with_its_preview(
    world: World, clock: ManualClock
) -> None:
    harness, _, client = world
    host, anna = await day(harness, clock)
    csrf = await signed_in(harness, client, host)
    asked = await client.post(
        "/console/prompt",
        data={"site": "aalborg", "table": "t2", "text": "Hvad mangler I?", "csrf": csrf},
    )
    assert asked.status_code == 303
    assert asked.headers["location"] == "/console?site=aalborg&done=prompt&n=1"
    assert harness.query("SELECT site_key, group_key, text FROM adhoc_prompts") == [
        ("aalborg", "t2", "Hvad mangler I?")
    ]
    await harness.settle()
    assert "Hvad mangler I?" in anna.last()["text"]

    preview = await client.post(
        "/console/broadcast", data={"site": "aalborg", "text": "Kaffe <nu>", "csrf": csrf}
    )
    assert preview.status_code == 200
    assert "Kaffe &lt;nu&gt;" in preview.text
    assert "Til 1 deltager i Aalborg:" in preview.text
    [(broadcast_id, sent)] = harness.query("SELECT id, sent_at FROM broadcasts")
    assert sent is None
    send = await client.post(
        f"/console/broadcast/{broadcast_id}",
        data={"site": "aalborg", "action": "send", "csrf": csrf},
    )
    assert send.headers["location"] == "/console?site=aalborg&done=sent&n=1"
    await harness.settle()
    assert "Kaffe" in anna.last()["text"]
    again = await client.post(
        f"/console/broadcast/{broadcast_id}",
        data={"site": "aalborg", "action": "send", "csrf": csrf},
    )
    assert "done=stale" in again.headers["location"]


async def test_an_export_is_the_chats_file_streamed_to_the_browser(
    world: World, clock: ManualClock
) -> None:
    harness, _, client = world
    host, _ = await day(harness, clock)
    await signed_in(harness, client, host)
    answer = await client.get("/console/export/csv?site=aalborg")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    assert 'filename="' in answer.headers["content-disposition"]
    assert "Politikerne skal sætte rammen" in answer.text
    assert (await client.get("/console/export/md?site=aalborg")).status_code == 404


async def test_an_organiser_switches_sites_and_sees_every_site_live(
    world: World, clock: ManualClock
) -> None:
    harness, console, client = world
    await day(harness, clock)
    olga = harness.api.user(ORGANISER_ID, "Olga", language_code="da")
    await signed_in(harness, client, olga)
    page = (await client.get("/console?site=%2A")).text
    assert page.count('class="site-card"') == 2
    assert 'href="/console?site=kobenhavn"' in page
    stream = console.hub.stream("console:aalborg", "da", "not-checked-here")
    first = (await anext(stream)).decode()
    assert "Politikerne skal sætte rammen" in first
    assert 'data-part="feed"' in first
    await stream.aclose()
