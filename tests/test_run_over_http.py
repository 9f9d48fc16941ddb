"""The bot against a Bot API server on loopback, as `TELEGRAM_API_BASE_URL` would point it:
once in-process with the bot's polling and PTB's real HTTP client, once as `python -m bot run`."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import SecretStr

from bot.app import running, serve
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
        stop = asyncio.Event()
        async with running(settings) as bot:
            task = asyncio.create_task(serve(bot, stop=stop, poll_timeout=1))
            try:
                anna = api.user(7, "Anna", language_code="da")
                anna.send("/start aalborg-t2")
                consent = await eventually(new_message(anna, 0), what="the consent step")
                assert "Det gemmer jeg" in consent["text"]
                await finish_check_in(anna, consent)
            finally:
                stop.set()
                await asyncio.wait_for(task, 20)
    assert checkins(tmp_path / "http.sqlite3") == [(7, "aalborg", "t2", 1)]
    assert [call.method for call in api.calls].count("getMe") >= 1
    api.assert_no_unexpected()


# The process runs in a temporary folder: the code under test is this checkout's, not
# whichever one the virtual environment was installed from.
ROOT = Path(__file__).resolve().parents[1]


def _bot_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "EVENT_"))}
    env.update(DATABASE_PATH=str(tmp_path / "run.sqlite3"), LOG_LEVEL="INFO", **extra)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


async def _run_bot(
    tmp_path: Path, server: FakeBotApiServer, *args: str
) -> asyncio.subprocess.Process:
    """`python -m bot run` against the fake Bot API on loopback."""
    env = _bot_env(
        tmp_path,
        TELEGRAM_BOT_TOKEN=TOKEN,
        TELEGRAM_API_BASE_URL=server.base_url,
        TELEGRAM_API_FILE_URL=server.base_file_url,
    )
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "run",
        "--allow-demo-codes",  # the seed's codes, against a fake Telegram
        *args,
        env=env,
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def test_python_m_bot_run_answers_a_deep_link_through_the_api_base_url(
    tmp_path: Path,
) -> None:
    api = FakeBotApi(TOKEN)
    async with FakeBotApiServer(api) as server:
        process = await _run_bot(tmp_path, server)
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


_LIVE_EVENT = """
event:
  key: live-relay
  title: {{da: Direkte, en: Live}}
  date: {date}
  timezone: "{tz}"
  languages: [da, en]
  question: {{da: "Hvad nu?", en: "What now?"}}
  anonymity: named
  relay: {{mode: live}}
sites:
  - key: vest
    name: Vest
    venue: Vesthuset
    angle: {{da: Vestens vinkel, en: The west's angle}}
    code: vest
    facilitator_code: vaert-vest-0000001
    groups:
      - {{key: t1, name: {{da: Bord 1, en: Table 1}}}}
  - key: oest
    name: Øst
    venue: Østhuset
    angle: {{da: Østens vinkel, en: The east's angle}}
    code: oest
    facilitator_code: vaert-oest-0000002
    groups:
      - {{key: t1, name: {{da: Bord 1, en: Table 1}}}}
agenda:
  - key: work
    at: "{opens}"
    kind: prompt
    title: {{da: Gruppearbejde, en: Group work}}
    text: {{da: "Hvad gør vi?", en: "What do we do?"}}
  - key: close
    at: "{closes}"
    kind: close
    title: {{da: Tak for i dag, en: Thank you}}
"""


def _live_event_now(folder: Path) -> Path:
    """A live-relay event whose prompt is open now, on the real clock. Its time zone puts the
    local time near noon, so that the programme never crosses midnight whenever CI runs."""
    utc = datetime.now(UTC)
    offset = 12 - utc.hour  # Etc/GMT-N is N hours east of UTC
    tz = ZoneInfo(f"Etc/GMT{-offset:+d}") if offset else ZoneInfo("UTC")
    local = utc.astimezone(tz)
    path = folder / "live.yaml"
    path.write_text(
        _LIVE_EVENT.format(
            date=f"{local:%Y-%m-%d}",
            tz=tz.key,
            opens=f"{local - timedelta(seconds=5):%H:%M:%S}",
            closes=f"{local + timedelta(minutes=20):%H:%M:%S}",
        ),
        encoding="utf-8",
    )
    return path


def _offering(user: FakeUser, prefix: str) -> Callable[[], tuple[dict[str, Any], str] | None]:
    """The latest message offering a button whose data starts with `prefix`, and that data."""

    def find() -> tuple[dict[str, Any], str] | None:
        for message in reversed(user.inbox()):
            for row in message.get("reply_markup", {}).get("inline_keyboard", []):
                for button in row:
                    if button.get("callback_data", "").startswith(prefix):
                        return message, button["callback_data"]
        return None

    return find


async def _check_in_over_http(user: FakeUser, code: str) -> None:
    user.send(f"/start {code}")
    message, data = await eventually(_offering(user, "v1:consent:yes"), what="consent")
    user.press(message, data)
    await eventually(lambda: "tjekket ind" in user.last().get("text", ""), what="checked in")


async def test_a_star_in_a_live_event_reaches_the_other_site_within_two_seconds(
    tmp_path: Path,
) -> None:
    """Through the real process over loopback HTTP: nothing in between ticks the agenda, so
    the star itself must wake it (the heartbeat alone would take up to 30 s)."""
    event_file = _live_event_now(tmp_path)
    api = FakeBotApi(TOKEN)
    async with FakeBotApiServer(api) as server:
        process = await _run_bot(tmp_path, server, "--event", str(event_file))
        try:
            await eventually(
                lambda: api.calls_to("deleteWebhook"), what="the bot to start polling"
            )
            host = api.user(30, "Vært Vest", language_code="da")
            host.send("/start vaert-vest-0000001")
            await eventually(host.inbox, what="the facilitator's welcome")
            west, east = (
                api.user(31, "Vera", language_code="da"),
                api.user(32, "Østen", language_code="da"),
            )
            await _check_in_over_http(west, "vest-t1")
            await _check_in_over_http(east, "oest-t1")
            west.send("Lad politikerne eje forsøgene")
            card, star = await eventually(_offering(host, "v1:mod:star-"), what="the feed card")
            loop = asyncio.get_running_loop()
            starred_at = loop.time()
            host.press(card, star)
            relay = await eventually(
                lambda: next(
                    (m for m in east.inbox() if "Lad politikerne eje" in m.get("text", "")),
                    None,
                ),
                timeout=10,
                what="the relay at the other site",
            )
            took = loop.time() - starred_at
        finally:
            process.send_signal(signal.SIGINT)
            stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=20)
    log = (stdout + stderr).decode()
    assert process.returncode == 0, log
    assert "Vest" in relay["text"]  # labelled with where it came from
    assert took < 2.0, f"the relay took {took:.1f} s"
    relayed_home = [m for m in west.inbox() if m.get("text", "").startswith(("✨", "📡"))]
    assert relayed_home == [], "a site does not receive its own highlight"
