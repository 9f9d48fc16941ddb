"""Load on a bad afternoon (issue 14), against `python -m bot run` as a real process talking to
the fake Bot API on loopback with Telegram's flood limits on.

Three scenarios, each returning what it measured from the fake's recorded calls (and the
bot's database); `tests/test_load.py` asserts on them, `bench/load_bench.py` prints them:

- `flood_during_broadcast`: a broadcast to 150 participants, timed without load and then
  while 40 other participants each write an input once a second; a quiet person asks
  `/where` meanwhile.
- `stranger_flood`: someone who never checked in sends `/help` as fast as a script can for
  10 s while a participant asks `/where` every second.
- `parallel_checkins`: 300 people check in at once (`/start <table code>`, consent, role,
  named or anonymous), each pressing the next button as soon as it arrives.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import re
import secrets
import signal
import sqlite3
import sys
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import bot
from bot.event import Event
from bot.eventfile import SEED_EVENT, load_event
from bot.i18n import Catalogue
from bot.models import CheckIn, Role
from bot.sandbox.fake_api import ApiCall, FakeBotApi, FakeUser, TelegramLimits
from bot.sandbox.http import FakeBotApiServer
from storage.db import Database
from storage.unit_of_work import SqliteUnitOfWork

TOKEN = "616161:LOAD-sandbox"  # noqa: S105 - the sandbox's own token, reaches nothing
HOST = 9_000  # Aalborg's facilitator: broadcasts
FEED_HOST = 9_001  # København's facilitator: gets the flooders' feed cards
FIRST_PARTICIPANT = 30_000
FIRST_FLOODER = 31_000
QUIET = 32_000  # checked in at København, asks /where
STRANGER = 40_000
STOP_WITHIN = 30.0  # seconds from SIGINT to the process gone
ANSWERS = frozenset({"sendMessage", "editMessageText"})


# -- the bot as a process ---------------------------------------------------------------------

# The source tree this module was imported from: the process runs the same code, whatever
# the folder it is started in.
SOURCE = Path(bot.__file__).resolve().parent.parent


def event_file(folder: Path) -> Path:
    """The seed event with secret codes of its own: `run` refuses the published demo codes."""
    text = SEED_EVENT.read_text(encoding="utf-8")
    text = re.sub(
        r"^(\s*(?:organiser|facilitator)_code:) \S+",
        lambda m: f"{m.group(1)} load-{secrets.token_hex(8)}",
        text,
        flags=re.MULTILINE,
    )
    path = folder / "event.yaml"
    path.write_text(text, encoding="utf-8")
    return path


async def seed(database: Path, event: Event, people: dict[int, str]) -> None:
    """People checked in (consent, site, a table, a role) with the storage layer, and the two
    facilitators; `people` maps user id to site key."""
    now = datetime.now(UTC)
    db = await Database.open(database)
    uow = SqliteUnitOfWork(db)
    try:
        async with uow.transaction():
            for n, (user_id, site_key) in enumerate(people.items()):
                await uow.participants.upsert(user_id, user_id, f"P{n}", now, "da")
                await uow.participants.record_consent(user_id, event.key, "load", now)
                await uow.checkins.save(
                    CheckIn(
                        event.key,
                        user_id,
                        site_key,
                        f"t{n % 4 + 1}",
                        now,
                        now,
                        category_key="politician",
                        anonymous=False,
                    )
                )
            for user_id, site_key in ((HOST, "aalborg"), (FEED_HOST, "kobenhavn")):
                await uow.participants.upsert(user_id, user_id, "Host", now, "en")
                await uow.roles.grant(event.key, user_id, Role.FACILITATOR, site_key, "code", now)
    finally:
        await db.close()


@dataclass
class Stopped:
    """How the process ended: within `STOP_WITHIN` of SIGINT, or killed after it."""

    cleanly: bool | None = None  # None while it runs


@contextlib.asynccontextmanager
async def bot_process(
    folder: Path, api: FakeBotApi, database: Path, event: Path, *, strict: bool = True
) -> AsyncIterator[Stopped]:
    """`python -m bot run` against `api` on loopback until the block ends; then SIGINT, and
    SIGKILL if it has not stopped within `STOP_WITHIN` s: a hang raises when `strict` (it
    does not hang the caller), else it is only recorded in the `Stopped` yielded."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "EVENT_"))},
        "DATABASE_PATH": str(database),
        "EVENT_FILE": str(event),
        "LOG_LEVEL": "WARNING",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(SOURCE), os.environ.get("PYTHONPATH")])),
    }
    async with FakeBotApiServer(api) as server:
        env["TELEGRAM_BOT_TOKEN"] = TOKEN
        env["TELEGRAM_API_BASE_URL"] = server.base_url
        env["TELEGRAM_API_FILE_URL"] = server.base_file_url
        with (folder / "bot.log").open("ab") as log:
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot", "run", env=env, cwd=folder, stdout=log, stderr=log
            )
        stopped = Stopped()
        try:
            await _until(lambda: api.calls_to("deleteWebhook"), 30, "the bot to poll")
            yield stopped
        finally:
            stopped.cleanly = True
            if process.returncode is None:
                process.send_signal(signal.SIGINT)
                try:
                    await asyncio.wait_for(process.wait(), STOP_WITHIN)
                except TimeoutError:
                    stopped.cleanly = False
                    process.kill()
                    await process.wait()
                    if strict:
                        message = f"the bot did not stop within {STOP_WITHIN} s"
                        raise RuntimeError(message) from None


async def have_written(api: FakeBotApi, user_ids: Iterable[int]) -> None:
    """Each person has written to the bot before (so Telegram lets it write to them); the
    bot will not see those old messages: they are confirmed through the Bot API here."""
    last = 0
    for user_id in user_ids:
        last = api.user(user_id, f"P{user_id}", language_code="da").send("/start")["update_id"]
    await api.call(TOKEN, "getUpdates", {"offset": last + 1, "timeout": 0})


async def _until(condition: Any, within: float, what: str) -> Any:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if value := condition():
            return value
        await asyncio.sleep(0.02)
    raise TimeoutError(f"timed out after {within:.0f} s waiting for {what}")


def query(database: Path, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(database, timeout=10) as conn:
        return conn.execute(sql).fetchall()


async def all_handled(database: Path, api: FakeBotApi, within: float = 60) -> None:
    """Every update Telegram has is confirmed, stored and handled by the bot."""
    await _until(lambda: not api.pending_updates(), within, "every update fetched")
    await _until(
        lambda: query(database, "SELECT COUNT(*) FROM inbox WHERE state = 'pending'") == [(0,)],
        within,
        "every update handled",
    )


class Answers:
    """The fake's accepted sends and edits per chat, each recorded call read once: cheap to
    ask from hundreds of waiting people at once (reading `FakeUser.inbox()` is not)."""

    def __init__(self, api: FakeBotApi) -> None:
        self._api = api
        self._seen = 0
        self._by_chat: dict[int, list[ApiCall]] = {}

    def _refresh(self) -> None:
        calls = self._api.calls
        for call in calls[self._seen :]:
            chat = call.params.get("chat_id")
            if call.method in ANSWERS and call.ok and isinstance(chat, int):
                self._by_chat.setdefault(chat, []).append(call)
        self._seen = len(calls)

    def to(self, chat_id: int) -> list[ApiCall]:
        self._refresh()
        return self._by_chat.get(chat_id, [])

    async def after(self, chat_id: int, seen: int, within: float) -> ApiCall | None:
        """The first answer to `chat_id` after the first `seen`, or None after `within` s."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            answers = self.to(chat_id)
            if len(answers) > seen:
                return answers[seen]
            await asyncio.sleep(0.02)
        return None


def percentile(values: Iterable[float], share: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[max(0, min(len(ordered) - 1, int(share * len(ordered) + 0.999999) - 1))]


# -- 1. flooders during a broadcast -----------------------------------------------------------


@dataclass
class FloodFigures:
    unloaded: float  # seconds from pressing Send to the last of the copies
    loaded: float | None  # the same while the flooders write; None: not all within `within`
    loaded_reached: int  # copies the fake accepted by then
    inputs_sent: int
    inputs_acknowledged: int  # 👍 set on them by the time the loaded broadcast completed
    where_latencies: list[float] = field(default_factory=list)
    unanswered_where: int = 0
    rate_limited: int = 0  # 429s the fake answered
    answers_to_writers: int = 0  # sentences the flooders got back (not 👍) by the end
    stopped_cleanly: bool | None = None  # the bot stopped within STOP_WITHIN of SIGINT


async def _broadcast(
    api: FakeBotApi, answers: Answers, host: FakeUser, text: str, people: list[int], within: float
) -> tuple[float | None, int]:
    """Seconds from pressing Send to the last copy (None if not all came within `within`),
    and how many people the copy reached by then."""
    seen = len(answers.to(host.id))
    host.send(f"/broadcast {text}")
    while True:  # the facilitator may get other notices meanwhile (missed agenda items)
        preview = await answers.after(host.id, seen, 30)
        if preview is None:
            raise TimeoutError("no broadcast preview")
        seen += 1
        if "📣" in str(preview.params.get("reply_markup")):
            break
    pressed = time.time()
    host.press_button(preview.result, "📣 Send")

    def reached() -> list[float]:
        got: list[float] = []
        for user_id in people:
            copy = next(
                (c for c in answers.to(user_id) if text in str(c.params.get("text"))), None
            )
            if copy is not None:
                got.append(copy.at)
        return got

    with contextlib.suppress(TimeoutError):
        await _until(lambda: len(reached()) == len(people), within, "every copy")
    copies = reached()
    return (max(copies) - pressed if len(copies) == len(people) else None), len(copies)


async def _ask_where(
    answers: Answers,
    person: FakeUser,
    stop: asyncio.Event,
    every: float,
    latencies: list[float],
    within: float = 10,
) -> int:
    """/where every `every` s until `stop`; returns how many got no answer within `within`."""
    unanswered = 0
    while not stop.is_set():
        seen = len(answers.to(person.id))
        asked = time.time()
        person.send("/where")
        answer = await answers.after(person.id, seen, within)
        if answer is None:
            unanswered += 1
        else:
            latencies.append(answer.at - asked)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every)
    return unanswered


async def _flood(person: FakeUser, stop: asyncio.Event, sent: list[int]) -> None:
    await asyncio.sleep(random.random())  # noqa: S311 - spread over the second, not security
    n = 0
    while not stop.is_set():
        person.send(f"Input {n} fra {person.id}")
        sent.append(person.id)
        n += 1
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 1.0)


async def flood_during_broadcast(
    folder: Path,
    *,
    people: int = 150,
    flooders: int = 40,
    within: float = 120,
    flooders_checked_in: bool = True,
) -> FloodFigures:
    """With `flooders_checked_in` False the flooders are strangers: their messages are not
    inputs, and each stranger is told once a minute that they are not checked in
    (`bot.services.pace.SaidOnce`) instead of at every message."""
    path = event_file(folder)
    event = load_event(path)
    database = folder / "flood.sqlite3"
    audience = [FIRST_PARTICIPANT + n for n in range(people)]
    writers = [FIRST_FLOODER + n for n in range(flooders)]
    await seed(
        database,
        event,
        {
            **dict.fromkeys(audience, "aalborg"),
            **dict.fromkeys(writers if flooders_checked_in else [], "kobenhavn"),
            QUIET: "kobenhavn",
        },
    )
    api = FakeBotApi(TOKEN)
    api.limits = TelegramLimits()
    await have_written(api, [*audience, *writers, QUIET, HOST, FEED_HOST])
    host = api.user(HOST, "Host", language_code="en")
    api.user(FEED_HOST, "Feed host", language_code="en")
    quiet = api.user(QUIET, "Quiet", language_code="da")
    answers = Answers(api)
    async with bot_process(folder, api, database, path, strict=flooders_checked_in) as stopped:
        unloaded, _ = await _broadcast(api, answers, host, "Kaffen er klar", audience, within)
        if unloaded is None:
            raise TimeoutError("the broadcast without load did not complete")
        stop, sent = asyncio.Event(), list[int]()
        floods = [asyncio.create_task(_flood(api.user(w, f"P{w}"), stop, sent)) for w in writers]
        latencies: list[float] = []
        asking = asyncio.create_task(_ask_where(answers, quiet, stop, 1.0, latencies))
        try:
            await asyncio.sleep(3)  # the flood under way before the broadcast starts
            loaded, reached = await _broadcast(
                api, answers, host, "Frokosten er klar", audience, within
            )
            acknowledged = len(api.reactions)
            to_writers = sum(len(answers.to(w)) for w in writers)
        finally:
            stop.set()
            await asyncio.gather(*floods)
            unanswered = await asking
    return FloodFigures(
        unloaded=unloaded,
        loaded=loaded,
        loaded_reached=reached,
        inputs_sent=len(sent),
        inputs_acknowledged=acknowledged,
        where_latencies=latencies,
        unanswered_where=unanswered,
        rate_limited=api.rate_limited,
        answers_to_writers=to_writers,
        stopped_cleanly=stopped.cleanly,
    )


# -- 2. a stranger sending /help flat out ------------------------------------------------------


@dataclass
class StrangerFigures:
    sent: int  # /help commands the stranger sent
    helped: int  # answers with the help text
    notices: int  # answers saying to slow down
    other: int  # any other answer
    where_latencies: list[float] = field(default_factory=list)
    unanswered_where: int = 0


async def stranger_flood(
    folder: Path, *, seconds: float = 10.0, per_second: int = 100
) -> StrangerFigures:
    path = event_file(folder)
    event = load_event(path)
    texts = Catalogue.load(default=event.default_language)
    database = folder / "stranger.sqlite3"
    await seed(database, event, {QUIET: "aalborg"})
    api = FakeBotApi(TOKEN)
    api.limits = TelegramLimits()
    quiet = api.user(QUIET, "Quiet", language_code="da")
    stranger = api.user(STRANGER, "Stranger", language_code="da")
    answers = Answers(api)
    async with bot_process(folder, api, database, path):
        stop = asyncio.Event()
        latencies: list[float] = []
        asking = asyncio.create_task(_ask_where(answers, quiet, stop, 1.0, latencies))
        sent = 0
        started = time.monotonic()
        while (elapsed := time.monotonic() - started) < seconds:
            # A script at `per_second`, catching up after any stall of this loop.
            while sent < elapsed * per_second:
                stranger.send("/help")
                sent += 1
            await asyncio.sleep(1 / per_second)
        stop.set()
        unanswered = await asking
        await all_handled(database, api)
    shown = [str(call.params.get("text")) for call in answers.to(STRANGER)]
    notice = texts("da", "pace.slow_down")
    # A stranger is not checked in: their help starts with how to check in.
    helped = sum(1 for text in shown if text.startswith(texts("da", "help.stranger")))
    notices = shown.count(notice)
    return StrangerFigures(
        sent=sent,
        helped=helped,
        notices=notices,
        other=len(shown) - helped - notices,
        where_latencies=latencies,
        unanswered_where=unanswered,
    )


# -- 3. parallel check-ins ------------------------------------------------------------------


@dataclass
class CheckInFigures:
    people: int
    completed: list[float]  # seconds from /start to the last answer, per person who finished
    lost: int  # answers that never came (each leaves one person stuck)
    checked_in: int  # rows in the database with site, table, role and the anonymity choice


STEPS = ("v1:consent:yes", "v1:cat:politician", "v1:anon:named")


async def _check_in(
    api: FakeBotApi, answers: Answers, user_id: int, within: float
) -> float | None:
    person = api.user(user_id, f"P{user_id}", language_code="da")
    started = time.time()
    person.send(f"/start aalborg-t{user_id % 4 + 1}")
    seen = 0
    for data in STEPS:
        # The answer that offers this step's button (skipping any other message before it).
        while True:
            answer = await answers.after(user_id, seen, within)
            if answer is None:
                return None
            seen += 1
            if data in str(answer.params.get("reply_markup")):
                break
        person.press(answer.result, data)
    last = await answers.after(user_id, seen, within)
    return None if last is None else last.at - started


async def parallel_checkins(
    folder: Path, *, people: int = 300, within: float = 120
) -> CheckInFigures:
    database = folder / "checkins.sqlite3"
    api = FakeBotApi(TOKEN)
    api.limits = TelegramLimits()
    answers = Answers(api)
    ids = [FIRST_PARTICIPANT + n for n in range(people)]
    async with bot_process(folder, api, database, event_file(folder)):
        results = await asyncio.gather(*(_check_in(api, answers, i, within) for i in ids))
        await all_handled(database, api)
    rows = query(
        database,
        "SELECT COUNT(*) FROM checkins WHERE site_key = 'aalborg' AND group_key IS NOT NULL"
        " AND category_key = 'politician' AND anonymous = 0",
    )
    completed = [r for r in results if r is not None]
    return CheckInFigures(
        people=people, completed=completed, lost=people - len(completed), checked_in=rows[0][0]
    )
