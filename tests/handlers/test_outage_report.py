"""A push the worker marked `missed` (Telegram unreachable until the next item) is reported
to the site's facilitators once, by the agenda engine's next tick."""

from __future__ import annotations

from datetime import timedelta

from bot.clock import ManualClock
from bot.event import Event
from bot.sandbox.harness import BotHarness
from tests.handlers.helpers import at, become_facilitator, check_in, run_until


async def test_a_missed_push_is_reported_once_to_the_sites_facilitators(
    harness: BotHarness, seed_event: Event, clock: ManualClock
) -> None:
    host = harness.api.user(801, "Vært", language_code="da")
    await become_facilitator(harness, seed_event, host, "aalborg")
    people = [harness.api.user(810 + i, f"P{i}", language_code="da") for i in range(3)]
    for person in people:
        await check_in(harness, person, "aalborg-t1")
    await run_until(harness, clock, at(seed_event, "13:01"))
    # As the worker leaves them after an outage outlasting the item (see the worker's tests).
    harness.query(
        "UPDATE outbox SET status = 'missed' WHERE key LIKE 'push:%:aalborg:welcome:%'"
        " AND user_id IN (810, 811)"
    )
    await run_until(harness, clock, at(seed_event, "13:03"), step=timedelta(minutes=1))

    reports = [m["text"] for m in host.inbox() if "nåede ikke frem" in m["text"]]
    assert len(reports) == 1
    assert "2 deltagere" in reports[0]
