"""Fixtures shared by every test folder: the seed event, a clock, a fresh database."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import pytest

from bot.clock import ManualClock
from bot.event import Event
from bot.eventfile import SEED_EVENT, load_event
from storage.db import Database
from storage.unit_of_work import SqliteUnitOfWork

# As `python -m bot` does: PTB 23's timedelta durations, without deprecation warnings.
os.environ.setdefault("PTB_TIMEDELTA", "true")


@pytest.fixture(scope="session")
def seed_event() -> Event:
    return load_event(SEED_EVENT)


@pytest.fixture
def clock(seed_event: Event) -> ManualClock:
    """Noon on the day of the seed event: an hour before it starts."""
    return ManualClock(datetime(2018, 10, 3, 12, 0, tzinfo=seed_event.tz))


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await Database.open(tmp_path / "test.sqlite3")
    yield database
    await database.close()


@pytest.fixture
def uow(db: Database) -> SqliteUnitOfWork:
    return SqliteUnitOfWork(db)
