"""Facilitator and organiser rights."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import aiosqlite

from bot.models import Role, RoleGrant
from storage.db import fetch_all
from storage.timestamps import from_db, to_db

# One role row as a JSON object, for queries that bring a person's grants along.
GRANT_JSON = (
    "json_object('event_key', event_key, 'user_id', user_id, 'role', role,"
    " 'site_key', site_key, 'granted_at', granted_at, 'via', via)"
)


def grant_from_row(row: aiosqlite.Row | Mapping[str, Any]) -> RoleGrant:
    """A grant from a row of `roles`, or from one object of `GRANT_JSON`."""
    return RoleGrant(
        event_key=row["event_key"],
        user_id=row["user_id"],
        role=Role(row["role"]),
        site_key=row["site_key"] or None,
        granted_at=from_db(row["granted_at"]),
        via=row["via"],
    )


class SqliteRoleRepo:
    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn

    async def grant(
        self,
        event_key: str,
        user_id: int,
        role: Role,
        site_key: str | None,
        via: str,
        now: datetime,
    ) -> bool:
        cur = await self._conn.execute(
            """
            INSERT INTO roles (event_key, user_id, role, site_key, granted_at, via)
            VALUES (?, ?, ?, ?, ?, ?)
            ON CONFLICT DO NOTHING
            """,
            (event_key, user_id, role.value, site_key or "", to_db(now), via),
        )
        return cur.rowcount > 0

    async def of_user(self, event_key: str, user_id: int) -> Sequence[RoleGrant]:
        rows = await fetch_all(
            self._conn,
            "SELECT * FROM roles WHERE event_key = ? AND user_id = ? ORDER BY granted_at",
            (event_key, user_id),
        )
        return [grant_from_row(row) for row in rows]

    async def granted_by_codes(self, event_key: str) -> Sequence[RoleGrant]:
        """Every role of the event that a secret code granted and whose code is known by its
        hash (`via` is `code:…`); rows from before hashes (`code`) cannot be told apart."""
        rows = await fetch_all(
            self._conn,
            "SELECT * FROM roles WHERE event_key = ? AND via LIKE 'code:%'",
            (event_key,),
        )
        return [grant_from_row(row) for row in rows]

    async def revoke(self, event_key: str, user_id: int, role: Role, site_key: str | None) -> bool:
        cur = await self._conn.execute(
            "DELETE FROM roles WHERE event_key = ? AND user_id = ? AND role = ? AND site_key = ?",
            (event_key, user_id, role.value, site_key or ""),
        )
        return cur.rowcount > 0

    async def holders(self, event_key: str) -> Sequence[RoleGrant]:
        rows = await fetch_all(
            self._conn,
            "SELECT * FROM roles WHERE event_key = ? ORDER BY role, site_key, user_id",
            (event_key,),
        )
        return [grant_from_row(row) for row in rows]
