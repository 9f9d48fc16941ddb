"""A role is bound to the code that granted it: a changed code ends the old holders' roles at
the next start, and the database keeps a hash of the code, never the code."""

from __future__ import annotations

from bot.clock import ManualClock
from bot.config import Settings
from bot.event import Event
from bot.sandbox.fake_api import FakeBotApi
from bot.sandbox.harness import BotHarness
from tests.handlers.conftest import TOKEN

ORGANISER_CODE = "demo-arrangoer-Xk42pQ9t"
AALBORG_HOST_CODE = "demo-vaert-aalborg-7Fq3Lm"


def with_new_organiser_code(event: Event) -> Event:
    info = event.event.model_copy(update={"organiser_code": "a-brand-new-code-42"})
    return event.model_copy(update={"event": info})


async def test_a_changed_organiser_code_ends_the_old_holders_role_at_the_next_start(
    settings: Settings, seed_event: Event, clock: ManualClock
) -> None:
    async with BotHarness.running(
        settings, api=FakeBotApi(TOKEN), event=seed_event, clock=clock
    ) as first:
        olga = first.api.user(301, "Olga", language_code="en")
        olga.send(f"/checkin {ORGANISER_CODE}")
        finn = first.api.user(302, "Finn", language_code="en")
        finn.send(f"/checkin {AALBORG_HOST_CODE}")
        await first.deliver()
        stored = first.query("SELECT user_id, role, via FROM roles ORDER BY user_id")
        assert [(u, r) for u, r, _ in stored] == [(301, "organiser"), (302, "facilitator")]
        assert all(via.startswith("code:") for _, _, via in stored)
        assert not any(ORGANISER_CODE in via or AALBORG_HOST_CODE in via for _, _, via in stored)

    async with BotHarness.running(
        settings, api=FakeBotApi(TOKEN), event=seed_event, clock=clock
    ) as same:
        # The same codes: nothing ends.
        assert len(same.query("SELECT * FROM roles")) == 2

    async with BotHarness.running(
        settings, api=FakeBotApi(TOKEN), event=with_new_organiser_code(seed_event), clock=clock
    ) as changed:
        assert changed.query("SELECT user_id, role FROM roles") == [(302, "facilitator")]
        olga = changed.api.user(301, "Olga", language_code="en")
        olga.send("/stats")
        await changed.deliver()
        assert olga.last()["text"].startswith("That command is for facilitators and organisers")
