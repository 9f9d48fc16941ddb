"""The console's sign-in links and sessions, by the hashes of their secrets."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import aiosqlite

from bot.models import ConsoleSession, Input
from storage.db import fetch_all, fetch_one
from storage.inputs import _SELECT, input_from_row
from storage.timestamps import from_db, to_db


class SqliteConsoleRepo:
    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn

    async def add_link(
        self, token_hash: str, event_key: str, user_id: int, now: datetime, expires: datetime
    ) -> None:
        await self._conn.execute(
            "INSERT INTO console_links (token_hash, event_key, user_id, created_at, expires_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (token_hash, event_key, user_id, to_db(now), to_db(expires)),
        )

    async def use_link(self, token_hash: str, event_key: str, now: datetime) -> int | None:
        """Mark an unused, unexpired link used; its user id, or None (unknown, used, expired)."""
        row = await fetch_one(
            self._conn,
            "UPDATE console_links SET used_at = ? WHERE token_hash = ? AND event_key = ?"
            " AND used_at IS NULL AND expires_at > ? RETURNING user_id",
            (to_db(now), token_hash, event_key, to_db(now)),
        )
        return int(row["user_id"]) if row else None

    async def link_owner(self, token_hash: str, event_key: str) -> int | None:
        """Whose link this is, used or expired or not."""
        row = await fetch_one(
            self._conn,
            "SELECT user_id FROM console_links WHERE token_hash = ? AND event_key = ?",
            (token_hash, event_key),
        )
        return int(row["user_id"]) if row else None

    async def add_session(
        self,
        session_hash: str,
        event_key: str,
        user_id: int,
        csrf: str,
        now: datetime,
        expires: datetime,
    ) -> None:
        await self._conn.execute(
            "INSERT INTO console_sessions"
            " (session_hash, event_key, user_id, csrf, created_at, expires_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (session_hash, event_key, user_id, csrf, to_db(now), to_db(expires)),
        )

    async def session(
        self, session_hash: str, event_key: str, now: datetime
    ) -> ConsoleSession | None:
        """An open session (not ended, not expired)."""
        row = await fetch_one(
            self._conn,
            "SELECT user_id, csrf, expires_at FROM console_sessions WHERE session_hash = ?"
            " AND event_key = ? AND ended_at IS NULL AND expires_at > ?",
            (session_hash, event_key, to_db(now)),
        )
        if row is None:
            return None
        return ConsoleSession(int(row["user_id"]), row["csrf"], from_db(row["expires_at"]))

    async def end_session(self, session_hash: str, now: datetime) -> None:
        await self._conn.execute(
            "UPDATE console_sessions SET ended_at = ? WHERE session_hash = ? AND ended_at IS NULL",
            (to_db(now), session_hash),
        )

    async def feed(self, event_key: str, site_key: str, limit: int) -> Sequence[Input]:
        """A site's inputs, hidden ones too (not withdrawn ones), newest first."""
        rows = await fetch_all(
            self._conn,
            f"{_SELECT} WHERE i.event_key = ? AND i.site_key = ? AND i.state != 'withdrawn'"
            " ORDER BY i.id DESC LIMIT ?",
            (event_key, site_key, limit),
        )
        return [input_from_row(row) for row in rows]
