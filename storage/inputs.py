"""Inputs, their edits, stars and votes."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

import aiosqlite

from bot.models import (
    Admission,
    FacilitatorChat,
    IncomingMessage,
    Input,
    InputKind,
    InputState,
)
from storage.agenda import facilitator_chats_sql
from storage.checkins import checkin_from_row
from storage.db import fetch_all, fetch_one
from storage.roles import GRANT_JSON, grant_from_row
from storage.timestamps import from_db, maybe_from_db, to_db

# How an author is shown follows their choice as it is now, not as it was when they wrote:
# `/anonymous` covers the inputs written before it too. The choice lives on the check-in
# (NULL: never made); without a check-in any more (declined after withdrawing), anonymous.
CHOSEN_ANONYMITY = "CASE WHEN c.user_id IS NULL THEN 1 ELSE c.anonymous END"
CHOICE_JOIN = "LEFT JOIN checkins c ON c.event_key = i.event_key AND c.user_id = i.user_id"

_SELECT = f"""
    SELECT i.*, p.display_name AS author_name,
           {CHOSEN_ANONYMITY} AS chosen_anonymity,
           (SELECT COUNT(*) FROM input_stars s WHERE s.input_id = i.id) AS stars,
           (SELECT COUNT(*) FROM input_votes v WHERE v.input_id = i.id) AS votes
      FROM inputs i JOIN participants p ON p.user_id = i.user_id
      {CHOICE_JOIN}
"""  # noqa: S608 - constant fragments


def input_from_row(row: aiosqlite.Row) -> Input:
    """An input from a row of `_SELECT` (or any query with the same columns)."""
    return Input(
        id=row["id"],
        event_key=row["event_key"],
        user_id=row["user_id"],
        site_key=row["site_key"],
        group_key=row["group_key"],
        role=row["role"],
        category_key=row["category_key"],
        anonymous=None if row["chosen_anonymity"] is None else bool(row["chosen_anonymity"]),
        item_key=row["item_key"],
        adhoc_id=row["adhoc_id"],
        kind=InputKind(row["kind"]),
        text=row["text"],
        file_id=row["file_id"],
        file_name=row["file_name"],
        chat_id=row["chat_id"],
        message_id=row["message_id"],
        state=InputState(row["state"]),
        created_at=from_db(row["created_at"]),
        edited_at=maybe_from_db(row["edited_at"]),
        author_name=row["author_name"],
        stars=row["stars"],
        votes=row["votes"],
    )


class SqliteInputRepo:
    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn

    async def add(
        self,
        *,
        event_key: str,
        user_id: int,
        site_key: str,
        group_key: str | None,
        role: str,
        category_key: str | None,
        anonymous: bool,
        item_key: str | None,
        adhoc_id: int | None,
        message: IncomingMessage,
        now: datetime,
    ) -> Input | None:
        """Store an input and return it; None when this message or update is already stored."""
        row = await fetch_one(
            self._conn,
            """
            INSERT INTO inputs (event_key, user_id, site_key, group_key, role, category_key,
                                anonymous, item_key, adhoc_id, kind, text, file_id,
                                file_unique_id, file_name, mime_type, duration, chat_id,
                                message_id, update_id, created_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT DO NOTHING
            RETURNING *,
                (SELECT display_name FROM participants p WHERE p.user_id = inputs.user_id)
                    AS author_name,
                (SELECT CASE WHEN c.user_id IS NULL THEN 1 ELSE c.anonymous END
                   FROM (SELECT 1) LEFT JOIN checkins c
                     ON c.event_key = inputs.event_key AND c.user_id = inputs.user_id)
                    AS chosen_anonymity,
                0 AS stars, 0 AS votes
            """,
            (
                event_key,
                user_id,
                site_key,
                group_key,
                role,
                category_key,
                int(anonymous),
                item_key,
                adhoc_id,
                message.kind.value,
                message.text,
                message.file_id,
                message.file_unique_id,
                message.file_name,
                message.mime_type,
                message.duration,
                message.chat_id,
                message.message_id,
                message.update_id,
                to_db(now),
            ),
        )
        return input_from_row(row) if row else None

    async def admission(
        self, event_key: str, user_id: int, chat_id: int, message_id: int
    ) -> Admission:
        row = await fetch_one(
            self._conn,
            f"""
            SELECT (SELECT id FROM inputs WHERE chat_id = :chat AND message_id = :message)
                       AS existing_input_id,
                   EXISTS (SELECT 1 FROM consents k
                            WHERE k.user_id = :user AND k.event_key = :event
                              AND k.withdrawn_at IS NULL) AS consented,
                   (SELECT json_group_array(json(grant)) FROM (
                        SELECT {GRANT_JSON} AS grant FROM roles
                         WHERE event_key = :event AND user_id = :user ORDER BY granted_at
                   )) AS grants,
                   (SELECT json_group_array(json_array(chat_id, language, telegram_language))
                      FROM ({facilitator_chats_sql("c.site_key")})) AS facilitators,
                   c.*
              FROM (SELECT 1) LEFT JOIN checkins c
                ON c.event_key = :event AND c.user_id = :user
            """,  # noqa: S608 - constant fragments of ours; the values are parameters
            {
                "chat": chat_id,
                "message": message_id,
                "user": user_id,
                "event": event_key,
            },
        )
        assert row is not None  # noqa: S101 - a LEFT JOIN from one row gives one row
        return Admission(
            existing_input_id=row["existing_input_id"],
            checkin=checkin_from_row(row) if row["user_id"] is not None else None,
            consented=bool(row["consented"]),
            grants=tuple(grant_from_row(grant) for grant in json.loads(row["grants"])),
            facilitators=tuple(FacilitatorChat(*f) for f in json.loads(row["facilitators"])),
        )

    async def get(self, input_id: int) -> Input | None:
        row = await fetch_one(self._conn, f"{_SELECT} WHERE i.id = ?", (input_id,))
        return input_from_row(row) if row else None

    async def by_message(self, chat_id: int, message_id: int) -> Input | None:
        row = await fetch_one(
            self._conn,
            f"{_SELECT} WHERE i.chat_id = ? AND i.message_id = ?",
            (chat_id, message_id),
        )
        return input_from_row(row) if row else None

    async def edit(self, input_id: int, text: str, now: datetime) -> None:
        """Replace the text, keeping the one it replaces in the history."""
        await self._conn.execute(
            "INSERT INTO input_edits (input_id, text, replaced_at)"
            " SELECT id, text, ? FROM inputs WHERE id = ?",
            (to_db(now), input_id),
        )
        await self._conn.execute(
            "UPDATE inputs SET text = ?, edited_at = ? WHERE id = ?",
            (text, to_db(now), input_id),
        )

    async def history(self, input_id: int) -> list[str]:
        rows = await fetch_all(
            self._conn,
            "SELECT text FROM input_edits WHERE input_id = ? ORDER BY rowid",
            (input_id,),
        )
        return [row["text"] for row in rows]

    async def set_state(
        self, input_id: int, state: InputState, by: int | None, now: datetime
    ) -> None:
        await self._conn.execute(
            "UPDATE inputs SET state = ?, state_changed_at = ?, state_changed_by = ? WHERE id = ?",
            (state.value, to_db(now), by, input_id),
        )

    async def of_user(self, event_key: str, user_id: int, limit: int) -> Sequence[Input]:
        """The person's inputs that are not withdrawn, newest first."""
        rows = await fetch_all(
            self._conn,
            f"{_SELECT} WHERE i.event_key = ? AND i.user_id = ? AND i.state != 'withdrawn'"
            " ORDER BY i.id DESC LIMIT ?",
            (event_key, user_id, limit),
        )
        return [input_from_row(row) for row in rows]

    async def count_of_user(self, event_key: str, user_id: int) -> int:
        row = await fetch_one(
            self._conn,
            "SELECT COUNT(*) FROM inputs WHERE event_key = ? AND user_id = ?"
            " AND state != 'withdrawn'",
            (event_key, user_id),
        )
        return int(row[0]) if row else 0

    async def for_prompt(
        self,
        event_key: str,
        site_key: str,
        item_key: str | None,
        adhoc_id: int | None,
        limit: int,
    ) -> Sequence[Input]:
        """The latest visible inputs to one prompt at one site, newest first."""
        rows = await fetch_all(
            self._conn,
            f"{_SELECT} WHERE i.event_key = ? AND i.site_key = ? AND i.state = 'visible'"
            " AND i.item_key IS ? AND i.adhoc_id IS ? ORDER BY i.id DESC LIMIT ?",
            (event_key, site_key, item_key, adhoc_id, limit),
        )
        return [input_from_row(row) for row in rows]

    async def counts_by_group(
        self, event_key: str, site_key: str, item_key: str | None, adhoc_id: int | None
    ) -> dict[str | None, int]:
        """Inputs that are not withdrawn per table, for one prompt at one site."""
        rows = await fetch_all(
            self._conn,
            "SELECT group_key, COUNT(*) AS n FROM inputs WHERE event_key = ? AND site_key = ?"
            " AND item_key IS ? AND adhoc_id IS ? AND state != 'withdrawn' GROUP BY group_key",
            (event_key, site_key, item_key, adhoc_id),
        )
        return {row["group_key"]: row["n"] for row in rows}

    async def toggle_star(self, input_id: int, user_id: int, now: datetime) -> bool:
        """Star or unstar; True when the input is now starred by this person."""
        return await self._toggle("input_stars", input_id, user_id, now)

    async def add_star(self, input_id: int, user_id: int, now: datetime) -> None:
        """Starred by this person, whether or not they had starred it before."""
        await self._conn.execute(
            "INSERT INTO input_stars (input_id, user_id, created_at) VALUES (?, ?, ?)"
            " ON CONFLICT DO NOTHING",
            (input_id, user_id, to_db(now)),
        )

    async def toggle_vote(self, input_id: int, user_id: int, now: datetime) -> bool:
        return await self._toggle("input_votes", input_id, user_id, now)

    async def voted_by(self, user_id: int, input_ids: Sequence[int]) -> set[int]:
        if not input_ids:
            return set()
        marks = ",".join("?" * len(input_ids))
        rows = await fetch_all(
            self._conn,
            f"SELECT input_id FROM input_votes WHERE user_id = ? AND input_id IN ({marks})",  # noqa: S608 - only placeholders are interpolated
            (user_id, *input_ids),
        )
        return {row["input_id"] for row in rows}

    async def _toggle(self, table: str, input_id: int, user_id: int, now: datetime) -> bool:
        # `table` is one of two constants above, never user input.
        cur = await self._conn.execute(
            f"DELETE FROM {table} WHERE input_id = ? AND user_id = ?",  # noqa: S608
            (input_id, user_id),
        )
        if cur.rowcount > 0:
            return False
        await self._conn.execute(
            f"INSERT INTO {table} (input_id, user_id, created_at) VALUES (?, ?, ?)",  # noqa: S608
            (input_id, user_id, to_db(now)),
        )
        return True
