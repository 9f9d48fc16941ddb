"""Footprint benchmark: `python -m bot run` as a real process against the fake Bot API served
on loopback (`FakeBotApiServer`), with 10,000 participants checked in.

    .venv/bin/python bench/footprint_bench.py [--people 10000] [--starts 3]

- time from start to polling: from spawning the process to the fake receiving its first
  getUpdates (the median of `--starts` starts on the same database);
- resident memory (VmRSS from /proc/PID/status) once it polls and has been idle for 3 s, and
  again while it sends an organiser's broadcast to all 10,000 (every participant loaded and
  queued in the outbox); VmHWM is the peak.

Participants are checked in with the storage layer beforehand and have written to the bot
once, so the fake lets the bot write to them.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

from common import (
    ROOT,
    TOKEN,
    Figure,
    TimedFakeBotApi,
    check,
    cli,
    emit,
    rss_kib,
    seed_participants,
    wait_for,
)

from bot.eventfile import SEED_EVENT, load_event
from bot.sandbox import FakeBotApiServer

SECTION = "5. Footprint"
HOST = 9_999


async def start(server: FakeBotApiServer, database: Path, log: Path) -> asyncio.subprocess.Process:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("TELEGRAM_")},
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_BASE_URL": server.base_url,
        "TELEGRAM_API_FILE_URL": server.base_file_url,
        "DATABASE_PATH": str(database),
        "ORGANIZER_IDS": str(HOST),
        "LOG_LEVEL": "WARNING",
    }
    with log.open("ab") as handle:
        return await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "run",
            "--allow-demo-codes",  # the seed's codes, against a fake Telegram
            env=env,
            cwd=ROOT,
            stdout=handle,
            stderr=handle,
        )


async def stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        process.send_signal(signal.SIGINT)
        try:
            await asyncio.wait_for(process.wait(), 20)
        except TimeoutError:
            process.kill()
            await process.wait()


async def measure(people: int, starts: int) -> list[Figure]:
    event = load_event(SEED_EVENT)
    with tempfile.TemporaryDirectory(prefix="samtidig-footprint-") as tmp:
        folder = Path(tmp)
        database = folder / "footprint.sqlite3"
        ids = await seed_participants(database, event, people)
        api = TimedFakeBotApi(TOKEN)
        last = 0
        for user_id in ids:
            last = api.user(user_id, f"Deltager {user_id}", language_code="da").send("/start")[
                "update_id"
            ]
        await api.call(TOKEN, "getUpdates", {"offset": last + 1, "timeout": 0})
        log = folder / "bot.log"
        startup: list[float] = []
        async with FakeBotApiServer(api) as server:
            for _ in range(starts - 1):  # the later starts only time the start
                api.first_poll = None
                spawned = time.time()
                process = await start(server, database, log)
                try:
                    await wait_for(lambda: api.first_poll, 30, "the bot to poll")
                    startup.append(float(api.first_poll or 0) - spawned)
                finally:
                    await stop(process)
            api.first_poll = None
            spawned = time.time()
            process = await start(server, database, log)
            try:
                await wait_for(lambda: api.first_poll, 30, "the bot to poll")
                startup.append(float(api.first_poll or 0) - spawned)
                await asyncio.sleep(3)
                idle, _ = rss_kib(process.pid)
                host = api.user(HOST, "Arrangør", language_code="da")
                host.send("/broadcast all Kaffen er klar i foyeren")
                preview = await wait_for(
                    lambda: host.inbox() and host.last().get("reply_markup") and host.last(),
                    30,
                    "a preview",
                )
                host.press(
                    preview, preview["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
                )
                await wait_for(
                    lambda: sum(
                        1
                        for c in api.calls[-50:]
                        if c.method == "sendMessage" and c.params.get("chat_id") != HOST
                    ),
                    30,
                    "the broadcast under way",
                )
                await asyncio.sleep(3)
                busy, peak = rss_kib(process.pid)
            finally:
                await stop(process)
    median = statistics.median(startup)
    return [
        Figure(
            SECTION,
            f"resident memory, {people:,} participants checked in, idle",
            f"{idle / 1024:.0f} MiB",
            "< 150 MB",
            check(idle / 1024, "<", 150),
            "VmRSS 3 s after it began polling",
        ),
        Figure(
            SECTION,
            f"resident memory while broadcasting to all {people:,}",
            f"{busy / 1024:.0f} MiB (peak {peak / 1024:.0f} MiB)",
            "< 150 MB",
            check(peak / 1024, "<", 150),
            "VmRSS and VmHWM",
        ),
        Figure(
            SECTION,
            "time from start to polling",
            f"{median:.2f} s",
            "< 2 s",
            check(median, "<", 2.0),
            f"median of {len(startup)} starts: " + ", ".join(f"{s:.2f}" for s in startup),
        ),
    ]


def main() -> None:
    parser = cli(__doc__)
    parser.add_argument("--people", type=int, default=10_000)
    parser.add_argument("--starts", type=int, default=3)
    args = parser.parse_args()
    # Stopping the fake's server with the bot's long poll still open makes asyncio log the
    # cancelled connection task; it is noise here.
    logging.getLogger("asyncio").setLevel(logging.CRITICAL)
    emit(asyncio.run(measure(args.people, args.starts)), args.json)


if __name__ == "__main__":
    main()
