"""What the walls read, and their tokens."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import aiosqlite

from bot.models import Input
from storage.db import fetch_all, fetch_one
from storage.inputs import _SELECT, input_from_row
from storage.timestamps import to_db


class SqliteWallRepo:
    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn

    async def tokens(self, event_key: str) -> dict[str, str]:
        """wall ('*' or a site key) → its token."""
        rows = await fetch_all(
            self._conn, "SELECT wall, token FROM wall_tokens WHERE event_key = ?", (event_key,)
        )
        return {row["wall"]: row["token"] for row in rows}

    async def set_token(self, event_key: str, wall: str, token: str, now: datetime) -> None:
        await self._conn.execute(
            "INSERT INTO wall_tokens (event_key, wall, token, created_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (event_key, wall) DO UPDATE SET token = excluded.token,"
            " created_at = excluded.created_at",
            (event_key, wall, token, to_db(now)),
        )

    async def latest(
        self, event_key: str, site_key: str, limit: int, *, starred_only: bool
    ) -> Sequence[Input]:
        """A site's newest visible inputs (only starred ones if asked), newest first."""
        # Starred, and not edited since: an edit holds a highlight until it is starred again.
        starred = (
            " AND EXISTS (SELECT 1 FROM input_stars s WHERE s.input_id = i.id)"
            " AND NOT EXISTS (SELECT 1 FROM highlights h"
            " WHERE h.input_id = i.id AND h.held_at IS NOT NULL)"
            if starred_only
            else ""
        )
        rows = await fetch_all(
            self._conn,
            f"{_SELECT} WHERE i.event_key = ? AND i.site_key = ? AND i.state = 'visible'"
            f"{starred} ORDER BY i.id DESC LIMIT ?",
            (event_key, site_key, limit),
        )
        return [input_from_row(row) for row in rows]

    async def answered(
        self, event_key: str, site_key: str, item_key: str | None, adhoc_id: int | None
    ) -> int:
        """People who answered one prompt at one site (inputs not withdrawn)."""
        row = await fetch_one(
            self._conn,
            "SELECT COUNT(DISTINCT user_id) FROM inputs WHERE event_key = ? AND site_key = ?"
            " AND item_key IS ? AND adhoc_id IS ? AND state != 'withdrawn'",
            (event_key, site_key, item_key, adhoc_id),
        )
        return int(row[0]) if row else 0
