"""Restart-safety and the JobQueue: the programme lives in the database, APScheduler only wakes
the engine, and a stalled event loop does not skip a push."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from pydantic import SecretStr

from bot.app import App, running
from bot.clock import ManualClock, SystemClock
from bot.config import Settings
from bot.event import Event
from bot.eventfile import load_event_text
from bot.sandbox import FakeBotApi, FakeRequest
from bot.sandbox.harness import BotHarness, unthrottled
from bot.telegram.scheduler import WAKE
from tests.handlers.conftest import TOKEN
from tests.handlers.helpers import at, check_in, received, run_until
from tests.handlers.test_agenda_flow import SEED_ITEMS, agenda_pushes
from tests.waiting import eventually


async def test_a_restart_in_the_middle_neither_repeats_nor_skips_a_push(
    settings: Settings, seed_event: Event, clock: ManualClock
) -> None:
    api = FakeBotApi(TOKEN)
    people = [api.user(400 + i, f"P{i}", language_code="da") for i in range(6)]
    codes = [
        "aalborg-t1",
        "aalborg-t2",
        "aalborg-t3",
        "kobenhavn-t1",
        "kobenhavn-t2",
        "kobenhavn-t3",
    ]
    async with BotHarness.running(settings, api=api, event=seed_event, clock=clock) as first:
        for person, code in zip(people, codes, strict=True):
            await check_in(first, person, code)
        await run_until(first, clock, at(seed_event, "14:02"))
    sent_before = len(api.calls_to("sendMessage"))

    # A new application on the same database, as after a crash or a deploy.
    async with BotHarness.running(settings, api=api, event=seed_event, clock=clock) as second:
        await second.settle()
        assert len(api.calls_to("sendMessage")) == sent_before  # nothing repeated at start
        await run_until(second, clock, at(seed_event, "16:05"))
        for person in people:
            assert agenda_pushes(received(second, seed_event, person.id)) == SEED_ITEMS
            titles = [m["text"].split("\n")[0] for m in person.inbox()]
            assert len(titles) == len(set(titles)), "a message reached someone twice"
        assert second.query("SELECT COUNT(*) FROM outbox WHERE status != 'sent'") == [(0,)]


def _wake_ahead(app: App) -> bool:
    """The agenda's wake-up job is set for later: the one at start-up has run."""
    now = datetime.now(UTC)
    queue = app.job_queue
    return queue is not None and any(
        job.next_t is not None and job.next_t > now for job in queue.get_jobs_by_name(WAKE)
    )


def _event_starting_in(seconds: int) -> Event:
    first = datetime.now(ZoneInfo("Europe/Copenhagen")) + timedelta(seconds=seconds)
    second = first + timedelta(seconds=30)
    return load_event_text(
        _TEMPLATE.format(date=f"{first:%Y-%m-%d}", t1=f"{first:%H:%M:%S}", t2=f"{second:%H:%M:%S}")
    )


_TEMPLATE = """
event:
  key: stall-test
  title: {{da: Test, en: Test}}
  date: {date}
  timezone: Europe/Copenhagen
  languages: [da, en]
  question: {{da: "Hvorfor?", en: "Why?"}}
sites:
  - key: here
    name: Her
    venue: Her
    angle: {{da: Vinkel, en: Angle}}
    code: here
agenda:
  - key: first
    at: "{t1}"
    kind: info
    title: {{da: Første punkt, en: First item}}
    text: {{da: Hej, en: Hello}}
  - key: end
    at: "{t2}"
    kind: close
    title: {{da: Slut, en: End}}
"""


async def test_a_two_second_stall_of_the_event_loop_does_not_skip_a_push(tmp_path: Path) -> None:
    event = _event_starting_in(3)
    api = FakeBotApi(TOKEN)
    settings = Settings(
        _env_file=None,
        telegram_bot_token=SecretStr(TOKEN),
        database_path=tmp_path / "stall.sqlite3",
    )
    async with running(
        settings,
        event=event,
        clock=SystemClock(),
        request_factory=lambda: FakeRequest(api),
        limiter=unthrottled(),
    ) as bot:
        app = bot.app
        harness = BotHarness(bot, api, settings.database_path, scheduler=None)
        anna = api.user(501, "Anna", language_code="da")
        await check_in(harness, anna, "here")
        await eventually(lambda: _wake_ahead(app), what="the start-up wake-up to set the next")
        wake = app.job_queue.get_jobs_by_name(WAKE) if app.job_queue else ()
        assert wake, "the wake-up job is scheduled under its deterministic name"
        first = event.item("first")
        assert first is not None
        due = event.start_of(first)
        # The point: the loop is blocked from before the due time until 2 s after it, so the
        # wake-up job starts 2 s late (APScheduler's default grace would skip it).
        blocked = (due - datetime.now(due.tzinfo)).total_seconds() + 2.0
        assert blocked > 2.0
        time.sleep(blocked)  # noqa: ASYNC251 - the point: stall the loop past the due time
        # The push itself ("13:05 · Første punkt"), not the check-in's "next item" line; within
        # 3 s, so from the late wake-up, not from the heartbeat 30 s later.
        await eventually(
            lambda: any("· Første punkt" in m["text"] for m in anna.inbox()),
            3,
            "the push (was it skipped?)",
        )
