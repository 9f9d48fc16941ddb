"""Intake benchmark: text inputs through the real application, next to a bare PTB echo bot.

The real bot runs as `python -m bot run` does (`bot.app.serve`: the inbox poller, the update
queue and `ChatOrderedProcessor`, handlers, services, SQLite, the 👍 reaction), talking to the
fake Bot API in-process through `FakeRequest`, with no network delay or a simulated 50 ms
round trip per call. Participants are checked in beforehand with the storage layer.

    .venv/bin/python bench/intake_bench.py [--burst 4000] [--rate 300] [--seconds 8]

- burst: N inputs waiting at the fake when measuring starts; inputs/s = N over the time from
  the first being handed to the bot to the last committed (and to the last acknowledged);
  latency = from the getUpdates answer that handed an input to the bot to its committed row.
- open loop: inputs offered at a fixed rate (each at its planned instant, whatever the bot
  does); latency = from the moment the input waited at the fake for the bot (a long poll is
  woken at once) to its committed row, so a backlog at the fake counts as well.

The echo bot is an `Application` with one `MessageHandler` that replies with the text, polled
by PTB's own `Updater`, with the same concurrency (64 updates at once) and the same fake; its
"committed" moment is its reply reaching the fake. For the real bot the acknowledgement (the
reaction reaching the fake) is reported beside the commit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from common import (
    TOKEN,
    Figure,
    TimedFakeBotApi,
    check,
    cli,
    emit,
    ms,
    percentile,
    seed_participants,
    settings_for,
)
from telegram import Update
from telegram.ext import Application, ApplicationBuilder, ContextTypes, MessageHandler, filters

from bot.app import running, serve
from bot.eventfile import SEED_EVENT, load_event
from bot.sandbox import FakeRequest
from bot.sandbox.harness import unthrottled
from bot.services import inputs as input_service

SECTION = "1. Intake"
PEOPLE = 1_000  # the flood gate admits 20 messages per person in 10 s: spread the load
LATENCY = 0.05


@dataclass
class Run:
    """What one measurement saw; times are time.time() seconds."""

    offered: dict[tuple[int, int], float] = field(default_factory=dict)  # (chat, msg) → sent
    update_of: dict[tuple[int, int], int] = field(default_factory=dict)
    committed: dict[tuple[int, int], float] = field(default_factory=dict)
    answered: dict[tuple[int, int], float] = field(default_factory=dict)
    by_text: dict[str, tuple[int, int]] = field(default_factory=dict)
    looked_at: int = 0  # calls at the fake already looked at

    def rate(
        self, done: dict[tuple[int, int], float], start: dict[tuple[int, int], float]
    ) -> float:
        if len(done) < len(self.offered):
            return 0.0
        return len(done) / (max(done.values()) - min(start.values()))

    def latencies(
        self, done: dict[tuple[int, int], float], start: dict[tuple[int, int], float]
    ) -> list[float]:
        return [done[key] - start[key] for key in done if key in start]


# --------------------------------------------------------------------------------------------
# Commit times: the moment `InputService.receive` returns (its transaction has committed)

_COMMITS: dict[tuple[int, int], float] = {}


def _instrument_commits() -> None:
    original = input_service.InputService.receive

    async def receive(self: Any, user: Any, message: Any) -> Any:
        outcome = await original(self, user, message)
        if isinstance(outcome, input_service.Stored):
            _COMMITS[(message.chat_id, message.message_id)] = time.time()
        return outcome

    # Instrumenting the class for this process, on purpose: mypy flags any method assignment.
    input_service.InputService.receive = receive  # type: ignore[method-assign]


# --------------------------------------------------------------------------------------------
# The two bots


@contextlib.asynccontextmanager
async def samtidig(folder: Path, latency: float) -> AsyncIterator[TimedFakeBotApi]:
    event = load_event(SEED_EVENT)
    database = folder / f"intake-{time.monotonic_ns()}.sqlite3"
    await seed_participants(database, event, PEOPLE)
    api = TimedFakeBotApi(TOKEN)
    stop = asyncio.Event()
    async with running(
        settings_for(database),
        event=event,
        request_factory=lambda: FakeRequest(api, latency=latency),
        # Inputs queue nothing for the outbox here (the seed event lists no facilitators).
        limiter=unthrottled(),
    ) as bot:
        task = asyncio.create_task(serve(bot, stop=stop, poll_timeout=10))
        try:
            await _polling(api)
            yield api
        finally:
            stop.set()
            await asyncio.wait_for(task, 60)


async def echo_reply(update: Update, context: Any) -> None:
    message = update.effective_message
    if message is not None and message.text is not None:
        await message.reply_text(message.text)


@contextlib.asynccontextmanager
async def echo(latency: float) -> AsyncIterator[TimedFakeBotApi]:
    api = TimedFakeBotApi(TOKEN)
    app: Application[Any, Any, Any, Any, Any, Any] = (
        ApplicationBuilder()
        .token(TOKEN)
        .request(FakeRequest(api, latency=latency))
        .get_updates_request(FakeRequest(api, latency=latency))
        .concurrent_updates(64)
        .context_types(ContextTypes())
        .build()
    )
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, echo_reply))
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0, timeout=10)
        try:
            await _polling(api)
            yield api
        finally:
            await app.updater.stop()
            await app.stop()


async def _polling(api: TimedFakeBotApi) -> None:
    deadline = time.monotonic() + 30
    while api.first_poll is None:
        if time.monotonic() > deadline:
            raise TimeoutError("the bot did not start polling")
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.2)  # past startup: the first long poll is waiting


# --------------------------------------------------------------------------------------------
# Load


def _people(api: TimedFakeBotApi) -> list[Any]:
    return [api.user(100_000 + n, f"Deltager {n}", language_code="da") for n in range(PEOPLE)]


def _send(api: TimedFakeBotApi, person: Any, text: str, run: Run) -> None:
    update = person.send(text)
    key = (person.id, update["message"]["message_id"])
    run.offered[key] = time.time()
    run.update_of[key] = update["update_id"]
    run.by_text[text] = key


def _collect(api: TimedFakeBotApi, run: Run, *, real: bool) -> None:
    """Answers seen at the fake since the last look: the reaction (real bot) or the reply
    (echo). Incremental, so that looking costs the loop next to nothing."""
    calls = api.calls
    method = "setMessageReaction" if real else "sendMessage"
    for call in calls[run.looked_at :]:
        if call.method != method or not call.ok:
            continue
        if real:
            key = (int(call.params["chat_id"]), int(call.params["message_id"]))
        else:
            found = run.by_text.get(str(call.params.get("text")))
            if found is None:
                continue
            key = found
        run.answered.setdefault(key, call.at)
    run.looked_at = len(calls)
    run.committed = dict(_COMMITS) if real else run.answered


async def _finish(api: TimedFakeBotApi, run: Run, *, real: bool, within: float) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        _collect(api, run, real=real)
        if len(run.committed) >= len(run.offered) and len(run.answered) >= len(run.offered):
            return
        await asyncio.sleep(0.05)
    _collect(api, run, real=real)


async def burst(api: TimedFakeBotApi, count: int, *, real: bool) -> Run:
    run = Run(looked_at=len(api.calls))
    _COMMITS.clear()
    people = _people(api)
    for n in range(count):
        _send(api, people[n % len(people)], f"Input nummer {n}: mere borgerinddragelse", run)
    await _finish(api, run, real=real, within=120)
    return run


async def open_loop(api: TimedFakeBotApi, rate: float, seconds: float, *, real: bool) -> Run:
    run = Run(looked_at=len(api.calls))
    _COMMITS.clear()
    people = _people(api)
    count = int(rate * seconds)
    loop = asyncio.get_running_loop()
    started = loop.time()
    for n in range(count):
        due = started + n / rate
        if (wait := due - loop.time()) > 0:
            await asyncio.sleep(wait)
        _send(api, people[n % len(people)], f"Input nummer {n}: mere borgerinddragelse", run)
    await _finish(api, run, real=real, within=60)
    return run


# --------------------------------------------------------------------------------------------


async def measure(burst_size: int, rate: float, seconds: float) -> list[Figure]:
    _instrument_commits()
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory(prefix="samtidig-intake-") as tmp:
        folder = Path(tmp)
        for latency, label in ((0.0, "no delay"), (LATENCY, "50 ms RTT")):
            async with samtidig(folder, latency) as api:
                ours = await burst(api, burst_size, real=True)
                ours_handed = handed(ours, api)
            async with echo(latency) as api:
                theirs = await burst(api, burst_size, real=False)
                theirs_handed = handed(theirs, api)
            figures += burst_figures(
                label, 1000.0 if latency == 0 else 500.0, ours, ours_handed, theirs, theirs_handed
            )
            async with samtidig(folder, latency) as api:
                ours_open = await open_loop(api, rate, seconds, real=True)
            async with echo(latency) as api:
                theirs_open = await open_loop(api, rate, seconds, real=False)
            figures += open_figures(label, rate, ours_open, theirs_open)
        # Where the latency target is met: half the rate, no delay.
        async with samtidig(folder, 0.0) as api:
            half = await open_loop(api, rate / 2, seconds, real=True)
        lat = half.latencies(half.committed, half.offered)
        figures.append(
            Figure(
                SECTION,
                f"{rate / 2:.0f}/s offered, no delay: latency offered → committed",
                f"p50 {ms(percentile(lat, 0.5))}, p99 {ms(percentile(lat, 0.99))}",
                note="for comparison: below the measured capacity",
            )
        )
    return figures


def handed(run: Run, api: TimedFakeBotApi) -> dict[tuple[int, int], float]:
    return {
        key: api.handed_out[update_id]
        for key, update_id in run.update_of.items()
        if update_id in api.handed_out
    }


def burst_figures(
    label: str,
    target: float,
    ours: Run,
    ours_handed: dict[tuple[int, int], float],
    theirs: Run,
    theirs_handed: dict[tuple[int, int], float],
) -> list[Figure]:
    n = len(ours.offered)
    committed = ours.rate(ours.committed, ours_handed)
    acknowledged = ours.rate(ours.answered, ours_handed)
    echoed = theirs.rate(theirs.answered, theirs_handed)
    lat = ours.latencies(ours.committed, ours_handed)
    ack = ours.latencies(ours.answered, ours_handed)
    echo_lat = theirs.latencies(theirs.answered, theirs_handed)
    ratio = f"{acknowledged / echoed:.0%} of echo" if echoed else ""
    return [
        Figure(
            SECTION,
            f"burst of {n:,}, {label}: committed and acknowledged",
            f"{acknowledged:,.0f} inputs/s ({committed:,.0f}/s committed)",
            f">= {target:,.0f}/s",
            check(acknowledged, ">=", target),
            ratio,
        ),
        Figure(
            SECTION,
            f"burst of {n:,}, {label}: echo bot replied",
            f"{echoed:,.0f} inputs/s",
            note="baseline",
        ),
        Figure(
            SECTION,
            f"burst, {label}: latency handed out → committed (→ 👍)",
            f"p50 {ms(percentile(lat, 0.5))}, p99 {ms(percentile(lat, 0.99))}"
            f" (👍 p50 {ms(percentile(ack, 0.5))}, p99 {ms(percentile(ack, 0.99))})",
        ),
        Figure(
            SECTION,
            f"burst, {label}: echo latency handed out → reply",
            f"p50 {ms(percentile(echo_lat, 0.5))}, p99 {ms(percentile(echo_lat, 0.99))}",
            note="baseline",
        ),
    ]


def open_figures(label: str, rate: float, ours: Run, theirs: Run) -> list[Figure]:
    n = len(ours.offered)
    lat = ours.latencies(ours.committed, ours.offered)
    ack = ours.latencies(ours.answered, ours.offered)
    echo_lat = theirs.latencies(theirs.answered, theirs.offered)
    lost = n - len(ours.committed)
    p99 = percentile(lat, 0.99) if not lost else float("inf")
    return [
        Figure(
            SECTION,
            f"{rate:.0f}/s offered, {label}: latency offered → committed (→ 👍)",
            f"p50 {ms(percentile(lat, 0.5))}, p99 {ms(percentile(lat, 0.99))}"
            f" (👍 p50 {ms(percentile(ack, 0.5))}, p99 {ms(percentile(ack, 0.99))})"
            + (f"; {lost} not committed" if lost else ""),
            "p99 < 100 ms",
            check(p99, "<", 0.1),
            f"{n:,} inputs",
        ),
        Figure(
            SECTION,
            f"{rate:.0f}/s offered, {label}: echo latency offered → reply",
            f"p50 {ms(percentile(echo_lat, 0.5))}, p99 {ms(percentile(echo_lat, 0.99))}",
            note="baseline",
        ),
    ]


def main() -> None:
    parser = cli(__doc__)
    parser.add_argument("--burst", type=int, default=3000)
    parser.add_argument("--rate", type=float, default=300.0)
    parser.add_argument("--seconds", type=float, default=6.0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    figures = asyncio.run(measure(args.burst, args.rate, args.seconds))
    emit(figures, args.json)


if __name__ == "__main__":
    main()
