"""The walls in a real browser, against the real bot process and the fake Bot API.

A participant answers in Telegram and their site's wall shows it within 1 s of the commit;
a facilitator stars it (the chat's ⭐ button) and another site's wall shows it with its
provenance within 2 s; a hide removes it from every wall; a restart of the bot and the
walls recover by themselves; a wrong token is a 404; axe-core finds nothing serious.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

from playwright.async_api import Page, expect

from storage.timestamps import from_db
from tests.browser.conftest import ORGANISER_ID, Stack
from tests.waiting import eventually

log = logging.getLogger(__name__)
AXE = Path(__file__).parent / "vendor" / "axe.min.js"
SERIOUS = "['serious', 'critical']"


async def open_wall(stack: Stack, wall: str, width: int = 1920, height: int = 1080) -> Page:
    tokens = await eventually(stack.tokens, what="the walls' tokens")
    page = await stack.browser.new_page(viewport={"width": width, "height": height})
    await page.goto(f"{stack.base}/wall/{tokens[wall]}")
    await expect(page.locator("#offline")).to_be_hidden()
    return page


async def live(page: Page) -> None:
    """Wait until the page's stream is open (so a change cannot slip in before it)."""
    await page.locator("html[data-live=open]").wait_for(state="attached")


async def host_of(stack: Stack, site: str, user_id: int) -> None:
    host = stack.api.user(user_id, f"Vært {site}", language_code="da")
    codes = {"nord": "vaert-nord-0000001", "midt": "vaert-midt-0000002"}
    await stack.said(host, f"/start {codes[site]}", 0)
    stack.people[f"host-{site}"] = host


async def press(stack: Stack, who: str, text: str, label: str) -> None:
    """Press the button starting with `label` on the feed card that shows `text`."""
    user = stack.people[who]
    card = next(m for m in reversed(user.inbox()) if text in m.get("text", ""))
    current = stack.api.message(card["chat"]["id"], card["message_id"])
    rows = current.get("reply_markup", {}).get("inline_keyboard", [])
    data = next(b["callback_data"] for row in rows for b in row if b["text"].startswith(label))
    user.press(current, data)


def fed(stack: Stack, host: str, text: str) -> bool:
    """The site's facilitator has the feed card of `text`."""
    return any(text in m.get("text", "") for m in stack.people[host].inbox())


async def test_an_answer_reaches_the_walls_is_starred_across_and_hidden_everywhere(
    stack: Stack,
) -> None:
    await host_of(stack, "nord", 801)
    anna = stack.api.user(701, "Anna Nord", language_code="da")
    await stack.check_in(anna, "nord-t1")
    nord = await open_wall(stack, "nord")
    midt = await open_wall(stack, "midt")
    everyone = await open_wall(stack, "*")
    for page in (nord, midt, everyone):
        await live(page)

    answer = "Politikerne skal lytte til borgerne"
    anna.send(answer)
    card = nord.locator(".inputs .card", has_text=answer)
    await card.wait_for(timeout=10_000)
    shown = datetime.now(UTC)
    [(created,)] = stack.query("SELECT created_at FROM inputs WHERE text = ?", (answer,))
    latency = (shown - from_db(created)).total_seconds()
    log.info("input committed → on its site's wall: %.0f ms", latency * 1000)
    assert latency < 1.0
    await expect(card).to_contain_text("politiker")  # role_only: the role, never the name
    await expect(nord.locator("body")).not_to_contain_text("Anna Nord")

    await eventually(partial(fed, stack, "host-nord", answer), what="the feed card")
    started = time.monotonic()
    await press(stack, "host-nord", answer, "⭐")
    arriving = midt.locator(".arriving .card", has_text=answer)
    await arriving.wait_for(timeout=10_000)
    log.info("star pressed → on another site's wall: %.2f s", time.monotonic() - started)
    assert time.monotonic() - started < 2.0
    await expect(arriving).to_contain_text("fra Nord")
    await expect(everyone.locator(".column", has_text="Nord")).to_contain_text(answer)

    started = time.monotonic()
    await press(stack, "host-nord", answer, "🙈")
    for page in (nord, midt, everyone):
        await expect(page.locator("main")).not_to_contain_text(answer, timeout=10_000)
    log.info("hide pressed → gone from every wall: %.2f s", time.monotonic() - started)
    assert time.monotonic() - started < 2.0  # the press travels through Telegram first

    # A restart: the pages notice, reconnect by themselves and follow again.
    await stack.stop()
    await expect(nord.locator("#offline")).to_be_visible(timeout=10_000)
    await stack.start()
    await expect(nord.locator("#offline")).to_be_hidden(timeout=15_000)
    again = "Efter genstarten"
    anna.send(again)
    await nord.locator(".inputs .card", has_text=again).wait_for(timeout=15_000)


async def test_wrong_tokens_are_404_and_the_walls_pass_axe_at_projector_sizes(
    stack: Stack,
) -> None:
    tokens = await eventually(stack.tokens, what="the walls' tokens")
    page = await stack.browser.new_page()
    for wrong in ("nope", tokens["nord"][:-1] + "A", tokens["nord"] + "x"):
        answer = await page.goto(f"{stack.base}/wall/{wrong}")
        assert answer is not None
        assert answer.status == 404
        assert "content-security-policy" in answer.headers
    good = await page.goto(f"{stack.base}/wall/{tokens['nord']}")
    assert good is not None
    assert good.status == 200
    assert "script-src 'self'" in good.headers["content-security-policy"]

    await host_of(stack, "nord", 801)
    await host_of(stack, "midt", 802)
    people = [
        ("nord-t1", 711, "Vi mangler tid til at tænke langsigtet"),
        ("nord-t2", 712, "Borgerne skal med fra begyndelsen"),
        ("midt-t1", 713, "Politikerne skal turde eksperimentere"),
        ("midt-t2", 714, "Lad forvaltningen vise prototyper tidligt"),
    ]
    for code, user_id, text in people:
        person = stack.api.user(user_id, f"Deltager {user_id}", language_code="da")
        await stack.check_in(person, code)
        person.send(text)
    for code, _, text in people:
        host = f"host-{code.split('-')[0]}"
        await eventually(partial(fed, stack, host, text), what="the feed card")
        await press(stack, host, text, "⭐")
    await eventually(
        lambda: stack.query("SELECT COUNT(*) FROM highlights") == [(4,)], what="highlights"
    )

    for width, height in ((1920, 1080), (1280, 720)):
        wall = await open_wall(stack, "nord", width, height)
        await expect(wall.locator(".arriving .card")).to_have_count(2)
        await wall.screenshot(path=stack.screenshots / f"wall-{width}x{height}.png")
        await wall.close()

    organiser = stack.api.user(ORGANISER_ID, "Olga", language_code="da")
    for site in ("nord", "midt", "syd"):
        await stack.said(organiser, f"/next {site}", len(organiser.inbox()))
    crosscheck = await open_wall(stack, "nord")
    await expect(crosscheck.locator(".crosscheck .column")).to_have_count(3)
    await crosscheck.screenshot(path=stack.screenshots / "wall-crosscheck-1920x1080.png")
    everyone = await open_wall(stack, "*")
    await expect(everyone.locator(".column")).to_have_count(3)
    await everyone.screenshot(path=stack.screenshots / "all-sites-crosscheck-1920x1080.png")

    # axe-core needs its script in the page: a context of its own that ignores the CSP.
    context = await stack.browser.new_context(
        bypass_csp=True, viewport={"width": 1920, "height": 1080}
    )
    for key in ("nord", "*"):
        checked = await context.new_page()
        await checked.goto(f"{stack.base}/wall/{tokens[key]}")
        await checked.add_script_tag(path=str(AXE))
        found = await checked.evaluate(
            "async () => (await axe.run()).violations"
            f".filter(v => {SERIOUS}.includes(v.impact))"
            ".map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).join(', '))"
        )
        assert found == [], (key, found)
    await context.close()
