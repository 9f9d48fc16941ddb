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
        if not items:
            return []
        # What is known already, in two queries rather than an insert per update; the
        # caller's transaction keeps the answer true until the inserts below.
        ids = [update_id for update_id, _, _ in items]
        keys = [key for _, key, _ in items if key is not None]
        seen_ids = {row[0] for row in await self._matching("update_id", ids)}
        seen_keys = {row[0] for row in await self._matching("domain_key", keys)}
        fresh: list[tuple[int, str | None, str]] = []
        duplicates: list[int] = []
        for update_id, key, payload in items:
            if update_id in seen_ids:
                continue
            seen_ids.add(update_id)
            if key is not None and key in seen_keys:
                duplicates.append(update_id)
                continue
            if key is not None:
                seen_keys.add(key)
            fresh.append((update_id, key, payload))
        stamp = to_db(now)
        await self._conn.executemany(
            "INSERT INTO inbox (update_id, domain_key, payload, received_at)"
            " VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
            [(update_id, key, payload, stamp) for update_id, key, payload in fresh],
        )
        await self._conn.executemany(
            "INSERT INTO inbox (update_id, state, received_at, finished_at)"
            " VALUES (?, 'duplicate', ?, ?) ON CONFLICT DO NOTHING",
            [(update_id, stamp, stamp) for update_id in duplicates],
        )
        return [update_id for update_id, _, _ in fresh]

    async def _matching(self, column: str, values: Sequence[object]) -> list[aiosqlite.Row]:
        found: list[aiosqlite.Row] = []
        for start in range(0, len(values), 500):  # well below SQLite's limit of variables
            chunk = values[start : start + 500]
            marks = ", ".join("?" * len(chunk))
            found += await fetch_all(
                self._conn,
                f"SELECT {column} FROM inbox WHERE {column} IN ({marks})",  # noqa: S608 - a column name of ours and placeholders
                chunk,
            )
        return found

    async def next_offset(self) -> int:
        # Past the quarantined updates too: a restart never fetches one of them again.
        row = await fetch_one(
            self._conn,
            "SELECT MAX(m) FROM (SELECT MAX(update_id) AS m FROM inbox"
            " UNION ALL SELECT MAX(update_id) FROM quarantine)",
        )
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

    async def finish_many(self, update_ids: Sequence[int], now: datetime) -> None:
        """Done, for several updates at once (payloads cleared)."""
        await self._conn.executemany(
            "UPDATE inbox SET state = 'done', payload = NULL, finished_at = ?,"
            " attempts = attempts + 1 WHERE update_id = ?",
            [(to_db(now), update_id) for update_id in update_ids],
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

    async def quarantine(
        self, items: Sequence[tuple[int | None, str, str]], now: datetime
    ) -> None:
        """Set aside (update id or None, error class, top-level keys) of updates that could
        not be parsed or stored; an update id set aside before is not counted again."""
        await self._conn.executemany(
            "INSERT INTO quarantine (update_id, received_at, error, keys) VALUES (?, ?, ?, ?)"
            " ON CONFLICT DO NOTHING",
            [(update_id, to_db(now), error, keys) for update_id, error, keys in items],
        )

    async def quarantined(self) -> int:
        row = await fetch_one(self._conn, "SELECT COUNT(*) FROM quarantine")
        return int(row[0]) if row else 0
