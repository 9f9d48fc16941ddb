"""Fixtures: a fresh fake Bot API per test and a real PTB Bot wired to it in-process."""

import asyncio
from collections.abc import AsyncIterator, Mapping
from typing import Any

import pytest
from telegram import Bot

from bot.sandbox import FakeBotApi, FakeRequest, FakeUser
from bot.sandbox.fake_api import JsonDict, UploadedFile


class FakeClock:
    """A hand-moved clock, so rate windows and message dates are deterministic."""

    def __init__(self, now: float = 1_750_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture(autouse=True)
def _ptb_timedelta(monkeypatch: pytest.MonkeyPatch) -> None:
    """Opt in to PTB's coming timedelta durations (RetryAfter.retry_after) without warnings."""
    monkeypatch.setenv("PTB_TIMEDELTA", "true")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def api(clock: FakeClock) -> FakeBotApi:
    return FakeBotApi(clock=clock)


@pytest.fixture
async def bot(api: FakeBotApi) -> AsyncIterator[Bot]:
    async with Bot(
        api.token, request=FakeRequest(api), get_updates_request=FakeRequest(api)
    ) as real_bot:
        yield real_bot


@pytest.fixture
def ana(api: FakeBotApi) -> FakeUser:
    """A participant who has opened the bot, so it may write to her."""
    person = api.user(1001, "Ana", language_code="da", username="ana_k")
    person.send("/start")
    return person


@pytest.fixture
def long_poll_waiting(api: FakeBotApi, monkeypatch: pytest.MonkeyPatch) -> asyncio.Event:
    """Set when a getUpdates call reaches the fake. The fake runs from there to its wait for
    updates without yielding, so a test that has awaited this knows the long poll waits."""
    reached = asyncio.Event()
    real_call = api.call

    async def call(
        token: str,
        method: str,
        params: Mapping[str, Any],
        files: Mapping[str, UploadedFile] | None = None,
    ) -> tuple[int, JsonDict]:
        if method.lower() == "getupdates":
            reached.set()
        return await real_call(token, method, params, files)

    monkeypatch.setattr(api, "call", call)
    return reached
