"""The agenda's state: shifts, pauses, what was fired, ad-hoc prompts; and who receives pushes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import aiosqlite

from bot.models import (
    AdhocPrompt,
    FacilitatorChat,
    Recipient,
    Shift,
    ShiftReason,
    SiteAgendaState,
    SiteCounts,
)
from storage.db import fetch_all, fetch_one
from storage.timestamps import from_db, maybe_from_db, to_db


def facilitator_chats_sql(site: str = ":site") -> str:
    """The query for the private chats of the people with facilitator rights at a site of
    the event `:event`; `site` is an SQL expression naming the site (a column of an outer
    query where it is a subquery)."""
    return f"""
        SELECT DISTINCT p.chat_id, p.language, p.telegram_language
          FROM roles r JOIN participants p ON p.user_id = r.user_id
         WHERE r.event_key = :event AND r.role = 'facilitator' AND r.site_key = {site}
           AND p.unreachable_at IS NULL
         ORDER BY p.chat_id
    """  # noqa: S608 - `site` is an expression of ours, never a value


class SqliteAgendaRepo:
    """Agenda state is read for every input and every tick of the engine, and changes a few
    times an hour: each site's state is kept in memory once read. Every write below drops
    its site's copy, and the unit of work drops them all when a transaction rolls back (a
    copy read after a write in that transaction would show what never happened). Only this
    process writes these tables while the bot runs."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn
        self._states: dict[tuple[str, str], SiteAgendaState] = {}

    def forget_cached(self) -> None:
        self._states.clear()

    def _changed(self, event_key: str, site_key: str) -> None:
        self._states.pop((event_key, site_key), None)

    async def state(self, event_key: str, site_key: str) -> SiteAgendaState:
        cached = self._states.get((event_key, site_key))
        if cached is None:
            cached = self._states[(event_key, site_key)] = await self._read_state(
                event_key, site_key
            )
        return cached

    async def _read_state(self, event_key: str, site_key: str) -> SiteAgendaState:
        args = (event_key, site_key)
        rows = await fetch_all(
            self._conn,
            "SELECT * FROM agenda_shifts WHERE event_key = ? AND site_key = ? ORDER BY id",
            args,
        )
        shifts = tuple(
            [
                Shift(
                    id=row["id"],
                    site_key=row["site_key"],
                    from_item_key=row["from_item_key"],
                    seconds=row["seconds"],
                    reason=ShiftReason(row["reason"]),
                    created_at=from_db(row["created_at"]),
                )
                for row in rows
            ]
        )
        pause = await fetch_one(
            self._conn,
            "SELECT paused_at FROM agenda_pauses WHERE event_key = ? AND site_key = ?",
            args,
        )
        rows = await fetch_all(
            self._conn,
            "SELECT item_key, what FROM agenda_fired WHERE event_key = ? AND site_key = ?",
            args,
        )
        fired = frozenset([(row["item_key"], row["what"]) for row in rows])
        rows = await fetch_all(
            self._conn,
            "SELECT * FROM adhoc_prompts WHERE event_key = ? AND site_key = ? ORDER BY id",
            args,
        )
        adhoc = tuple(
            [
                AdhocPrompt(
                    id=row["id"],
                    site_key=row["site_key"],
                    group_key=row["group_key"],
                    text=row["text"],
                    opened_at=from_db(row["opened_at"]),
                    closed_at=maybe_from_db(row["closed_at"]),
                )
                for row in rows
            ]
        )
        return SiteAgendaState(
            site_key=site_key,
            shifts=shifts,
            paused_at=from_db(pause["paused_at"]) if pause else None,
            fired=fired,
            adhoc=adhoc,
        )

    async def add_shift(
        self,
        event_key: str,
        site_key: str,
        from_item_key: str,
        seconds: int,
        reason: ShiftReason,
        by: int | None,
        now: datetime,
    ) -> int:
        self._changed(event_key, site_key)
        cur = await self._conn.execute(
            """
            INSERT INTO agenda_shifts (event_key, site_key, from_item_key, seconds, reason,
                                       created_by, created_at)
            VALUES (?, ?, ?, ?, ?, ?, ?)
            """,
            (event_key, site_key, from_item_key, seconds, reason.value, by, to_db(now)),
        )
        assert cur.lastrowid is not None  # noqa: S101 - an INSERT into a rowid table
        return cur.lastrowid

    async def pause(self, event_key: str, site_key: str, by: int | None, now: datetime) -> bool:
        self._changed(event_key, site_key)
        cur = await self._conn.execute(
            """
            INSERT INTO agenda_pauses (event_key, site_key, paused_at, paused_by)
            VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING
            """,
            (event_key, site_key, to_db(now), by),
        )
        return cur.rowcount > 0

    async def unpause(self, event_key: str, site_key: str) -> None:
        self._changed(event_key, site_key)
        await self._conn.execute(
            "DELETE FROM agenda_pauses WHERE event_key = ? AND site_key = ?",
            (event_key, site_key),
        )

    async def mark_fired(
        self,
        event_key: str,
        site_key: str,
        item_key: str,
        what: str,
        outcome: str,
        now: datetime,
    ) -> bool:
        """Record that an item's start or reminder was handled; False if it already was."""
        self._changed(event_key, site_key)
        cur = await self._conn.execute(
            """
            INSERT INTO agenda_fired (event_key, site_key, item_key, what, outcome, fired_at)
            VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING
            """,
            (event_key, site_key, item_key, what, outcome, to_db(now)),
        )
        return cur.rowcount > 0

    async def fired_outcomes(self, event_key: str, site_key: str) -> dict[tuple[str, str], str]:
        rows = await fetch_all(
            self._conn,
            "SELECT item_key, what, outcome FROM agenda_fired"
            " WHERE event_key = ? AND site_key = ?",
            (event_key, site_key),
        )
        return {(row["item_key"], row["what"]): row["outcome"] for row in rows}

    async def open_adhoc(
        self,
        event_key: str,
        site_key: str,
        group_key: str | None,
        text: str,
        by: int | None,
        now: datetime,
    ) -> int:
        self._changed(event_key, site_key)
        cur = await self._conn.execute(
            """
            INSERT INTO adhoc_prompts (event_key, site_key, group_key, text, opened_by, opened_at)
            VALUES (?, ?, ?, ?, ?, ?)
            """,
            (event_key, site_key, group_key, text, by, to_db(now)),
        )
        assert cur.lastrowid is not None  # noqa: S101 - an INSERT into a rowid table
        return cur.lastrowid

    async def close_adhoc(self, event_key: str, site_key: str, now: datetime) -> int:
        self._changed(event_key, site_key)
        cur = await self._conn.execute(
            """
            UPDATE adhoc_prompts SET closed_at = ?
             WHERE event_key = ? AND site_key = ? AND closed_at IS NULL
            """,
            (to_db(now), event_key, site_key),
        )
        return cur.rowcount

    async def recipients(
        self,
        event_key: str,
        site_key: str,
        group_key: str | None = None,
        missing_key: str | None = None,
        *,
        unreachable_too: bool = False,
    ) -> Sequence[Recipient]:
        """Checked-in participants of a site (or one table) who consented and can be reached
        (`unreachable_too`: and those who blocked the bot, whose rows the delivery worker
        settles as unreachable without a try, so that a report counts them); with
        `missing_key`, only those with no outbox row `missing_key + user id` yet."""
        sql = """
            SELECT p.user_id, p.chat_id, c.group_key, p.language, p.telegram_language
              FROM checkins c
              JOIN participants p ON p.user_id = c.user_id
             WHERE c.event_key = ? AND c.site_key = ?
               AND (p.unreachable_at IS NULL OR ?)
               AND EXISTS (SELECT 1 FROM consents k
                            WHERE k.user_id = c.user_id AND k.event_key = c.event_key
                              AND k.withdrawn_at IS NULL)
        """
        params: tuple[object, ...] = (event_key, site_key, unreachable_too)
        if group_key is not None:
            sql += " AND c.group_key = ?"
            params += (group_key,)
        if missing_key is not None:
            sql += " AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.key = ? || p.user_id)"
            params += (missing_key,)
        sql += " ORDER BY p.user_id"
        rows = await fetch_all(self._conn, sql, params)
        return [
            Recipient(
                user_id=row["user_id"],
                chat_id=row["chat_id"],
                group_key=row["group_key"],
                language=row["language"],
                telegram_language=row["telegram_language"],
            )
            for row in rows
        ]

    async def unanswered(
        self, event_key: str, site_key: str, item_key: str
    ) -> Sequence[Recipient]:
        """The recipients of a prompt's reminder: those with no input to it (withdrawn
        inputs do not count)."""
        answered = {
            row["user_id"]
            async for row in await self._conn.execute(
                "SELECT DISTINCT user_id FROM inputs WHERE event_key = ? AND site_key = ?"
                " AND item_key = ? AND state != 'withdrawn'",
                (event_key, site_key, item_key),
            )
        }
        return [r for r in await self.recipients(event_key, site_key) if r.user_id not in answered]

    async def site_counts(self, event_key: str, site_key: str) -> SiteCounts:
        row = await fetch_one(
            self._conn,
            """
            SELECT COUNT(*) AS checked_in,
                   COALESCE(SUM(p.unreachable_at IS NOT NULL), 0) AS unreachable
              FROM checkins c
              JOIN participants p ON p.user_id = c.user_id
             WHERE c.event_key = ? AND c.site_key = ?
               AND EXISTS (SELECT 1 FROM consents k
                            WHERE k.user_id = c.user_id AND k.event_key = c.event_key
                              AND k.withdrawn_at IS NULL)
            """,
            (event_key, site_key),
        )
        return SiteCounts(
            checked_in=row["checked_in"] if row else 0,
            unreachable=row["unreachable"] if row else 0,
        )

    async def delivery_counts(self, key_prefix: str) -> dict[str, int]:
        """Outbox rows whose key starts with `key_prefix`, by status."""
        # A prefix comparison, not LIKE: keys contain "_", which LIKE would read as a wildcard.
        rows = await fetch_all(
            self._conn,
            "SELECT status, COUNT(*) AS n FROM outbox WHERE substr(key, 1, ?) = ? GROUP BY status",
            (len(key_prefix), key_prefix),
        )
        return {row["status"]: row["n"] for row in rows}

    async def missed_pushes(self, event_key: str, site_key: str) -> dict[str, int]:
        """Items of the site whose push was missed by some (Telegram unreachable until the
        next item), with how many copies; read through outbox_by_kind."""
        prefix = f"push:{event_key}:{site_key}:"
        rows = await fetch_all(
            self._conn,
            """
            SELECT key FROM outbox
             WHERE event_key = ? AND kind = 'push' AND status = 'missed'
               AND substr(key, 1, ?) = ?
            """,
            (event_key, len(prefix), prefix),
        )
        found: dict[str, int] = {}
        for row in rows:
            item_key = row["key"][len(prefix) :].rpartition(":")[0]
            found[item_key] = found.get(item_key, 0) + 1
        return found

    async def facilitator_chats(self, event_key: str, site_key: str) -> list[int]:
        """Private chats of the people with facilitator rights at the site."""
        rows = await fetch_all(
            self._conn, facilitator_chats_sql(), {"event": event_key, "site": site_key}
        )
        return [row["chat_id"] for row in rows]

    async def facilitators(self, event_key: str, site_key: str) -> list[FacilitatorChat]:
        """The same chats, with their people's languages."""
        rows = await fetch_all(
            self._conn, facilitator_chats_sql(), {"event": event_key, "site": site_key}
        )
        return [
            FacilitatorChat(row["chat_id"], row["language"], row["telegram_language"])
            for row in rows
        ]
