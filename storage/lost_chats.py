"""Chats the bot can no longer write to (a facilitator group it left, or that moved)."""

from __future__ import annotations

from datetime import datetime

import aiosqlite

from bot.models import LostChat
from storage.db import fetch_all
from storage.timestamps import from_db, to_db


class SqliteLostChatRepo:
    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn

    async def mark(self, chat_id: int, reason: str, moved_to: int | None, now: datetime) -> bool:
        cursor = await self._conn.execute(
            """
            INSERT INTO lost_chats (chat_id, reason, moved_to, since) VALUES (?, ?, ?, ?)
            ON CONFLICT (chat_id) DO NOTHING
            """,
            (chat_id, reason[:200], moved_to, to_db(now)),
        )
        return cursor.rowcount > 0

    async def clear(self, chat_id: int) -> bool:
        cursor = await self._conn.execute("DELETE FROM lost_chats WHERE chat_id = ?", (chat_id,))
        return cursor.rowcount > 0

    async def all(self) -> dict[int, LostChat]:
        rows = await fetch_all(self._conn, "SELECT * FROM lost_chats ORDER BY chat_id")
        return {
            row["chat_id"]: LostChat(
                row["chat_id"], row["reason"], row["moved_to"], from_db(row["since"])
            )
            for row in rows
        }
