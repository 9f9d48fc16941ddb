"""The storage side of `bot.ports.UnitOfWork`: repositories bound to one serialised connection."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from storage.checkins import SqliteCheckInRepo
from storage.db import Database
from storage.participants import SqliteParticipantRepo
from storage.roles import SqliteRoleRepo


class SqliteUnitOfWork:
    def __init__(self, db: Database) -> None:
        self._db = db
        self.participants = SqliteParticipantRepo(db.conn)
        self.checkins = SqliteCheckInRepo(db.conn)
        self.roles = SqliteRoleRepo(db.conn)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        async with self._db.transaction():
            yield
