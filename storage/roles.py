"""Facilitator and organiser rights."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import aiosqlite

from bot.models import Role, RoleGrant
from storage.db import fetch_all
from storage.timestamps import from_db, to_db


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
        return [
            RoleGrant(
                event_key=row["event_key"],
                user_id=row["user_id"],
                role=Role(row["role"]),
                site_key=row["site_key"] or None,
                granted_at=from_db(row["granted_at"]),
                via=row["via"],
            )
            for row in rows
        ]
