"""Nothing lost, nothing doubled: updates through the inbox, concurrently across chats and in
order within each, over long polling and the webhook; database trouble is retried."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from bot.app import App, Webhook, build_application, serve
from bot.config import Settings
from bot.event import Event
from bot.models import Input
from bot.sandbox import FakeBotApi, FakeRequest, FakeUser
from bot.sandbox.harness import unthrottled
from handlers.updates import ChatOrderedProcessor
from tests.handlers.conftest import TOKEN
from tests.waiting import eventually

# The live clock is far past the seed event of 2018: inputs are kept as general inputs.


def settings_for(tmp_path: Path) -> Settings:
    return Settings(
        _env_file=None,
        telegram_bot_token=SecretStr(TOKEN),
        database_path=tmp_path / "intake.sqlite3",
    )


@asynccontextmanager
async def running(
    tmp_path: Path,
    api: FakeBotApi,
    event: Event,
    *,
    latency: float = 0.0,
    webhook: Webhook | None = None,
) -> AsyncIterator[App]:
    app = build_application(
        settings_for(tmp_path),
        event=event,
        request_factory=lambda: FakeRequest(api, latency=latency),
        limiter=unthrottled(),
    )
    stop = asyncio.Event()
    task = asyncio.create_task(serve(app, webhook=webhook, stop=stop, poll_timeout=1))
    await eventually(lambda: api.calls_to("getMe"))
    try:
        yield app
    finally:
        stop.set()
        await asyncio.wait_for(task, 20)


def query(tmp_path: Path, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(tmp_path / "intake.sqlite3") as conn:
        return conn.execute(sql).fetchall()


def offers(user: FakeUser, data: str) -> dict[str, Any] | None:
    """The latest bot message offering a button with this data, if any."""
    for message in reversed(user.inbox()):
        rows = message.get("reply_markup", {}).get("inline_keyboard", [])
        if any(b.get("callback_data") == data for row in rows for b in row):
            return message
    return None


async def checked_in(api: FakeBotApi, user: FakeUser) -> None:
    """Check in through the bot: consent, role, name."""
    user.send("/start aalborg-t1")
    for data in ("v1:consent:yes", "v1:cat:politician", "v1:anon:named"):
        message = await eventually(partial(offers, user, data))
        user.press(message, data)
    await eventually(lambda: "tjekket ind" in user.last()["text"])
    del api


async def test_chats_run_concurrently_and_each_chat_stays_in_order(
    tmp_path: Path, seed_event: Event
) -> None:
    api = FakeBotApi(TOKEN)
    async with running(tmp_path, api, seed_event, latency=0.02) as app:
        people = [api.user(1000 + n, f"P{n}", language_code="da") for n in range(12)]
        await asyncio.gather(*(checked_in(api, p) for p in people))
        for round_ in range(5):
            for person in people:
                person.send(f"{person.id}:{round_}")
        await eventually(lambda: query(tmp_path, "SELECT COUNT(*) FROM inputs") == [(60,)])
        processor = app.update_processor
        assert isinstance(processor, ChatOrderedProcessor)
        assert processor.peak > 1  # chats really were handled at the same time
    rows = query(tmp_path, "SELECT user_id, text FROM inputs ORDER BY id")
    for person in people:
        mine = [text for user_id, text in rows if user_id == person.id]
        assert mine == [f"{person.id}:{r}" for r in range(5)]
    assert query(tmp_path, "SELECT state, COUNT(*) FROM inbox GROUP BY state") == [
        ("done", len(query(tmp_path, "SELECT * FROM inbox")))
    ]
    # Message texts leave the inbox once handled.
    assert query(tmp_path, "SELECT COUNT(*) FROM inbox WHERE payload IS NOT NULL") == [(0,)]


async def test_updates_fetched_before_a_crash_are_handled_at_the_next_start(
    tmp_path: Path, seed_event: Event
) -> None:
    api = FakeBotApi(TOKEN)
    async with running(tmp_path, api, seed_event):
        anna = api.user(1100, "Anna", language_code="da")
        await checked_in(api, anna)
    # As if the bot had stored these updates and died before handling them.
    first = anna.send("Fra før nedbruddet")
    second = anna.send("Også fra før")
    pending = api.pending_updates()
    with sqlite3.connect(tmp_path / "intake.sqlite3") as conn:
        conn.executemany(
            "INSERT INTO inbox (update_id, domain_key, payload, received_at)"
            " VALUES (?, ?, ?, '2026-01-01T00:00:00+00:00')",
            [
                (u["update_id"], f"m:{anna.id}:{u['message']['message_id']}", json.dumps(u))
                for u in pending
            ],
        )
    async with running(tmp_path, api, seed_event):
        await eventually(lambda: query(tmp_path, "SELECT COUNT(*) FROM inputs") == [(2,)])
        # Confirmed to Telegram, so any offer of them anew was stored (and queued) before;
        # stopping then handles whatever is queued.
        await eventually(lambda: not api.pending_updates(), what="the updates confirmed")
    # Handled once: resumed from the inbox, and not again when Telegram offered them anew.
    assert query(tmp_path, "SELECT text FROM inputs ORDER BY id") == [
        ("Fra før nedbruddet",),
        ("Også fra før",),
    ]
    del first, second


async def test_the_same_button_press_under_a_new_update_id_counts_once(
    tmp_path: Path, seed_event: Event
) -> None:
    api = FakeBotApi(TOKEN)
    async with running(tmp_path, api, seed_event):
        anna = api.user(1200, "Anna", language_code="da")
        await checked_in(api, anna)
        anna.send("/language")
        # The language buttons, not a keyboard of the check-in still standing as the last.
        await eventually(lambda: "v1:lang:" in str(anna.last().get("reply_markup")))
        press = anna.press(anna.last(), "v1:lang:en")
        again = {k: v for k, v in press.items() if k != "update_id"}
        api.push_update(again)  # Telegram re-sent the same callback query
        await eventually(
            lambda: (
                query(tmp_path, "SELECT COUNT(*) FROM inbox WHERE state = 'duplicate'") == [(1,)]
            )
        )
    assert query(tmp_path, "SELECT language FROM participants") == [("en",)]


async def test_a_locked_database_gets_an_apology_no_ack_and_a_retry(
    tmp_path: Path, seed_event: Event, monkeypatch: pytest.MonkeyPatch
) -> None:
    from storage.inputs import SqliteInputRepo

    api = FakeBotApi(TOKEN)
    real_add = SqliteInputRepo.add
    failures = {"left": 1}

    async def flaky_add(self: SqliteInputRepo, **kwargs: Any) -> Input | None:
        if failures["left"]:
            failures["left"] -= 1
            raise sqlite3.OperationalError("database is locked")
        return await real_add(self, **kwargs)

    monkeypatch.setattr(SqliteInputRepo, "add", flaky_add)
    async with running(tmp_path, api, seed_event) as app:
        processor = app.update_processor
        assert isinstance(processor, ChatOrderedProcessor)
        processor.retry_delay = 0.2
        anna = api.user(1300, "Anna", language_code="da")
        await checked_in(api, anna)
        sent = anna.send("Et vigtigt input")
        await eventually(lambda: "kunne ikke gemme" in anna.last()["text"])
        assert (anna.id, sent["message"]["message_id"]) not in api.reactions
        # The inbox hands the update on again; this time it is stored and acknowledged.
        await eventually(lambda: (anna.id, sent["message"]["message_id"]) in api.reactions)
    assert query(tmp_path, "SELECT text FROM inputs") == [("Et vigtigt input",)]


async def test_the_webhook_checks_the_secret_and_stores_before_answering(
    tmp_path: Path, seed_event: Event
) -> None:
    api = FakeBotApi(TOKEN)
    hook = Webhook(
        url="https://bot.example.org/tg-hook",
        secret_token="s3cret-Token_1",
        listen="127.0.0.1",
        port=0,
    )
    async with running(tmp_path, api, seed_event, webhook=hook) as app:
        [call] = await eventually(lambda: api.calls_to("setWebhook"))
        assert call.params["secret_token"] == "s3cret-Token_1"
        assert call.params.get("drop_pending_updates") in (None, False)
        port = await eventually(lambda: _webhook_port(app))
        # Made by the fake (so the chat exists there) but delivered over HTTP as a webhook.
        update = api.user(1400, "Wendy", language_code="en").send("/start")
        async with httpx.AsyncClient() as client:
            url = f"http://127.0.0.1:{port}/tg-hook"
            wrong = await client.post(
                url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "guess"}
            )
            assert wrong.status_code == 403
            assert query(tmp_path, "SELECT COUNT(*) FROM inbox") == [(0,)]
            right = await client.post(
                url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "s3cret-Token_1"}
            )
            assert right.status_code == 200
            assert query(tmp_path, "SELECT update_id FROM inbox") == [(update["update_id"],)]
            again = await client.post(
                url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "s3cret-Token_1"}
            )
            assert again.status_code == 200
        await eventually(lambda: api.sent_messages(1400))
        await asyncio.wait_for(app.update_queue.join(), 15)  # whatever was queued is handled
        assert len(api.sent_messages(1400)) == 1  # handled once


def _webhook_port(app: App) -> int | None:
    return getattr(app.bot_data, "webhook_port", None)
