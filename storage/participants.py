"""Participants and their consents."""

from __future__ import annotations

from datetime import datetime

import aiosqlite

from bot.models import Consent, Participant
from storage.db import fetch_one
from storage.timestamps import from_db, maybe_from_db, to_db


def _participant(row: aiosqlite.Row) -> Participant:
    return Participant(
        user_id=row["user_id"],
        chat_id=row["chat_id"],
        display_name=row["display_name"],
        language=row["language"],
        created_at=from_db(row["created_at"]),
        unreachable_at=maybe_from_db(row["unreachable_at"]),
        telegram_language=row["telegram_language"],
    )


class SqliteParticipantRepo:
    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn

    async def get(self, user_id: int) -> Participant | None:
        row = await fetch_one(
            self._conn, "SELECT * FROM participants WHERE user_id = ?", (user_id,)
        )
        return _participant(row) if row else None

    async def upsert(
        self,
        user_id: int,
        chat_id: int,
        display_name: str,
        now: datetime,
        telegram_language: str | None = None,
    ) -> Participant:
        # Writing to the bot proves it is not blocked (any more): clear unreachable_at.
        await self._conn.execute(
            """
            INSERT INTO participants (user_id, chat_id, display_name, created_at,
                                      telegram_language)
            VALUES (?, ?, ?, ?, ?)
            ON CONFLICT (user_id) DO UPDATE
               SET chat_id = excluded.chat_id, display_name = excluded.display_name,
                   telegram_language = COALESCE(excluded.telegram_language, telegram_language),
                   unreachable_at = NULL
            """,
            (user_id, chat_id, display_name, to_db(now), telegram_language),
        )
        found = await self.get(user_id)
        assert found is not None  # noqa: S101 - just written in this transaction
        return found

    async def set_language(self, user_id: int, language: str | None) -> None:
        await self._conn.execute(
            "UPDATE participants SET language = ? WHERE user_id = ?", (language, user_id)
        )

    async def delete(self, user_id: int) -> bool:
        cur = await self._conn.execute("DELETE FROM participants WHERE user_id = ?", (user_id,))
        return cur.rowcount > 0

    async def mark_unreachable(self, user_id: int, now: datetime) -> None:
        # COALESCE keeps the first time: when they blocked the bot, not when we last noticed.
        await self._conn.execute(
            "UPDATE participants SET unreachable_at = COALESCE(unreachable_at, ?)"
            " WHERE user_id = ?",
            (to_db(now), user_id),
        )

    async def mark_reachable(self, user_id: int) -> None:
        await self._conn.execute(
            "UPDATE participants SET unreachable_at = NULL WHERE user_id = ?", (user_id,)
        )

    async def withdrew_consent(self, user_id: int, event_key: str) -> bool:
        row = await fetch_one(
            self._conn,
            """
            SELECT withdrawn_at IS NOT NULL AS withdrawn FROM consents
             WHERE user_id = ? AND event_key = ?
             ORDER BY id DESC LIMIT 1
            """,
            (user_id, event_key),
        )
        return row is not None and bool(row["withdrawn"])

    async def active_consent(self, user_id: int, event_key: str) -> Consent | None:
        row = await fetch_one(
            self._conn,
            """
            SELECT * FROM consents
             WHERE user_id = ? AND event_key = ? AND withdrawn_at IS NULL
             ORDER BY id DESC LIMIT 1
            """,
            (user_id, event_key),
        )
        if row is None:
            return None
        return Consent(
            user_id=row["user_id"],
            event_key=row["event_key"],
            version=row["version"],
            given_at=from_db(row["given_at"]),
            withdrawn_at=maybe_from_db(row["withdrawn_at"]),
        )

    async def record_consent(
        self, user_id: int, event_key: str, version: str, now: datetime
    ) -> Consent:
        await self._conn.execute(
            "INSERT INTO consents (user_id, event_key, version, given_at) VALUES (?, ?, ?, ?)",
            (user_id, event_key, version, to_db(now)),
        )
        return Consent(user_id=user_id, event_key=event_key, version=version, given_at=now)
