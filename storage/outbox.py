"""The outbox: messages recorded before they are sent, and what became of each."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

import aiosqlite

from bot.models import DeliveryStatus, NewDelivery, OutboxMessage, OutboxRow
from storage.db import fetch_all, fetch_one
from storage.timestamps import from_db, maybe_from_db, to_db

# The error column holds a reason for an organiser's report, not a log.
_MAX_ERROR_LENGTH = 200
# The error of a row whose copies went to other chats before it was tried (`mark_rerouted`).
_REROUTED = "rerouted: "


def _row(row: aiosqlite.Row) -> OutboxRow:
    return OutboxRow(
        id=row["id"],
        key=row["key"],
        event_key=row["event_key"],
        chat_id=row["chat_id"],
        user_id=row["user_id"],
        kind=row["kind"],
        message=OutboxMessage.from_json(row["payload"]),
        status=DeliveryStatus(row["status"]),
        attempts=row["attempts"],
        not_before=maybe_from_db(row["not_before"]),
        created_at=from_db(row["created_at"]),
        sent_at=maybe_from_db(row["sent_at"]),
        telegram_message_id=row["telegram_message_id"],
        error=row["error"],
        priority=row["priority"],
        expires_at=maybe_from_db(row["expires_at"]),
    )


def _short(error: str) -> str:
    return error[:_MAX_ERROR_LENGTH]


class SqliteOutboxRepo:
    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn

    async def enqueue(self, items: Sequence[NewDelivery], now: datetime) -> int:
        if not items:
            return 0
        created = to_db(now)
        # A push to a site shares one message object among its recipients: encoded once.
        payloads: dict[int, str] = {}
        rows = []
        for item in items:
            payload = payloads.get(id(item.message))
            if payload is None:
                payload = payloads[id(item.message)] = item.message.to_json()
            rows.append(
                (
                    item.key,
                    item.event_key,
                    item.chat_id,
                    item.user_id,
                    item.kind,
                    payload,
                    created,
                    item.priority,
                    None if item.expires_at is None else to_db(item.expires_at),
                )
            )
        # DO NOTHING on the key: a decision taken again (after a restart, by a retried job)
        # must not queue the message twice, nor fail the transaction that took it. One
        # statement for all rows: a trip to the database thread per row added up to seconds
        # for a broadcast to thousands. Its rowcount is the number of rows inserted.
        cur = await self._conn.executemany(
            """
            INSERT INTO outbox
                (key, event_key, chat_id, user_id, kind, payload, status, created_at, priority,
                 expires_at)
            VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?)
            ON CONFLICT (key) DO NOTHING
            """,
            rows,
        )
        return cur.rowcount

    async def next_pending(self, now: datetime, limit: int) -> list[OutboxRow]:
        rows = await fetch_all(
            self._conn,
            """
            SELECT * FROM outbox
             WHERE status = 'pending' AND (not_before IS NULL OR not_before <= ?)
             ORDER BY priority, id
             LIMIT ?
            """,
            (to_db(now), limit),
        )
        return [_row(row) for row in rows]

    async def next_per_chat(self, now: datetime, limit: int) -> list[OutboxRow]:
        # An ordered scan of the pending rows (by priority, then id) that keeps a row only if
        # no pending row of its chat comes before it: the first time a chat appears is its
        # first row. The due filter comes after that test, so a row in backoff keeps the later
        # rows of its chat waiting rather than letting them overtake it; a chat with a send in
        # flight offers nothing. Each test is one probe of outbox_pending_by_chat, and the
        # scan stops at `limit`: the cost follows the rows wanted, not the rows queued.
        found = await self._conn.execute_fetchall(
            """
            SELECT * FROM outbox AS o
             WHERE o.status = 'pending'
               AND NOT EXISTS (
                   SELECT 1 FROM outbox AS e
                    WHERE e.status = 'pending' AND e.chat_id = o.chat_id
                      AND (e.priority, e.id) < (o.priority, o.id)
               )
               AND NOT EXISTS (
                   SELECT 1 FROM outbox AS s WHERE s.status = 'sending' AND s.chat_id = o.chat_id
               )
               AND (o.not_before IS NULL OR o.not_before <= ?)
             ORDER BY o.priority, o.id
             LIMIT ?
            """,
            (to_db(now), limit),
        )
        return [_row(row) for row in found]

    async def claim(self, row_ids: Sequence[int], now: datetime) -> dict[int, DeliveryStatus]:
        if not row_ids:
            return {}
        marks = ", ".join("?" * len(row_ids))
        # Inside the caller's write transaction, so nothing changes between the look and the
        # updates. A person known to be unreachable (they blocked the bot) is not tried again:
        # one look settles the whole batch, rather than a look-up per row. execute_fetchall
        # is one round trip to the database thread, where a cursor would take three.
        found = await self._conn.execute_fetchall(
            f"""
            SELECT o.id, EXISTS (
                       SELECT 1 FROM participants AS p
                        WHERE p.user_id = o.user_id AND p.unreachable_at IS NOT NULL
                   ) AS blocked
              FROM outbox AS o
             WHERE o.id IN ({marks}) AND o.status = 'pending'
            """,  # noqa: S608 - only placeholders are interpolated
            tuple(row_ids),
        )
        blocked = [row[0] for row in found if row[1]]
        claimed = [row[0] for row in found if not row[1]]
        if blocked:
            await self._conn.execute(
                f"""
                UPDATE outbox SET status = 'unreachable', error = 'participant unreachable'
                 WHERE id IN ({", ".join("?" * len(blocked))})
                """,  # noqa: S608 - only placeholders are interpolated
                blocked,
            )
        if claimed:
            await self._conn.execute(
                f"""
                UPDATE outbox SET status = 'sending', attempts = attempts + 1, not_before = NULL
                 WHERE id IN ({", ".join("?" * len(claimed))})
                """,  # noqa: S608 - only placeholders are interpolated
                claimed,
            )
        return {
            **dict.fromkeys(blocked, DeliveryStatus.UNREACHABLE),
            **dict.fromkeys(claimed, DeliveryStatus.SENDING),
        }

    async def pending_chats(self, chat_ids: Collection[int]) -> set[int]:
        if not chat_ids:
            return set()
        marks = ", ".join("?" * len(chat_ids))
        found = await self._conn.execute_fetchall(
            f"""
            SELECT DISTINCT chat_id FROM outbox
             WHERE status = 'pending' AND chat_id IN ({marks})
            """,  # noqa: S608 - only placeholders are interpolated
            tuple(chat_ids),
        )
        return {row[0] for row in found}

    async def mark_sending(self, row_id: int, now: datetime) -> bool:
        cur = await self._conn.execute(
            """
            UPDATE outbox SET status = 'sending', attempts = attempts + 1, not_before = NULL
             WHERE id = ? AND status = 'pending'
            """,
            (row_id,),
        )
        return cur.rowcount > 0

    async def mark_sent(self, row_id: int, message_id: int, now: datetime) -> None:
        # Once Telegram has it, the text is no longer needed here: keeping it would keep
        # participants' words (quoted in feeds and relays) beyond their use.
        await self._conn.execute(
            """
            UPDATE outbox
               SET status = 'sent', sent_at = ?, telegram_message_id = ?, error = NULL,
                   payload = '{"text":""}'
             WHERE id = ?
            """,
            (to_db(now), message_id, row_id),
        )

    async def mark_sent_many(self, sent: Sequence[tuple[int, int, datetime]]) -> None:
        # One statement for a batch of answers (see mark_sent: the text is dropped).
        await self._conn.executemany(
            """
            UPDATE outbox
               SET status = 'sent', sent_at = ?, telegram_message_id = ?, error = NULL,
                   payload = '{"text":""}'
             WHERE id = ?
            """,
            [(to_db(at), message_id, row_id) for row_id, message_id, at in sent],
        )

    async def mark_pending_retry(self, row_id: int, not_before: datetime, error: str) -> None:
        await self._conn.execute(
            "UPDATE outbox SET status = 'pending', not_before = ?, error = ? WHERE id = ?",
            (to_db(not_before), _short(error), row_id),
        )

    async def _finish(self, row_id: int, status: DeliveryStatus, error: str) -> None:
        await self._conn.execute(
            "UPDATE outbox SET status = ?, error = ? WHERE id = ?",
            (status.value, _short(error), row_id),
        )

    async def mark_failed(self, row_id: int, error: str) -> None:
        await self._finish(row_id, DeliveryStatus.FAILED, error)

    async def mark_unreachable(self, row_id: int, error: str) -> None:
        await self._finish(row_id, DeliveryStatus.UNREACHABLE, error)

    async def mark_unknown(self, row_id: int, error: str) -> None:
        await self._finish(row_id, DeliveryStatus.UNKNOWN, error)

    async def mark_missed(self, row_id: int, error: str) -> None:
        # Never sent: the text goes, as for a sent row, since nothing will send it now.
        await self._conn.execute(
            """
            UPDATE outbox SET status = 'missed', error = ?, payload = '{"text":""}'
             WHERE id = ?
            """,
            (_short(error), row_id),
        )

    async def unknown_rows(self, limit: int) -> list[OutboxRow]:
        rows = await fetch_all(
            self._conn,
            """
            SELECT * FROM outbox AS o
             WHERE o.status = 'unknown'
               AND NOT EXISTS (SELECT 1 FROM outbox AS r WHERE r.key = 'resend:' || o.id)
             ORDER BY o.id
             LIMIT ?
            """,
            (limit,),
        )
        return [_row(row) for row in rows]

    async def mark_resent(self, row_ids: Sequence[int]) -> None:
        await self._conn.executemany(
            """UPDATE outbox SET payload = '{"text":""}', error = 'sent again' WHERE id = ?""",
            [(row_id,) for row_id in row_ids],
        )

    async def recover_after_restart(self, now: datetime) -> int:
        cur = await self._conn.execute(
            """
            UPDATE outbox SET status = 'unknown', error = 'interrupted while sending'
             WHERE status = 'sending'
            """
        )
        return cur.rowcount

    async def counts(self) -> dict[DeliveryStatus, int]:
        found = dict.fromkeys(DeliveryStatus, 0)
        rows = await fetch_all(
            self._conn, "SELECT status, COUNT(*) AS n FROM outbox GROUP BY status"
        )
        for row in rows:
            found[DeliveryStatus(row["status"])] = row["n"]
        return found

    async def next_due_at(self, after: datetime | None = None) -> datetime | None:
        found = await self._conn.execute_fetchall(
            """
            SELECT MIN(not_before) FROM outbox
             WHERE status = 'pending' AND not_before > COALESCE(?, '')
            """,
            (None if after is None else to_db(after),),
        )
        return next((maybe_from_db(row[0]) for row in found), None)

    async def with_prefix(self, prefix: str) -> list[OutboxRow]:
        """The rows whose key starts with `prefix` (a range on the key's unique index)."""
        rows = await fetch_all(
            self._conn,
            "SELECT * FROM outbox WHERE key >= ? AND key < ? ORDER BY id",
            (prefix, prefix + "\U0010ffff"),
        )
        return [_row(row) for row in rows]

    async def replace_pending(self, row_id: int, message: OutboxMessage) -> bool:
        """A message not sent yet gets its newer content; False if it is no longer pending."""
        cur = await self._conn.execute(
            "UPDATE outbox SET payload = ? WHERE id = ? AND status = 'pending'",
            (message.to_json(), row_id),
        )
        return cur.rowcount > 0

    async def drop_pending(self, row_ids: Sequence[int]) -> None:
        """Rows superseded before they were sent (an edit overtaken by a later one)."""
        await self._conn.executemany(
            "DELETE FROM outbox WHERE id = ? AND status = 'pending'",
            [(row_id,) for row_id in row_ids],
        )

    async def by_key(self, key: str) -> OutboxRow | None:
        row = await fetch_one(self._conn, "SELECT * FROM outbox WHERE key = ?", (key,))
        return _row(row) if row else None

    async def pending_to(self, chat_id: int) -> list[OutboxRow]:
        rows = await fetch_all(
            self._conn,
            "SELECT * FROM outbox WHERE status = 'pending' AND chat_id = ? ORDER BY id",
            (chat_id,),
        )
        return [_row(row) for row in rows]

    async def mark_rerouted(self, row_ids: Sequence[int], reason: str) -> None:
        await self._conn.executemany(
            """
            UPDATE outbox SET status = 'unreachable', error = ?
             WHERE id = ? AND status = 'pending'
            """,
            [(_short(f"{_REROUTED}{reason}"), row_id) for row_id in row_ids],
        )

    async def failed_sends(self) -> int:
        row = await fetch_one(
            self._conn,
            """
            SELECT COUNT(*) AS n FROM outbox
             WHERE status = 'failed'
                OR (status = 'unreachable' AND user_id IS NULL
                    AND substr(COALESCE(error, ''), 1, ?) != ?)
            """,
            (len(_REROUTED), _REROUTED),
        )
        return row["n"] if row is not None else 0
