"""The update inbox: nothing fetched from Telegram is lost in a crash, nothing handled twice."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import aiosqlite

from storage.db import fetch_all, fetch_one
from storage.timestamps import to_db


class SqliteInboxRepo:
    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn

    async def store(
        self, items: Sequence[tuple[int, str | None, str]], now: datetime
    ) -> list[int]:
        """Record (update id, domain key, JSON) rows; return the update ids that are new and
        should be handled. An update id seen before is skipped; a new update whose domain key
        was seen (the same message or button press again) is recorded as a duplicate."""
        fresh: list[int] = []
        for update_id, domain_key, payload in items:
            cur = await self._conn.execute(
                "INSERT INTO inbox (update_id, domain_key, payload, received_at)"
                " VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (update_id, domain_key, payload, to_db(now)),
            )
            if cur.rowcount > 0:
                fresh.append(update_id)
                continue
            await self._conn.execute(
                "INSERT INTO inbox (update_id, state, received_at, finished_at)"
                " VALUES (?, 'duplicate', ?, ?) ON CONFLICT DO NOTHING",
                (update_id, to_db(now), to_db(now)),
            )
        return fresh

    async def next_offset(self) -> int:
        row = await fetch_one(self._conn, "SELECT MAX(update_id) FROM inbox")
        return int(row[0]) + 1 if row and row[0] is not None else 0

    async def unfinished(self, limit: int) -> list[tuple[int, str]]:
        rows = await fetch_all(
            self._conn,
            "SELECT update_id, payload FROM inbox WHERE state = 'pending' AND payload IS NOT NULL"
            " ORDER BY update_id LIMIT ?",
            (limit,),
        )
        return [(row["update_id"], row["payload"]) for row in rows]

    async def finish(self, update_id: int, now: datetime, error: str | None = None) -> None:
        """Done (payload cleared), or with `error` one more attempt counted."""
        if error is None:
            await self._conn.execute(
                "UPDATE inbox SET state = 'done', payload = NULL, finished_at = ?,"
                " attempts = attempts + 1 WHERE update_id = ?",
                (to_db(now), update_id),
            )
        else:
            await self._conn.execute(
                "UPDATE inbox SET attempts = attempts + 1, error = ? WHERE update_id = ?",
                (error, update_id),
            )

    async def give_up(self, update_id: int, now: datetime) -> None:
        await self._conn.execute(
            "UPDATE inbox SET state = 'failed', payload = NULL, finished_at = ?"
            " WHERE update_id = ?",
            (to_db(now), update_id),
        )

    async def attempts(self, update_id: int) -> int:
        row = await fetch_one(
            self._conn, "SELECT attempts FROM inbox WHERE update_id = ?", (update_id,)
        )
        return int(row[0]) if row else 0

    async def counts(self) -> dict[str, int]:
        rows = await fetch_all(self._conn, "SELECT state, COUNT(*) AS n FROM inbox GROUP BY state")
        return {row["state"]: row["n"] for row in rows}
