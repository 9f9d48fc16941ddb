"""A running application against the fake Bot API, with the seed event and a test clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from bot.clock import ManualClock
from bot.config import Settings
from bot.event import Event
from bot.sandbox import FakeBotApi
from bot.sandbox.harness import BotHarness

TOKEN = "123456:TEST-token"
ORGANISER_ID = 900


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        _env_file=None,
        telegram_bot_token=SecretStr(TOKEN),
        database_path=tmp_path / "bot.sqlite3",
        organizer_ids=frozenset({ORGANISER_ID}),
    )


@pytest.fixture
async def harness(
    settings: Settings, seed_event: Event, clock: ManualClock
) -> AsyncIterator[BotHarness]:
    api = FakeBotApi(TOKEN)
    async with BotHarness.running(settings, api=api, event=seed_event, clock=clock) as running:
        yield running
    api.assert_no_unexpected()
