"""A real bot process (`python -m bot run --listen …`) against the fake Bot API on loopback,
and a real headless Chromium (the system's, driven by Playwright) looking at its walls.

The event is the three-site test event moved to today, in a time zone where it is about
noon now, so that its first group work is open while the test runs. The system's Chromium is
used; without it, on a developer's machine, Playwright fetches its own once (and the tests are
skipped, saying why, where that fails, as offline); in CI (CI=true) they fail, never skip.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sqlite3
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from bot.sandbox import FakeBotApi, FakeBotApiServer, FakeUser, today
from bot.sandbox.today import free_port
from tests.waiting import eventually

if TYPE_CHECKING:
    from playwright.async_api import Browser

ROOT = Path(__file__).resolve().parents[2]
THREE_SITES = ROOT / "tests" / "data" / "three_sites.yaml"
CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
TOKEN = "515151:BROWSER-token"
ORGANISER_ID = 4242
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


_FETCHED: list[str | None] = []  # Playwright's own Chromium, fetched once per test run


def _browser() -> str | None:
    """The Chromium to drive: the system's (`CHROMIUM`, /usr/bin/chromium by default); else, on
    a developer's machine, Playwright's own, fetched once with `playwright install chromium`
    (None: launch that one). In CI (CI=true) a missing browser fails the run, never skips it."""
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        problem = "Playwright is not installed (pip install -e '.[dev]')"
    else:
        if CHROMIUM.exists():
            return str(CHROMIUM)
        problem = f"no Chromium at {CHROMIUM} (apt-get install chromium)"
        if os.environ.get("CI") != "true":
            if not _FETCHED:
                _FETCHED.append(_fetch_playwright_chromium())
            if _FETCHED[0] is None:
                return None
            problem += f", and Playwright could not fetch its own: {_FETCHED[0]}"
    if os.environ.get("CI") == "true":
        pytest.fail(f"browser tests cannot run in CI: {problem}")
    pytest.skip(problem)


def _fetch_playwright_chromium() -> str | None:
    """`playwright install chromium`; None when it worked, else what went wrong."""
    import subprocess

    try:
        done = subprocess.run(
            [sys.executable, "-m", "playwright", "install", "chromium"],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return type(exc).__name__
    if done.returncode == 0:
        return None
    lines = (done.stderr + done.stdout).strip().splitlines()
    errors = [line.strip() for line in lines if line.lstrip().startswith("Error")]
    return errors[0] if errors else f"exit code {done.returncode}"


def event_now(folder: Path) -> Path:
    """The three-site event today, its first group work open for the next half hour."""
    return today.event_now(THREE_SITES, folder)


@dataclass
class Stack:
    api: FakeBotApi
    server: FakeBotApiServer
    folder: Path
    event_file: Path
    port: int
    browser: Browser
    screenshots: Path
    process: asyncio.subprocess.Process | None = None
    people: dict[str, FakeUser] = field(default_factory=dict)

    @property
    def database(self) -> Path:
        return self.folder / "bot.sqlite3"

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with contextlib.closing(sqlite3.connect(self.database)) as conn:
            return [tuple(row) for row in conn.execute(sql, params)]

    def tokens(self) -> dict[str, str]:
        try:
            return dict(self.query("SELECT wall, token FROM wall_tokens"))
        except sqlite3.OperationalError:  # not migrated yet
            return {}

    async def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "EVENT_"))}
        env.update(
            TELEGRAM_BOT_TOKEN=TOKEN,
            TELEGRAM_API_BASE_URL=self.server.base_url,
            TELEGRAM_API_FILE_URL=self.server.base_file_url,
            DATABASE_PATH=str(self.database),
            EVENT_FILE=str(self.event_file),
            ORGANIZER_IDS=str(ORGANISER_ID),
            PUBLIC_URL=self.base,
            LOG_LEVEL="WARNING",
            # This worktree's code, whatever the editable install of the venv points at.
            PYTHONPATH=str(ROOT),
        )
        calls = len(self.api.calls_to("deleteWebhook"))
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "run",
            "--listen",
            "127.0.0.1",
            "--port",
            str(self.port),
            env=env,
            cwd=self.folder,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        await eventually(
            lambda: len(self.api.calls_to("deleteWebhook")) > calls or self._died(),
            timeout=30,
            what="the bot to start polling",
        )
        assert not self._died(), "the bot stopped at start"

    def _died(self) -> bool:
        return self.process is not None and self.process.returncode is not None

    async def stop(self) -> None:
        if self.process is None or self.process.returncode is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(self.process.wait(), 20)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()
        stderr = await self.process.stderr.read() if self.process.stderr else b""
        assert self.process.returncode == 0, stderr.decode(errors="replace")[-2000:]

    async def said(self, user: FakeUser, text: str, count: int) -> dict[str, Any]:
        """Send `text` and wait for the bot's next message (the user had `count`)."""
        user.send(text)
        return await eventually(
            lambda: user.inbox()[-1] if len(user.inbox()) > count else None,
            what=f"an answer to {text!r}",
        )

    async def check_in(self, user: FakeUser, code: str) -> None:
        """`/start code`, consent, role: each answer edits the same message into the next."""
        message = await self.said(user, f"/start {code}", len(user.inbox()))
        for label in ("✅ Ja, jeg deltager", "politiker"):
            await eventually(partial(self._button, user, message, label), what=label)
            user.press_button(self._current(user, message), label)
        await eventually(
            lambda: self.query(
                "SELECT 1 FROM checkins c JOIN consents k USING (user_id, event_key)"
                " WHERE c.user_id = ? AND c.category_key IS NOT NULL",
                (user.id,),
            ),
            what="the check-in",
        )

    def _current(self, user: FakeUser, message: dict[str, Any]) -> dict[str, Any]:
        return next(m for m in user.inbox() if m["message_id"] == message["message_id"])

    def _button(self, user: FakeUser, message: dict[str, Any], label: str) -> bool:
        rows = self._current(user, message).get("reply_markup", {}).get("inline_keyboard", [])
        return any(button.get("text") == label for row in rows for button in row)


def screenshot_folder(tmp_path: Path) -> Path:
    """Where the screenshots go: $SCREENSHOTS (e.g. docs/screenshots) or a temporary folder."""
    wanted = os.environ.get("SCREENSHOTS")
    folder = Path(wanted) if wanted else tmp_path / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    executable = _browser()
    from playwright.async_api import async_playwright

    api = FakeBotApi(TOKEN)
    async with FakeBotApiServer(api) as server, async_playwright() as playwright:
        # Playwright starts Chromium with a fresh --user-data-dir of its own every time (and
        # refuses one given in `args`).
        browser = await playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_FLAGS
        )
        stack = Stack(
            api,
            server,
            tmp_path,
            event_now(tmp_path),
            free_port(),
            browser,
            screenshot_folder(tmp_path),
        )
        try:
            await stack.start()
            yield stack
        finally:
            await stack.stop()
            await browser.close()
