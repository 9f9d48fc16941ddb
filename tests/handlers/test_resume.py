"""`/resume` at three sites: what fell due during the pause starts at once, the rest follows, and
the facilitator is told what starts now or when the next item comes."""

from __future__ import annotations

from datetime import timedelta

from bot.clock import ManualClock
from bot.config import Settings
from bot.sandbox import FakeBotApi
from bot.sandbox.harness import BotHarness
from tests.handlers.conftest import TOKEN
from tests.handlers.helpers import received, run_until
from tests.handlers.test_agenda_flow import agenda_pushes
from tests.handlers.test_relay import at, build_world, event_with


async def test_an_item_that_fell_due_during_the_pause_starts_on_resume_and_the_rest_follows(
    settings: Settings, clock: ManualClock
) -> None:
    event = event_with()
    api = FakeBotApi(TOKEN)
    async with BotHarness.running(settings, api=api, event=event, clock=clock) as harness:
        world = await build_world(harness, clock, event)
        host, nord, midt = world.hosts["nord"], world.people["nord"], world.people["midt"]
        await run_until(harness, clock, at("13:45"))  # the crosscheck is on
        host.send("/pause")
        await harness.settle()
        # Group work 2 falls due at 13:50, inside the pause; the room resumes 28 s past 13:55.
        await run_until(harness, clock, at("13:55"))
        clock.advance(timedelta(seconds=28))
        assert "gw2" not in dict(agenda_pushes(received(harness, event, nord.id)))
        host.send("/resume")
        await harness.settle()

        answer = host.last()["text"]
        assert "Gruppearbejde 2" in answer
        assert "starter nu" in answer
        assert "sendes til 1 deltager." in answer
        assert "minutters pause" not in answer
        assert dict(agenda_pushes(received(harness, event, nord.id)))["gw2"] == "13:55"
        assert "Hvad tager I med hjem?" in nord.last()["text"]
        # Group work 2 started 5 min 28 s late; the close follows it by as much (rounded down
        # to the second, so that the item was due at once), at this site only.
        assert harness.query(
            "SELECT site_key, from_item_key, seconds, reason FROM agenda_shifts"
        ) == [("nord", "gw2", 328, "resume")]
        nord.send("/agenda")
        await harness.settle()
        assert "14.25  Tak for i dag (planlagt 14.20)" in nord.last()["text"]
        assert dict(agenda_pushes(received(harness, event, midt.id)))["gw2"] == "13:50"

    # Restarted on the same database, the plan is the same: nothing starts again, and the
    # close comes at its new time.
    api = FakeBotApi(TOKEN)
    async with BotHarness.running(settings, api=api, event=event, clock=clock) as harness:
        await harness.settle()
        plan = await harness.services.agenda.plan("nord")
        gw2, close = plan.slot("gw2"), plan.slot("close")
        assert gw2 is not None
        assert close is not None
        resumed = at("13:55") + timedelta(seconds=28)
        assert gw2.start == resumed
        assert close.start == resumed + timedelta(minutes=30)
        assert plan.current(clock.now()) == gw2
        assert harness.query(
            "SELECT COUNT(*) FROM outbox WHERE key LIKE 'push:tre-steder:nord:gw2:%'"
        ) == [(1,)]
        await run_until(harness, clock, at("14:26"))
        assert harness.query(
            "SELECT COUNT(*) FROM outbox WHERE key LIKE 'push:tre-steder:nord:close:%'"
        ) == [(1,)]


async def test_a_resume_before_anything_fell_due_keeps_the_times_and_names_the_next_item(
    settings: Settings, clock: ManualClock
) -> None:
    event = event_with()
    api = FakeBotApi(TOKEN)
    async with BotHarness.running(settings, api=api, event=event, clock=clock) as harness:
        world = await build_world(harness, clock, event)
        host = world.hosts["nord"]
        await run_until(harness, clock, at("13:15"))
        host.send("/pause")
        await harness.settle()
        await run_until(harness, clock, at("13:25"))
        host.send("/resume")
        await harness.settle()

        answer = host.last()["text"]
        assert "Vi tjekker ind" in answer
        assert "kl. 13.40" in answer
        assert harness.query("SELECT COUNT(*) FROM agenda_shifts") == [(0,)]
        await run_until(harness, clock, at("13:41"))
        log = dict(agenda_pushes(received(harness, event, world.people["nord"].id)))
        assert log["check_in"] == "13:40"
