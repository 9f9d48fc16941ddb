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

from bot.app import Running, Webhook, serve
from bot.app import running as bot_running
from bot.config import Settings
from bot.event import Event
from bot.models import Input
from bot.sandbox import FakeBotApi, FakeRequest, FakeUser
from bot.sandbox.harness import unthrottled
from bot.telegram.processor import ChatOrderedProcessor
from tests.handlers.conftest import TOKEN
from tests.waiting import eventually
from web.server import Listen

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
    headers_timeout: float = 10.0,
) -> AsyncIterator[Running]:
    stop = asyncio.Event()
    async with bot_running(
        settings_for(tmp_path),
        event=event,
        request_factory=lambda: FakeRequest(api, latency=latency),
        limiter=unthrottled(),
    ) as bot:
        listen = Listen(port=0, headers_timeout=headers_timeout) if webhook else None
        task = asyncio.create_task(
            serve(bot, webhook=webhook, listen=listen, stop=stop, poll_timeout=1)
        )
        await eventually(lambda: api.calls_to("setWebhook" if webhook else "deleteWebhook"))
        try:
            yield bot
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
    async with running(tmp_path, api, seed_event, latency=0.02) as bot:
        people = [api.user(1000 + n, f"P{n}", language_code="da") for n in range(12)]
        await asyncio.gather(*(checked_in(api, p) for p in people))
        for round_ in range(5):
            for person in people:
                person.send(f"{person.id}:{round_}")
        await eventually(lambda: query(tmp_path, "SELECT COUNT(*) FROM inputs") == [(60,)])
        processor = bot.app.update_processor
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
    async with running(tmp_path, api, seed_event) as bot:
        processor = bot.app.update_processor
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
    hook = Webhook(url="https://bot.example.org/tg-hook", secret_token="s3cret-Token_1")
    async with running(tmp_path, api, seed_event, webhook=hook) as bot:
        [call] = await eventually(lambda: api.calls_to("setWebhook"))
        assert call.params["secret_token"] == "s3cret-Token_1"
        assert call.params.get("drop_pending_updates") in (None, False)
        port = bot.http_port
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
        await asyncio.wait_for(bot.app.update_queue.join(), 15)  # whatever was queued is handled
        assert len(api.sent_messages(1400)) == 1  # handled once


HOOK = Webhook(url="https://bot.example.org/tg-hook", secret_token="s3cret-Token_1")
SECRET = {"X-Telegram-Bot-Api-Secret-Token": "s3cret-Token_1"}


async def test_the_webhook_refuses_a_missing_secret_and_an_oversized_body_and_stores_nothing(
    tmp_path: Path, seed_event: Event
) -> None:
    api = FakeBotApi(TOKEN)
    async with running(tmp_path, api, seed_event, webhook=HOOK) as bot:
        update = api.user(1500, "Wendy", language_code="en").send("/start")
        url = f"http://127.0.0.1:{bot.http_port}/tg-hook"
        async with httpx.AsyncClient() as client:
            missing = await client.post(url, json=update)
            assert missing.status_code == 403
            big = {**update, "padding": "x" * (2 * 1024 * 1024)}
            declared = await client.post(url, json=big, headers=SECRET)
            assert declared.status_code == 413

            async def chunks() -> AsyncIterator[bytes]:
                for _ in range(40):  # 2.5 MiB without a Content-Length
                    yield b" " * 65536

            chunked = await client.post(url, content=chunks(), headers=SECRET)
            assert chunked.status_code == 413
            malformed = await client.post(url, content=b"{not json", headers=SECRET)
            assert malformed.status_code == 400
            health = await client.get(f"http://127.0.0.1:{bot.http_port}/healthz")
            assert health.status_code == 200
            assert health.json()["status"] == "ok"
        assert query(tmp_path, "SELECT COUNT(*) FROM inbox") == [(0,)]


async def test_an_oversized_body_is_refused_before_it_is_sent(
    tmp_path: Path, seed_event: Event
) -> None:
    """The answer comes from the Content-Length alone: the client has sent no byte of it."""
    api = FakeBotApi(TOKEN)
    async with running(tmp_path, api, seed_event, webhook=HOOK) as bot:
        reader, writer = await asyncio.open_connection("127.0.0.1", bot.http_port)
        writer.write(
            b"POST /tg-hook HTTP/1.1\r\nHost: bot\r\nContent-Type: application/json\r\n"
            b"X-Telegram-Bot-Api-Secret-Token: s3cret-Token_1\r\n"
            b"Content-Length: 50000000\r\n\r\n"
        )
        await writer.drain()
        status = await asyncio.wait_for(reader.readline(), 5)
        writer.close()
        assert status.startswith(b"HTTP/1.1 413")
    assert query(tmp_path, "SELECT COUNT(*) FROM inbox") == [(0,)]


async def test_a_client_that_never_finishes_its_headers_does_not_hold_the_server(
    tmp_path: Path, seed_event: Event
) -> None:
    api = FakeBotApi(TOKEN)
    async with running(tmp_path, api, seed_event, webhook=HOOK, headers_timeout=0.5) as bot:
        port = bot.http_port
        assert port is not None
        slow = [await asyncio.open_connection("127.0.0.1", port) for _ in range(20)]
        for _, writer in slow:
            writer.write(b"POST /tg-hook HTTP/1.1\r\nHost: bot\r\nX-Telegram-Bot")  # …never ends
            await writer.drain()
        # Meanwhile Telegram's update is taken as usual.
        update = api.user(1600, "Wendy", language_code="en").send("/start")
        async with httpx.AsyncClient() as client:
            answer = await client.post(
                f"http://127.0.0.1:{port}/tg-hook", json=update, headers=SECRET
            )
        assert answer.status_code == 200
        # And each slow connection is closed by the server once its deadline passes.
        for reader, writer in slow:
            assert await asyncio.wait_for(reader.read(), 5) == b""
            writer.close()
    assert query(tmp_path, "SELECT update_id FROM inbox") == [(update["update_id"],)]


async def test_the_webhook_sets_a_poison_update_aside_and_answers_200(
    tmp_path: Path, seed_event: Event
) -> None:
    api = FakeBotApi(TOKEN)
    async with running(tmp_path, api, seed_event, webhook=HOOK) as bot:
        url = f"http://127.0.0.1:{bot.http_port}/tg-hook"
        poison = '{"update_id": 900, "message": {"text": "Hemmelig \\ud800"}}'
        async with httpx.AsyncClient() as client:
            answer = await client.post(
                url, content=poison, headers={**SECRET, "Content-Type": "application/json"}
            )
        assert answer.status_code == 200  # Telegram moves on
        assert query(tmp_path, "SELECT update_id, keys FROM quarantine") == [
            (900, "message,update_id")
        ]
        assert query(tmp_path, "SELECT COUNT(*) FROM inbox") == [(0,)]


async def test_a_poison_batch_logs_no_text_or_name_and_polling_goes_on(
    tmp_path: Path, seed_event: Event, caplog: pytest.LogCaptureFixture
) -> None:
    api = FakeBotApi(TOKEN)
    caplog.set_level("INFO")  # the bot's level; aiosqlite's DEBUG lines carry parameters
    async with running(tmp_path, api, seed_event):
        sender = {"id": 31, "is_bot": False, "first_name": "Giftnavn"}
        api.push_raw({"message": {}})
        api.push_raw(
            {
                "message": {
                    "message_id": 1,
                    "date": 0,
                    "chat": {"id": 31, "type": "private"},
                    "from": sender,
                    "text": "Gifttekst \ud800",
                }
            }
        )
        wendy = api.user(1401, "Wendy", language_code="en")
        wendy.send("/start")
        await eventually(lambda: api.sent_messages(1401), timeout=2)
        await eventually(lambda: query(tmp_path, "SELECT COUNT(*) FROM quarantine") == [(2,)])
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "Gifttekst" not in logged
    assert "Giftnavn" not in logged
    assert not [r for r in caplog.records if r.levelname == "CRITICAL"]
