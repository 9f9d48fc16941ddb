"""Scheduling benchmark: how late agenda pushes reach Telegram while intake runs at 300/s.

    .venv/bin/python bench/schedule_bench.py [--rate 300] [--step 2]

The real bot runs in-process as `serve()` runs it, with the real JobQueue (APScheduler) and
`SystemClock`, the default `RateLimiter` (30 messages/s) and the fake enforcing Telegram's
limits. The event (made by `bench/events.py`) is dated today: ten sites of ten participants,
one prompt at the current minute, and each site's programme moved by whole seconds (agenda
shifts, as /delay or /resume write them) so that the ten sites' prompts fall due one after
another, `--step` seconds apart, a few seconds after the bot has started: 100 pushes. A
thousand more participants at an eleventh site without agenda items write inputs at `--rate`
per second throughout.

- lateness of a push: when the fake received the push's sendMessage minus the moment the
  site's prompt fell due (a site's ten pushes fit in one second's 30); the engine's own
  lateness (`agenda_fired.fired_at`, when its tick pushed the site) is shown beside it;
- the longest event-loop stall: the bot's own `LoopMonitor` (50 ms tick), which `/health`
  reports. The fake and the load generator run on the same loop (as in the intake benchmark).

The same run without intake is the baseline.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

from common import (
    TOKEN,
    Figure,
    StallWatch,
    TimedFakeBotApi,
    check,
    cli,
    emit,
    ms,
    percentile,
    seed_participants,
    settings_for,
    user_ids,
    wait_for,
)
from events import due_soon, write

from bot.app import running, serve
from bot.eventfile import load_event
from bot.models import ShiftReason
from bot.sandbox import FakeRequest, TelegramLimits
from bot.services.delivery import RateLimiter
from storage.db import Database
from storage.timestamps import from_db
from storage.unit_of_work import SqliteUnitOfWork

SECTION = "3. Scheduling"
SITES = 10
PER_SITE = 10
WRITERS = 1_000
WRITERS_FROM = 200_000  # user ids of the writers
LEAD = 6.0  # seconds from the bot's start to the first due prompt


def local_now() -> datetime:
    """Now, in a whole-hour UTC offset where it is about noon: the event's day cannot end
    during the run."""
    now = datetime.now(UTC)
    hours = max(-11, min(12, 12 - now.hour))
    return now.astimezone(timezone(timedelta(hours=hours)))


async def prepare(folder: Path, step: float) -> tuple[Path, Path, dict[str, datetime]]:
    now = local_now()
    event_file = write(due_soon(SITES, now), folder / "due-soon.yaml")
    event = load_event(event_file)
    database = folder / "schedule.sqlite3"
    sites = [s.key for s in event.sites if s.key != "hub"]
    await seed_participants(database, event, SITES * PER_SITE, sites=sites)
    # The writers: checked in at the hub, where no agenda item is pushed.
    await seed_participants(database, event, WRITERS, sites=["hub"], first=WRITERS_FROM)
    item = event.item("pulse")
    assert item is not None
    start = event.start_of(item)
    first = datetime.now(UTC) + timedelta(seconds=LEAD)
    due: dict[str, datetime] = {}
    db = await Database.open(database)
    uow = SqliteUnitOfWork(db)
    try:
        async with uow.transaction():
            for n, key in enumerate(sites):
                seconds = round((first - start).total_seconds() + n * step)
                due[key] = start + timedelta(seconds=seconds)
                await uow.agenda.add_shift(
                    event.key, key, "pulse", seconds, ShiftReason.DELAY, None, datetime.now(UTC)
                )
    finally:
        await db.close()
    return event_file, database, due


def writer_ids() -> list[int]:
    return user_ids(WRITERS, WRITERS_FROM)


async def write_inputs(api: TimedFakeBotApi, rate: float, stop: asyncio.Event) -> int:
    if rate <= 0:
        await stop.wait()
        return 0
    people = [api.user(u, f"Skribent {u}", language_code="da") for u in writer_ids()]
    loop = asyncio.get_running_loop()
    started = loop.time()
    n = 0
    while not stop.is_set():
        due = started + n / rate
        if (wait := due - loop.time()) > 0:
            await asyncio.sleep(wait)
        people[n % len(people)].send(f"Input {n}: flere borgermøder")
        n += 1
    return n


@dataclass
class Outcome:
    lateness: list[float]  # seconds, per push that reached the fake
    engine: list[float]  # seconds, per site: the engine's tick after the prompt fell due
    missing: int  # pushes that never reached the fake
    monitor: float  # the bot's LoopMonitor: longest stall, seconds
    probe: float  # a 10 ms timer on the same loop: longest stall, seconds
    written: int
    stored: int
    rejected: int  # 429s the fake answered

    def late(self) -> str:
        return (
            f"p50 {ms(percentile(self.lateness, 0.5))}, p99 {ms(percentile(self.lateness, 0.99))}"
            + (f"; {self.missing} never sent" if self.missing else "")
        )

    def woke(self) -> str:
        return (
            f"engine woke p50 {ms(percentile(self.engine, 0.5))}, "
            f"max {ms(max(self.engine, default=0.0))} late"
        )


async def run_once(rate: float, step: float) -> Outcome:
    """One run: the pushes' and the engine's lateness (seconds) and the loop's stalls."""
    with tempfile.TemporaryDirectory(prefix="samtidig-schedule-") as tmp:
        folder = Path(tmp)
        event_file, database, due = await prepare(folder, step)
        event = load_event(event_file)
        api = TimedFakeBotApi(TOKEN)
        recipients = user_ids(SITES * PER_SITE)
        last = 0
        for user_id in [*recipients, *writer_ids()]:
            last = api.user(user_id, f"P{user_id}", language_code="da").send("/start")["update_id"]
        # Confirmed through the Bot API itself: the bot will not see these old messages.
        await api.call(TOKEN, "getUpdates", {"offset": last + 1, "timeout": 0})
        api.limits = TelegramLimits()
        stop = asyncio.Event()
        watch = StallWatch()
        async with running(
            settings_for(database, event_file),
            event=event,
            request_factory=lambda: FakeRequest(api),
            limiter=RateLimiter(),
        ) as bot:
            task = asyncio.create_task(serve(bot, stop=stop, poll_timeout=10))
            try:
                await wait_for(lambda: api.first_poll, 30, "the bot to poll")
                watch.start()
                stop_writing = asyncio.Event()
                writer = asyncio.create_task(write_inputs(api, rate, stop_writing))
                site_of = {u: event.sites[n % SITES].key for n, u in enumerate(recipients)}
                horizon = max(due.values()) + timedelta(seconds=15)
                pushed: dict[int, float] = {}
                seen = 0
                while len(pushed) < len(recipients) and datetime.now(UTC) < horizon:
                    await asyncio.sleep(0.05)
                    calls = api.calls
                    for call in calls[seen:]:
                        chat = call.params.get("chat_id")
                        if call.method == "sendMessage" and call.ok and chat in site_of:
                            pushed.setdefault(int(chat), call.at)
                    seen = len(calls)
                stop_writing.set()
                written = await writer
                # The last inputs are still on their way when writing stops: a moment for them.
                with contextlib.suppress(TimeoutError):
                    await wait_for(lambda: count_stored(database) >= written, 5, "the last inputs")
                stall_fine = await watch.stop()
                monitor = bot.services.monitor.longest_ever
            finally:
                stop.set()
                await asyncio.wait_for(task, 60)
        with contextlib.closing(sqlite3.connect(database)) as conn:
            fired = conn.execute(
                "SELECT site_key, fired_at FROM agenda_fired WHERE item_key = 'pulse'"
            ).fetchall()
        stored = (count_stored(database),)
    return Outcome(
        lateness=[pushed[u] - due[site_of[u]].timestamp() for u in recipients if u in pushed],
        engine=[(from_db(at) - due[key]).total_seconds() for key, at in fired if key in due],
        missing=len(recipients) - len(pushed),
        monitor=monitor,
        probe=stall_fine,
        written=written,
        stored=stored[0],
        rejected=api.rate_limited,
    )


async def measure(rate: float, step: float) -> list[Figure]:
    idle = await run_once(0.0, step)
    loaded = await run_once(rate, step)
    p99 = percentile(loaded.lateness, 0.99) if not loaded.missing else float("inf")
    pushes = SITES * PER_SITE
    return [
        Figure(
            SECTION,
            f"lateness of {pushes} pushes at {rate:.0f} inputs/s offered",
            loaded.late(),
            "p99 < 1 s",
            check(p99, "<", 1.0),
            f"{loaded.woke()}; {loaded.stored:,} of {loaded.written:,} inputs stored;"
            f" {loaded.rejected} 429s",
        ),
        Figure(
            SECTION,
            f"lateness of {pushes} pushes, no intake",
            idle.late(),
            note=f"baseline; {idle.woke()}",
        ),
        Figure(
            SECTION,
            f"longest event-loop stall at {rate:.0f} inputs/s (the bot's LoopMonitor)",
            ms(loaded.monitor),
            "< 100 ms",
            check(loaded.monitor, "<", 0.1),
            f"10 ms probe: {ms(loaded.probe)}; no intake: {ms(idle.monitor)}",
        ),
    ]


def count_stored(database: Path) -> int:
    with contextlib.closing(sqlite3.connect(database)) as conn:
        row = conn.execute("SELECT COUNT(*) FROM inputs WHERE site_key = 'hub'").fetchone()
    return int(row[0])


def main() -> None:
    parser = cli(__doc__)
    parser.add_argument("--rate", type=float, default=300.0)
    parser.add_argument("--step", type=float, default=1.5)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    emit(asyncio.run(measure(args.rate, args.step)), args.json)


if __name__ == "__main__":
    main()
