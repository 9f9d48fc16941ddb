"""The bot against a Bot API server on loopback, as `TELEGRAM_API_BASE_URL` would point it:
once in-process with PTB's real polling and HTTP client, once as `python -m bot run`."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from bot.app import build_application
from bot.config import Settings
from bot.sandbox import FakeBotApi, FakeBotApiServer, FakeUser
from tests.waiting import eventually

TOKEN = "424242:LOOPBACK-token"


def new_message(user: FakeUser, count: int) -> Callable[[], dict[str, Any] | None]:
    return lambda: user.inbox()[-1] if len(user.inbox()) > count else None


def edited(user: FakeUser, message_id: int, marker: str) -> Callable[[], bool]:
    return lambda: any(
        m["message_id"] == message_id and marker in m.get("text", "") for m in user.inbox()
    )


async def finish_check_in(user: FakeUser, consent: dict[str, Any]) -> None:
    """Consent, role and anonymity: each answer edits the same message into the next step."""
    for label, next_marker in (
        ("✅ Ja, jeg deltager", "Hvad er din rolle"),
        ("politiker", "med dit navn"),
        ("Med mit navn", "Bord 2"),
    ):
        user.press_button(_current(user, consent), label)
        await eventually(edited(user, consent["message_id"], next_marker), what=next_marker)


def _current(user: FakeUser, message: dict[str, Any]) -> dict[str, Any]:
    return next(m for m in user.inbox() if m["message_id"] == message["message_id"])


def checkins(path: Path) -> list[tuple[Any, ...]]:
    with sqlite3.connect(path) as conn:
        return conn.execute(
            "SELECT c.user_id, c.site_key, c.group_key, k.version IS NOT NULL "
            "FROM checkins c LEFT JOIN consents k USING (user_id, event_key)"
        ).fetchall()


async def test_polling_over_real_http_checks_a_participant_in(tmp_path: Path) -> None:
    api = FakeBotApi(TOKEN)
    async with FakeBotApiServer(api) as server:
        settings = Settings(
            _env_file=None,
            telegram_bot_token=SecretStr(TOKEN),
            telegram_api_base_url=server.base_url,
            telegram_api_file_url=server.base_file_url,
            database_path=tmp_path / "http.sqlite3",
        )
        app = build_application(settings)
        async with app:
            assert app.post_init is not None
            await app.post_init(app)
            assert app.updater is not None
            await app.updater.start_polling(poll_interval=0, timeout=1)
            await app.start()
            try:
                anna = api.user(7, "Anna", language_code="da")
                anna.send("/start aalborg-t2")
                consent = await eventually(new_message(anna, 0), what="the consent step")
                assert "Det gemmer jeg" in consent["text"]
                await finish_check_in(anna, consent)
            finally:
                await app.updater.stop()
                await app.stop()
                assert app.post_shutdown is not None
                await app.post_shutdown(app)
    assert checkins(tmp_path / "http.sqlite3") == [(7, "aalborg", "t2", 1)]
    assert [call.method for call in api.calls].count("getMe") >= 1
    api.assert_no_unexpected()


def _bot_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "EVENT_"))}
    env.update(DATABASE_PATH=str(tmp_path / "run.sqlite3"), LOG_LEVEL="INFO", **extra)
    return env


async def test_python_m_bot_run_answers_a_deep_link_through_the_api_base_url(
    tmp_path: Path,
) -> None:
    api = FakeBotApi(TOKEN)
    async with FakeBotApiServer(api) as server:
        env = _bot_env(
            tmp_path,
            TELEGRAM_BOT_TOKEN=TOKEN,
            TELEGRAM_API_BASE_URL=server.base_url,
            TELEGRAM_API_FILE_URL=server.base_file_url,
        )
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "run",
            env=env,
            cwd=tmp_path,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            await eventually(
                lambda: api.calls_to("deleteWebhook"), what="the bot to start polling"
            )
            anna = api.user(8, "Anna", language_code="da")
            anna.send("/start aalborg-t2")
            consent = await eventually(new_message(anna, 0), what="the consent step")
            await finish_check_in(anna, consent)
        finally:
            process.send_signal(signal.SIGINT)
            stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=20)
    log = (stdout + stderr).decode()
    assert process.returncode == 0, log
    assert checkins(tmp_path / "run.sqlite3") == [(8, "aalborg", "t2", 1)]
    assert TOKEN not in log
    assert TOKEN.split(":")[1] not in log
    assert "aalborg-t2" not in log  # message texts are not logged


def test_run_without_a_token_names_the_variable_and_botfather(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot", "run"],
        env=_bot_env(tmp_path),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "TELEGRAM_BOT_TOKEN" in result.stderr
    assert "BotFather" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().count("\n") == 0  # one sentence
