"""The database file under `python -m bot run`: deleted while the bot runs, nothing is
acknowledged any more and the log says why; read-only at start, one sentence, no traceback;
read-only while the bot runs, nothing acknowledged, said once, named in /health and /healthz,
and acknowledging again once the file is writable again."""

from __future__ import annotations

import asyncio
import shutil
import signal
import sqlite3
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.sandbox import FakeBotApi, FakeBotApiServer, FakeUser
from bot.sandbox.today import free_port
from storage.db import Database
from tests.test_run_over_http import TOKEN, _run_bot, finish_check_in, new_message
from tests.waiting import eventually

NO_CHATTR = shutil.which("chattr") is None


async def test_a_deleted_database_file_stops_the_bot_acknowledging(tmp_path: Path) -> None:
    api = FakeBotApi(TOKEN)
    async with FakeBotApiServer(api) as server:
        process = await _run_bot(tmp_path, server)
        try:
            await eventually(lambda: api.calls_to("deleteWebhook"), what="polling to start")
            (tmp_path / "run.sqlite3").unlink()
            await asyncio.sleep(1.1)  # the bot looks at the file once a second
            anna = api.user(8, "Anna", language_code="da")
            anna.send("/start aalborg-t2")
            answer = await eventually(new_message(anna, 0), what="an answer")
        finally:
            process.send_signal(signal.SIGINT)
            stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=20)
    log = (stdout + stderr).decode()
    assert "kunne ikke gemme" in answer["text"], answer["text"]
    assert "deleted or replaced" in log


@pytest.mark.skipif(NO_CHATTR, reason="needs chattr for a read-only file")
async def test_a_read_only_database_at_start_is_one_sentence(tmp_path: Path) -> None:
    db = tmp_path / "run.sqlite3"
    await (await Database.open(db)).close()  # migrated: start-up itself needs no write
    frozen = subprocess.run(["chattr", "+i", str(db)], check=False)  # noqa: ASYNC221, S603, S607
    if frozen.returncode != 0:
        pytest.skip("chattr +i is not allowed here")
    try:
        async with FakeBotApiServer(FakeBotApi(TOKEN)) as server:
            process = await _run_bot(tmp_path, server)
            _, stderr = await asyncio.wait_for(process.communicate(), timeout=30)
    finally:
        subprocess.run(["chattr", "-i", str(db)], check=False)  # noqa: ASYNC221, S603, S607
    said = stderr.decode().strip()
    assert process.returncode != 0
    assert "Traceback" not in said, said
    assert said.splitlines()[-1].startswith("Database problem:"), said


@contextmanager
def _immutable(*files: Path) -> Iterator[None]:
    """The files read-only even to root (plain chmod does not stop root), as a file system
    remounted read-only would make them; writable again on the way out."""
    frozen = subprocess.run(["chattr", "+i", *map(str, files)], check=False)  # noqa: S603, S607
    try:
        if frozen.returncode != 0:
            pytest.skip("chattr +i is not allowed here")
        yield
    finally:
        subprocess.run(["chattr", "-i", *map(str, files)], check=False)  # noqa: S603, S607


def _healthz(port: int, status: int) -> Callable[[], dict[str, Any] | None]:
    def answered() -> dict[str, Any] | None:
        response = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=10)
        body: dict[str, Any] = response.json()
        return body if response.status_code == status else None

    return answered


def _reacted(api: FakeBotApi, sent: dict[str, Any]) -> bool:
    message_id = sent["message"]["message_id"]
    return any(
        call.params.get("message_id") == message_id for call in api.calls_to("setMessageReaction")
    )


async def _says(user: FakeUser, text: str, marker: str) -> str:
    count = len(user.inbox())
    user.send(text)
    answer = await eventually(new_message(user, count), what=f"an answer to {text}")
    assert marker in answer["text"], answer["text"]
    return str(answer["text"])


def _inputs(database: Path) -> list[tuple[Any, ...]]:
    with sqlite3.connect(database) as conn:
        return conn.execute("SELECT user_id, text FROM inputs").fetchall()


@pytest.mark.skipif(NO_CHATTR, reason="needs chattr for a read-only file")
async def test_a_database_turned_read_only_while_running_is_named_and_then_recovered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ORGANIZER_IDS", "99")
    database = tmp_path / "run.sqlite3"
    port = free_port()
    api = FakeBotApi(TOKEN)
    async with FakeBotApiServer(api) as server:
        process = await _run_bot(tmp_path, server, "--serve", "--port", str(port))
        try:
            await eventually(lambda: api.calls_to("deleteWebhook"), what="polling to start")
            healthy = await eventually(_healthz(port, 200), what="/healthz to say 200")
            assert healthy["database"] is None
            anna = api.user(8, "Anna", language_code="da")
            host = api.user(99, "Vært", language_code="da")
            anna.send("/start aalborg-t2")
            await finish_check_in(anna, await eventually(new_message(anna, 0), what="consent"))
            before = anna.send("Flere cykelstier")
            await eventually(lambda: _reacted(api, before), what="the first input's 👍")

            with _immutable(database, database.with_name(f"{database.name}-wal")):
                body = await eventually(_healthz(port, 503), what="/healthz to say 503")
                assert body["status"] == "unavailable"
                assert body["database"] == "database read-only"
                refused = anna.send("Billigere busser")
                apology = await _says(anna, "Og flere træer", "kunne ikke gemme")
                await _says(host, "/health", "Databasen er skrivebeskyttet")

            recovered = await eventually(_healthz(port, 200), what="/healthz to say 200")
            assert recovered["database"] is None
            report = await _says(host, "/health", "Sådan har botten det")
            after = anna.send("Billigere busser")
            await eventually(lambda: _reacted(api, after), what="the 👍 after recovery")
        finally:
            process.send_signal(signal.SIGINT)
            stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=20)
    log = (stdout + stderr).decode()
    assert process.returncode == 0, log
    assert "kunne ikke gemme" in apology
    assert "skrivebeskyttet" not in report
    assert not _reacted(api, refused)  # no 👍 for what was not stored
    assert _inputs(database) == [(8, "Flere cykelstier"), (8, "Billigere busser")]
    # One line when it happened and one when it ended, not one per update.
    assert log.count("became read-only") == 1, log
    assert log.count("is writable again: acknowledging again") == 1, log
    assert "error while handling update" not in log, log


async def test_a_deleted_database_file_is_named_in_health_and_healthz(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ORGANIZER_IDS", "99")
    port = free_port()
    api = FakeBotApi(TOKEN)
    async with FakeBotApiServer(api) as server:
        process = await _run_bot(tmp_path, server, "--serve", "--port", str(port))
        try:
            await eventually(lambda: api.calls_to("deleteWebhook"), what="polling to start")
            host = api.user(99, "Vært", language_code="en")
            await _says(host, "/health", "How the bot is doing")
            (tmp_path / "run.sqlite3").unlink()
            body = await eventually(_healthz(port, 503), what="/healthz to say 503")
            report = await _says(host, "/health", "Database file deleted or replaced")
        finally:
            process.send_signal(signal.SIGINT)
            stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=20)
    log = (stdout + stderr).decode()
    assert body["database"] == "database file deleted or replaced"
    assert "How the bot is doing" in report  # the figures still come, read from the old file
    assert log.count("deleted or replaced") == 1, log
