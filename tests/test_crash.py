"""The bot as a real process, killed with SIGKILL in the middle of an input burst and of a
broadcast, then started again on the same database: nothing acknowledged is lost, nothing
handed out is skipped, nothing is sent twice, and sending resumes promptly."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.eventfile import SEED_EVENT, load_event
from bot.models import CheckIn, Role
from bot.sandbox import FakeBotApi, FakeBotApiServer
from storage.db import Database
from storage.unit_of_work import SqliteUnitOfWork
from tests.waiting import eventually

TOKEN = "515151:CRASH-test"
PEOPLE = 300
HOST_ID = 9_999
NOW = datetime(2026, 1, 1, tzinfo=UTC)


async def seed(path: Path) -> None:
    """300 participants checked in at Aalborg with consent, and one facilitator."""
    event = load_event(SEED_EVENT)
    db = await Database.open(path)
    uow = SqliteUnitOfWork(db)
    try:
        async with uow.transaction():
            for n in range(PEOPLE):
                user_id = 20_000 + n
                await uow.participants.upsert(user_id, user_id, f"P{n}", NOW, "da")
                await uow.participants.record_consent(user_id, event.key, "test", NOW)
                await uow.checkins.save(
                    CheckIn(
                        event.key,
                        user_id,
                        "aalborg",
                        f"t{n % 4 + 1}",
                        NOW,
                        NOW,
                        category_key="politician",
                        anonymous=False,
                    )
                )
            await uow.participants.upsert(HOST_ID, HOST_ID, "Host", NOW, "en")
            await uow.roles.grant(event.key, HOST_ID, Role.FACILITATOR, "aalborg", "code", NOW)
    finally:
        await db.close()


class Bot:
    """`python -m bot run` against the fake Bot API on loopback."""

    def __init__(self, server: FakeBotApiServer, database: Path, log: Path) -> None:
        self._env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("TELEGRAM_")},
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "TELEGRAM_API_BASE_URL": server.base_url,
            "TELEGRAM_API_FILE_URL": server.base_file_url,
            "DATABASE_PATH": str(database),
            "LOG_LEVEL": "WARNING",
            # It runs in a temporary folder: the code under test is this checkout's.
            "PYTHONPATH": str(Path(__file__).resolve().parents[1]),
        }
        self._log = log
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        handle = self._log.open("ab")
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "run",
            "--allow-demo-codes",  # the seed's codes, against a fake Telegram
            env=self._env,
            cwd=self._log.parent,
            stdout=handle,
            stderr=handle,
        )
        handle.close()

    async def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        await self.process.wait()

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGINT)
            await asyncio.wait_for(self.process.wait(), 20)


def rows(path: Path, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(path, timeout=10) as conn:
        return conn.execute(sql).fetchall()


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[tuple[FakeBotApi, Bot, Path]]:
    database = tmp_path / "crash.sqlite3"
    await seed(database)
    api = FakeBotApi(TOKEN)
    async with FakeBotApiServer(api) as server:
        bot = Bot(server, database, tmp_path / "bot.log")
        try:
            yield api, bot, database
        finally:
            await bot.stop()


async def test_a_kill_during_an_input_burst_loses_no_acknowledged_input(
    world: tuple[FakeBotApi, Bot, Path],
) -> None:
    api, bot, database = world
    people = [api.user(20_000 + n, f"P{n}", language_code="da") for n in range(PEOPLE)]
    await bot.start()
    await eventually(lambda: api.calls_to("deleteWebhook"), 20, "the bot to poll")
    sent = [person.send(f"Input {person.id}-{k}") for k in range(2) for person in people]
    await eventually(lambda: len(api.reactions) >= len(sent) // 4, 60, "a quarter acknowledged")
    await bot.kill()
    acknowledged_at_kill = set(api.reactions)
    stored_at_kill = rows(database, "SELECT COUNT(*) FROM inputs")[0][0]

    restarted = time.monotonic()
    await bot.start()
    await eventually(lambda: len(api.reactions) > len(acknowledged_at_kill), 30, "resuming")
    recovery = time.monotonic() - restarted
    await eventually(lambda: len(api.reactions) == len(sent), 90, "every input acknowledged")

    stored = rows(database, "SELECT chat_id, message_id, COUNT(*) FROM inputs GROUP BY 1, 2")
    assert len(stored) == len(sent)  # every update handed out was handled
    assert {count for *_, count in stored} == {1}  # exactly once
    stored_keys = {(chat, message) for chat, message, _ in stored}
    assert acknowledged_at_kill <= stored_keys  # nothing acknowledged was lost
    assert recovery < 30
    print(  # noqa: T201 - the figures the issue asks for, visible with -s
        f"\ninput burst: {len(sent)} sent, {len(acknowledged_at_kill)} acknowledged and "
        f"{stored_at_kill} stored at the kill, {len(stored)} stored in the end, "
        f"recovery {recovery:.1f} s"
    )


async def test_a_kill_during_a_broadcast_neither_loses_nor_doubles_a_message(
    world: tuple[FakeBotApi, Bot, Path],
) -> None:
    api, bot, database = world
    people = [api.user(20_000 + n, f"P{n}", language_code="da") for n in range(PEOPLE)]
    host = api.user(HOST_ID, "Host", language_code="en")
    await bot.start()
    await eventually(lambda: api.calls_to("deleteWebhook"), 20, "the bot to poll")
    for person in people:  # each has written to the bot, as a real participant would have
        person.send("/where")
    await eventually(lambda: all(p.inbox() for p in people), 60, "everyone answered")

    def copies() -> Counter[int]:
        return Counter(
            call.params["chat_id"]
            for call in api.calls_to("sendMessage")
            if call.ok
            and "Coffee is ready" in str(call.params.get("text", ""))
            and call.params["chat_id"] != HOST_ID
        )

    host.send("/broadcast Coffee is ready in the foyer")
    preview = await eventually(
        lambda: host.inbox() and host.last().get("reply_markup") and host.last(), 20, "the preview"
    )
    host.press_button(preview, "📣 Send")
    await eventually(lambda: sum(copies().values()) >= 60, 60, "the broadcast under way")
    await bot.kill()
    delivered_at_kill = sum(copies().values())

    restarted = time.monotonic()
    await bot.start()
    await eventually(lambda: sum(copies().values()) > delivered_at_kill, 30, "resuming")
    recovery = time.monotonic() - restarted
    await eventually(
        lambda: (
            rows(
                database,
                "SELECT COUNT(*) FROM outbox WHERE kind = 'broadcast'"
                " AND status IN ('pending', 'sending')",
            )
            == [(0,)]
        ),
        60,
        "the outbox to drain",
    )
    states = dict(
        rows(
            database,
            "SELECT status, COUNT(*) FROM outbox WHERE kind = 'broadcast' GROUP BY status",
        )
    )
    received = copies()
    doubled = sum(1 for n in received.values() if n > 1)
    assert states.get("sent", 0) + states.get("unknown", 0) == PEOPLE
    assert doubled <= states.get("unknown", 0)  # a duplicate only where the outcome was unknown
    assert doubled == 0  # and unknown sends are not resent blindly
    assert len(received) >= states.get("sent", 0)
    assert recovery < 30
    print(  # noqa: T201 - the figures the issue asks for, visible with -s
        f"\nbroadcast: {PEOPLE} due, {delivered_at_kill} delivered at the kill, "
        f"{len(received)} reached in the end, states {states}, duplicates {doubled}, "
        f"recovery {recovery:.1f} s"
    )
