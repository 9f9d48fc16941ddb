"""Broadcast benchmark: one organiser broadcast through the outbox against a fake Bot API that
enforces Telegram's flood limits (answering 429 above them).

    .venv/bin/python bench/broadcast_bench.py [--people 1000] [--paid-people 10000]

The real bot runs in-process as `serve()` runs it (polling, handlers, the delivery worker with
its `RateLimiter`); participants are checked in beforehand with the storage layer and have
written to the bot once (so Telegram lets it write to them). The organiser sends
`/broadcast all …` and presses Send as soon as the preview arrives (the preview and the
confirmation are replies, which share the delivery worker's `RateLimiter`, so they cannot
push a second past the limit). Every figure comes
from the timestamps the FAKE recorded for the copies it accepted:

- achieved rate: (copies − 1) / (last copy − first copy), as a share of the limit;
- the most sends the fake accepted in any one-second window (every sendMessage, not only the
  copies: Telegram counts them all);
- the 429s the fake answered.

Then the paid-broadcast rate: `RateLimiter(per_second=1000)` and the fake's limit raised to
1,000/s, with 10,000 participants.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from common import (
    TOKEN,
    Figure,
    TimedFakeBotApi,
    check,
    cli,
    emit,
    seed_participants,
    settings_for,
    wait_for,
)

from bot import app as samtidig
from bot.eventfile import SEED_EVENT, load_event
from bot.sandbox import FakeRequest, TelegramLimits
from bot.services.delivery import RateLimiter

SECTION = "2. Broadcast"
HOST = 9_999
TEXT = "Kaffen er klar i foyeren"
PAID_WINDOW = 30  # seconds: the paid broadcast is measured over this long at most


@contextlib.asynccontextmanager
async def running(
    folder: Path, people: int, limiter: RateLimiter, limits: TelegramLimits
) -> AsyncIterator[tuple[TimedFakeBotApi, list[int]]]:
    event = load_event(SEED_EVENT)
    database = folder / f"broadcast-{people}.sqlite3"
    ids = await seed_participants(database, event, people)
    api = TimedFakeBotApi(TOKEN)
    last = 0
    for user_id in ids:
        last = api.user(user_id, f"Deltager {user_id}", language_code="da").send("/start")[
            "update_id"
        ]
    # Confirmed through the Bot API itself: the bot will not see these old messages.
    await api.call(TOKEN, "getUpdates", {"offset": last + 1, "timeout": 0})
    api.limits = limits
    settings = settings_for(database).model_copy(update={"organizer_ids": frozenset({HOST})})
    stop = asyncio.Event()
    async with samtidig.running(
        settings, event=event, request_factory=lambda: FakeRequest(api), limiter=limiter
    ) as bot:
        task = asyncio.create_task(samtidig.serve(bot, stop=stop, poll_timeout=10))
        try:
            await wait_for(lambda: api.first_poll, 30, "the bot to poll")
            yield api, ids
        finally:
            stop.set()
            await asyncio.wait_for(task, 60)


async def broadcast(api: TimedFakeBotApi, people: list[int], within: float) -> dict[str, Any]:
    host = api.user(HOST, "Arrangør", language_code="da")
    host.send(f"/broadcast all {TEXT}")
    preview = await wait_for(
        lambda: host.inbox() and host.last().get("reply_markup") and host.last(), 30, "a preview"
    )
    # Pressed at once: the preview (a reply) shares the worker's limits (ReplyLimits).
    first_call = len(api.calls)
    data = preview["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
    pressed = time.time()
    host.press(preview, data)
    wanted = set(people)
    got: dict[int, float] = {}
    seen = first_call
    deadline = time.monotonic() + within
    while len(got) < len(wanted) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
        calls = api.calls
        for call in calls[seen:]:
            chat = call.params.get("chat_id")
            if call.method == "sendMessage" and call.ok and chat in wanted:
                got.setdefault(int(chat), call.at)
        seen = len(calls)
    sends = sorted(
        call.at for call in api.calls[first_call:] if call.method == "sendMessage" and call.ok
    )
    return {
        "pressed": pressed,
        "copies": sorted(got.values()),
        "sends": sends,
        "rejected": api.rate_limited,
        "complete": len(got) == len(wanted),
    }


def most_in_a_second(times: list[float]) -> int:
    """The most timestamps in any window (t − 1 s, t], as the fake counts its window."""
    best, start = 0, 0
    for end, at in enumerate(times):
        while times[start] <= at - 1.0:
            start += 1
        best = max(best, end - start + 1)
    return best


def rate_of(copies: list[float]) -> float:
    if len(copies) < 2:
        return 0.0
    return (len(copies) - 1) / (copies[-1] - copies[0])


async def measure(people: int, paid_people: int) -> list[Figure]:
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory(prefix="samtidig-broadcast-") as tmp:
        folder = Path(tmp)
        async with running(folder, people, RateLimiter(), TelegramLimits()) as (api, ids):
            seen = await broadcast(api, ids, within=people / 30 * 3 + 30)
        copies = seen["copies"]
        rate = rate_of(copies)
        share = rate / 30
        incomplete = "" if seen["complete"] else f"; only {len(copies):,} of {people:,} sent"
        figures += [
            Figure(
                SECTION,
                f"{people:,} participants at 30/s: achieved rate",
                f"{rate:.1f}/s = {share:.1%} of the limit{incomplete}",
                ">= 95%",
                check(share, ">=", 0.95) and seen["complete"],
                f"last copy {copies[-1] - seen['pressed']:.1f} s after Send" if copies else "",
            ),
            Figure(
                SECTION,
                f"{people:,} participants at 30/s: most sends in one second (fake)",
                f"{most_in_a_second(seen['sends'])}",
                "<= 30",
                most_in_a_second(seen["sends"]) <= 30,
            ),
            Figure(
                SECTION,
                f"{people:,} participants at 30/s: 429s answered",
                f"{seen['rejected']}",
                "0",
                seen["rejected"] == 0,
            ),
        ]
        paid = RateLimiter(per_second=1000)
        limits = TelegramLimits(per_second_overall=1000)
        async with running(folder, paid_people, paid, limits) as (api, ids):
            seen = await broadcast(api, ids, within=PAID_WINDOW)
        copies = seen["copies"]
        rate = rate_of(copies)
        incomplete = (
            "" if seen["complete"] else f"; {len(copies):,} of {paid_people:,} in {PAID_WINDOW} s"
        )
        figures += [
            Figure(
                SECTION,
                f"{paid_people:,} participants at 1,000/s (paid): achieved rate",
                f"{rate:,.0f}/s{incomplete}",
                ">= 900/s",
                check(rate, ">=", 900) and seen["complete"],
                f"{seen['rejected']} 429s; most in one second {most_in_a_second(seen['sends'])}",
            ),
        ]
    return figures


def main() -> None:
    parser = cli(__doc__)
    parser.add_argument("--people", type=int, default=1000)
    parser.add_argument("--paid-people", type=int, default=10_000)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    emit(asyncio.run(measure(args.people, args.paid_people)), args.json)


if __name__ == "__main__":
    main()
