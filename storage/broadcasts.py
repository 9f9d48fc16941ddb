"""Broadcast drafts and their fate."""

from __future__ import annotations

from datetime import datetime

import aiosqlite

from bot.models import Broadcast
from storage.db import fetch_one
from storage.timestamps import from_db, maybe_from_db, to_db


class SqliteBroadcastRepo:
    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn

    async def draft(
        self,
        event_key: str,
        site_key: str | None,
        text: str,
        by: int,
        now: datetime,
        kind: str = "broadcast",
    ) -> Broadcast:
        cur = await self._conn.execute(
            """
            INSERT INTO broadcasts (event_key, site_key, text, created_by, created_at, kind)
            VALUES (?, ?, ?, ?, ?, ?)
            """,
            (event_key, site_key, text, by, to_db(now), kind),
        )
        assert cur.lastrowid is not None  # noqa: S101 - an INSERT into a rowid table
        return Broadcast(cur.lastrowid, event_key, site_key, text, by, now, kind=kind)

    async def get(self, broadcast_id: int) -> Broadcast | None:
        row = await fetch_one(self._conn, "SELECT * FROM broadcasts WHERE id = ?", (broadcast_id,))
        if row is None:
            return None
        return Broadcast(
            id=row["id"],
            event_key=row["event_key"],
            site_key=row["site_key"],
            text=row["text"],
            created_by=row["created_by"],
            created_at=from_db(row["created_at"]),
            sent_at=maybe_from_db(row["sent_at"]),
            cancelled_at=maybe_from_db(row["cancelled_at"]),
            recipients=row["recipients"],
            kind=row["kind"],
        )

    async def mark_sent(self, broadcast_id: int, recipients: int, now: datetime) -> bool:
        cur = await self._conn.execute(
            """
            UPDATE broadcasts SET sent_at = ?, recipients = ?
             WHERE id = ? AND sent_at IS NULL AND cancelled_at IS NULL
            """,
            (to_db(now), recipients, broadcast_id),
        )
        return cur.rowcount > 0

    async def mark_cancelled(self, broadcast_id: int, now: datetime) -> bool:
        cur = await self._conn.execute(
            """
            UPDATE broadcasts SET cancelled_at = ?
             WHERE id = ? AND sent_at IS NULL AND cancelled_at IS NULL
            """,
            (to_db(now), broadcast_id),
        )
        return cur.rowcount > 0
