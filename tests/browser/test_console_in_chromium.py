"""The facilitators' console in a real browser, against the real bot process.

A facilitator asks the bot for /console, opens the link, stars an input on the console and
the other site's wall shows it with its provenance within 2 s; a hide by keyboard removes it
from every wall; a used link and no session are refused; axe-core finds nothing serious; at
390 px wide nothing scrolls sideways and the actions are in reach.
"""

from __future__ import annotations

import logging
import re
import time

from playwright.async_api import Page, expect

from tests.browser.conftest import Stack
from tests.browser.test_walls_in_chromium import AXE, SERIOUS, host_of, live, open_wall

log = logging.getLogger(__name__)
LINK = re.compile(r"http://127\.0\.0\.1:\d+/console/login/[A-Za-z0-9_-]+")


async def console_link(stack: Stack, who: str) -> str:
    user = stack.people[who]
    answer = await stack.said(user, "/console", len(user.inbox()))
    found = LINK.search(answer.get("text", ""))
    assert found, answer
    return found.group(0)


async def no_sideways_scroll(page: Page) -> bool:
    return bool(
        await page.evaluate(
            "() => document.documentElement.scrollWidth <= document.documentElement.clientWidth"
        )
    )


async def test_a_facilitator_runs_the_site_from_the_console(stack: Stack) -> None:
    await host_of(stack, "nord", 801)
    anna = stack.api.user(701, "Anna Nord", language_code="da")
    await stack.check_in(anna, "nord-t1")
    answer = "Politikerne skal lytte til borgerne"
    anna.send(answer)
    other = "Vi vil have flere borgermøder"
    anna.send(other)

    nord = await open_wall(stack, "nord")
    midt = await open_wall(stack, "midt")
    for wall in (nord, midt):
        await live(wall)

    link = await console_link(stack, "host-nord")
    console = await stack.browser.new_page(viewport={"width": 1280, "height": 900})
    opened = await console.goto(link)
    assert opened is not None
    assert opened.status == 200
    assert console.url == f"{stack.base}/console"
    await live(console)
    item = console.locator(".item", has_text=answer)
    await item.wait_for(timeout=10_000)

    started = time.monotonic()
    await item.locator(".act-star").click()
    arriving = midt.locator(".arriving .card", has_text=answer)
    await arriving.wait_for(timeout=10_000)
    took = time.monotonic() - started
    log.info("star clicked on the console → on another site's wall: %.2f s", took)
    assert took < 2.0
    await expect(arriving).to_contain_text("fra Nord")
    await expect(console.locator("#notice")).to_contain_text("1 input er opdateret.")
    await expect(item.locator(".stars")).to_contain_text("★ 1")

    # The keyboard: j twice (the newest input, then the starred one below it), h hides it.
    await console.locator("body").press("j")
    await console.locator("body").press("j")
    await expect(item).to_have_class(re.compile(r"\bcurrent\b"))
    started = time.monotonic()
    await console.keyboard.press("h")
    for wall in (nord, midt):
        await expect(wall.locator("main")).not_to_contain_text(answer, timeout=10_000)
    took = time.monotonic() - started
    log.info("h pressed on the console → gone from every wall: %.2f s", took)
    assert took < 2.0
    await expect(item.locator(".badge")).to_have_text("Skjult")  # still in the feed, marked
    assert stack.query("SELECT state FROM inputs WHERE text = ?", (answer,)) == [("hidden",)]

    # Several at once: both checked, one click, each pressed once — a star is a toggle, as
    # the chat's ⭐: the starred one loses its star, the other gets one.
    for tick in await console.locator(".item input[type=checkbox]").all():
        await tick.check()
    await console.get_by_role("button", name="Giv de valgte en stjerne").click()
    await expect(console.locator("#notice")).to_contain_text("2 input er opdateret.")
    starred = "SELECT i.text FROM input_stars s JOIN inputs i ON i.id = s.input_id"
    assert stack.query(starred) == [(other,)]
    await expect(console.locator(".item input[type=checkbox]:checked")).to_have_count(0)

    # Filters, live in the browser: only the other input is left.
    await console.locator("#filter-text").fill("borgermøder")
    await expect(console.locator(".item:not(.filtered-out)")).to_have_count(1)
    await console.locator("#filter-text").fill("")
    await console.locator("#filter-text").blur()
    await console.screenshot(path=stack.screenshots / "console-1280x900.png", full_page=True)

    # The link worked once; another browser without a session is refused, in words.
    stranger = await stack.browser.new_context(locale="da-DK")
    tab = await stranger.new_page()
    used = await tab.goto(link)
    assert used is not None
    assert used.status == 403
    await expect(tab.locator("h1")).to_contain_text("Linket til konsollen er brugt eller udløbet")
    bare = await tab.goto(f"{stack.base}/console")
    assert bare is not None
    assert bare.status == 401
    await expect(tab.locator("body")).not_to_contain_text(other)
    await stranger.close()

    # A phone: 390 px wide, nothing scrolls sideways, the actions are in reach.
    phone = await stack.browser.new_context(
        viewport={"width": 390, "height": 844}, bypass_csp=True, is_mobile=True, has_touch=True
    )
    small = await phone.new_page()
    await small.goto(await console_link(stack, "host-nord"))
    await small.locator(".item", has_text=other).wait_for()
    assert await no_sideways_scroll(small)
    for button in (
        small.locator(".item", has_text=other).locator(".act-star"),
        small.locator("button[value=next]"),
        small.locator("button[value=delay]"),
        small.locator(".adhoc button[type=submit]"),
    ):
        await button.scroll_into_view_if_needed()
        box = await button.bounding_box()
        assert box is not None
        assert box["x"] >= 0
        assert box["x"] + box["width"] <= 390
        assert box["height"] >= 44
    await small.screenshot(path=stack.screenshots / "console-390.png")

    # axe-core in the page (this context ignores the CSP for its script).
    await small.add_script_tag(path=str(AXE))
    found = await small.evaluate(
        "async () => (await axe.run()).violations"
        f".filter(v => {SERIOUS}.includes(v.impact))"
        ".map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).join(', '))"
    )
    assert found == [], found
    await small.set_viewport_size({"width": 1280, "height": 900})
    found = await small.evaluate(
        "async () => (await axe.run()).violations"
        f".filter(v => {SERIOUS}.includes(v.impact)).map(v => v.id)"
    )
    assert found == [], found
    await phone.close()
