"""Where participants take part."""

from __future__ import annotations

import aiosqlite

from bot.models import CheckIn
from storage.db import fetch_all, fetch_one
from storage.timestamps import from_db, to_db


def checkin_from_row(row: aiosqlite.Row) -> CheckIn:
    """A check-in from a row with the columns of `checkins`."""
    return CheckIn(
        event_key=row["event_key"],
        user_id=row["user_id"],
        site_key=row["site_key"],
        group_key=row["group_key"],
        checked_in_at=from_db(row["checked_in_at"]),
        updated_at=from_db(row["updated_at"]),
        pending_site_key=row["pending_site_key"],
        pending_group_key=row["pending_group_key"],
        category_key=row["category_key"],
        anonymous=None if row["anonymous"] is None else bool(row["anonymous"]),
    )


class SqliteCheckInRepo:
    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn

    async def get(self, event_key: str, user_id: int) -> CheckIn | None:
        row = await fetch_one(
            self._conn,
            "SELECT * FROM checkins WHERE event_key = ? AND user_id = ?",
            (event_key, user_id),
        )
        return checkin_from_row(row) if row else None

    async def save(self, checkin: CheckIn) -> None:
        await self._conn.execute(
            """
            INSERT INTO checkins (event_key, user_id, site_key, group_key, checked_in_at,
                                  updated_at, pending_site_key, pending_group_key,
                                  category_key, anonymous)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (event_key, user_id) DO UPDATE
               SET site_key = excluded.site_key, group_key = excluded.group_key,
                   checked_in_at = excluded.checked_in_at, updated_at = excluded.updated_at,
                   pending_site_key = excluded.pending_site_key,
                   pending_group_key = excluded.pending_group_key,
                   category_key = excluded.category_key, anonymous = excluded.anonymous
            """,
            (
                checkin.event_key,
                checkin.user_id,
                checkin.site_key,
                checkin.group_key,
                to_db(checkin.checked_in_at),
                to_db(checkin.updated_at),
                checkin.pending_site_key,
                checkin.pending_group_key,
                checkin.category_key,
                None if checkin.anonymous is None else int(checkin.anonymous),
            ),
        )

    async def delete(self, event_key: str, user_id: int) -> None:
        await self._conn.execute(
            "DELETE FROM checkins WHERE event_key = ? AND user_id = ?", (event_key, user_id)
        )

    async def count_by_group(self, event_key: str, site_key: str) -> dict[str | None, int]:
        rows = await fetch_all(
            self._conn,
            """
            SELECT c.group_key, COUNT(*) AS n
              FROM checkins c
              JOIN consents k ON k.user_id = c.user_id AND k.event_key = c.event_key
                             AND k.withdrawn_at IS NULL
             WHERE c.event_key = ? AND c.site_key = ?
             GROUP BY c.group_key
            """,
            (event_key, site_key),
        )
        return {row["group_key"]: row["n"] for row in rows}
