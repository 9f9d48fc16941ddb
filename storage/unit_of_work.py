"""The storage side of `bot.ports.UnitOfWork`: repositories bound to one serialised connection."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from bot.ports import StorageUnavailableError
from storage.agenda import SqliteAgendaRepo
from storage.broadcasts import SqliteBroadcastRepo
from storage.checkins import SqliteCheckInRepo
from storage.console import SqliteConsoleRepo
from storage.db import Database
from storage.inbox import SqliteInboxRepo
from storage.inputs import SqliteInputRepo
from storage.lost_chats import SqliteLostChatRepo
from storage.outbox import SqliteOutboxRepo
from storage.participants import SqliteParticipantRepo
from storage.privacy import SqlitePrivacyRepo
from storage.relay import SqliteRelayRepo
from storage.roles import SqliteRoleRepo
from storage.walls import SqliteWallRepo


class SqliteUnitOfWork:
    def __init__(self, db: Database) -> None:
        self._db = db
        self.participants = SqliteParticipantRepo(db.conn)
        self.checkins = SqliteCheckInRepo(db.conn)
        self.roles = SqliteRoleRepo(db.conn)
        self.outbox = SqliteOutboxRepo(db.conn)
        self.agenda = SqliteAgendaRepo(db.conn)
        db.after_rollback(self.agenda.forget_cached)
        self.broadcasts = SqliteBroadcastRepo(db.conn)
        self.inputs = SqliteInputRepo(db.conn)
        self.relay = SqliteRelayRepo(db.conn)
        self.inbox = SqliteInboxRepo(db.conn)
        self.privacy = SqlitePrivacyRepo(db.conn)
        self.lost_chats = SqliteLostChatRepo(db.conn)
        self.walls = SqliteWallRepo(db.conn)
        self.console = SqliteConsoleRepo(db.conn)

    async def checkpoint(self) -> None:
        try:
            await self._db.checkpoint()
        except sqlite3.OperationalError as error:
            raise StorageUnavailableError(str(error)) from error

    def stopped(self) -> str | None:
        return self._db.check_file()

    @asynccontextmanager
    async def transaction(self, *, urgent: bool = False) -> AsyncIterator[None]:
        """A transaction, rolled back on any exception. A database that is locked, read-only,
        full or failing (SQLite's OperationalError) comes out as `StorageUnavailableError`,
        which callers may try again later; other SQLite errors are bugs and stay what they
        are."""
        try:
            async with self._db.transaction(urgent=urgent):
                yield
        except sqlite3.OperationalError as error:
            raise StorageUnavailableError(str(error)) from error
