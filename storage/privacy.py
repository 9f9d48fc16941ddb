"""Erasure, retention and a participant's own data: SQL that reaches every table.

Most personal data hangs off `participants` through ON DELETE CASCADE (consents, check-ins,
roles, inputs with their edits, stars, votes, highlights and relays, reactions, outbox rows to
the person). What does not is handled here: messages to others that carried the person's words
(facilitators' feed cards, relays; `copies_in_telegram` finds the sent ones so that they
are edited or deleted in Telegram), the inbox's record of their messages, and the places that
name them as the actor (moderation, shifts, broadcasts, ad-hoc prompts).
"""

from __future__ import annotations

import html
import json
from datetime import datetime
from typing import Any

import aiosqlite

from bot.models import CarriedCopy, InputKind
from storage.db import fetch_all, fetch_one
from storage.timestamps import to_db

_ERASED = json.dumps({"text": "[erased]"})


def _quoted(text: str) -> str:
    """A text as it stands inside an outbox payload: HTML-escaped, then JSON-encoded."""
    return json.dumps(html.escape(text.strip(), quote=False), ensure_ascii=False)[1:-1]


class SqlitePrivacyRepo:
    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn

    async def erase(self, user_id: int, reason: str, now: datetime) -> int | None:
        """Erase one person; returns how many inputs went with them, None if unknown."""
        row = await fetch_one(
            self._conn, "SELECT chat_id FROM participants WHERE user_id = ?", (user_id,)
        )
        if row is None:
            return None
        chat_id = int(row[0])
        rows = await fetch_all(
            self._conn, "SELECT id, event_key FROM inputs WHERE user_id = ?", (user_id,)
        )
        inputs = [(r[0], r[1]) for r in rows]
        for input_id, event_key in inputs:
            # Feed cards and reception notices quote the input: they go.
            for prefix in (f"feed:{event_key}:{input_id}:", f"reception:{event_key}:{input_id}:"):
                await self._conn.execute(
                    "DELETE FROM outbox WHERE substr(key, 1, ?) = ?", (len(prefix), prefix)
                )
            # A relayed photo, document or voice note of theirs, shown on its own: it goes.
            await self._conn.execute(
                "DELETE FROM outbox WHERE key IN (SELECT o.key FROM outbox o JOIN"
                " highlight_relays r ON substr(o.key, 1, length(r.relay_key || ':media' || ?1)"
                " + 1) = r.relay_key || ':media' || ?1 || ':' WHERE r.input_id = ?1)",
                (input_id,),
            )
            # Relays and digests bundle several highlights: their record stays, the words go
            # (others' media shown after them stays as it is).
            await self._conn.execute(
                "UPDATE outbox SET payload = ? WHERE key IN (SELECT o.key FROM outbox o JOIN"
                " highlight_relays r ON substr(o.key, 1, length(r.relay_key) + 1)"
                " = r.relay_key || ':' WHERE r.input_id = ?"
                " AND substr(o.key, 1, length(r.relay_key) + 6) != r.relay_key || ':media')",
                (_ERASED, input_id),
            )
        # Anything still queued that quotes them (a check-in card, a digest) loses the words;
        # sent messages keep no text at all.
        name_row = await fetch_one(
            self._conn, "SELECT display_name FROM participants WHERE user_id = ?", (user_id,)
        )
        rows = await fetch_all(
            self._conn, "SELECT text FROM inputs WHERE user_id = ? AND text != ''", (user_id,)
        )
        texts = [r[0] for r in rows]
        snippets = [_quoted(t[:40]) for t in texts] + ([_quoted(name_row[0])] if name_row else [])
        for snippet in filter(None, snippets):
            await self._conn.execute(
                "UPDATE outbox SET payload = ? WHERE status != 'sent' AND instr(payload, ?) > 0",
                (_ERASED, snippet),
            )
        # The inbox knew which messages were theirs.
        for prefix in (f"m:{chat_id}:", f"e:{chat_id}:"):
            await self._conn.execute(
                "DELETE FROM inbox WHERE substr(domain_key, 1, ?) = ?", (len(prefix), prefix)
            )
        await self._conn.execute("DELETE FROM outbox WHERE chat_id = ?", (chat_id,))
        for sql in (
            "UPDATE inputs SET state_changed_by = NULL WHERE state_changed_by = ?",
            "UPDATE agenda_shifts SET created_by = NULL WHERE created_by = ?",
            "UPDATE agenda_pauses SET paused_by = NULL WHERE paused_by = ?",
            "UPDATE adhoc_prompts SET opened_by = NULL WHERE opened_by = ?",
            "UPDATE broadcasts SET created_by = 0 WHERE created_by = ?",
        ):
            await self._conn.execute(sql, (user_id,))
        # A facilitator's console: the sign-in links and sessions are theirs too.
        for sql in (
            "DELETE FROM console_links WHERE user_id = ?",
            "DELETE FROM console_sessions WHERE user_id = ?",
        ):
            await self._conn.execute(sql, (user_id,))
        await self._conn.execute("DELETE FROM participants WHERE user_id = ?", (user_id,))
        events = sorted({event for _, event in inputs}) or [None]
        for event_key in events:
            count = sum(1 for _, e in inputs if e == event_key)
            await self._conn.execute(
                "INSERT INTO erasures (event_key, erased_at, inputs, reason) VALUES (?, ?, ?, ?)",
                (event_key, to_db(now), count, reason),
            )
        return len(inputs)

    async def copies_in_telegram(self, user_id: int) -> list[CarriedCopy]:
        """The messages sent to others that carry the person's words or name, found by the
        outbox keys that name the input (feed cards, reception notices) or the relay decision
        that carried it (`highlight_relays`). Read before `erase`, which drops those rows."""
        rows = await fetch_all(
            self._conn,
            """
            WITH mine AS (SELECT id, event_key, kind, file_id FROM inputs WHERE user_id = ?1),
                 me AS (SELECT chat_id FROM participants WHERE user_id = ?1)
            SELECT o.chat_id, o.telegram_message_id, 'feed' AS kind, NULL AS others,
                   -- a feed card that shows the photo, document or voice note itself
                   CASE WHEN substr(o.key, 1, 5) = 'feed:' AND i.kind != 'text'
                         AND i.file_id IS NOT NULL THEN i.kind END AS media
              FROM outbox o JOIN mine i
                ON substr(o.key, 1, length('feed:' || i.event_key || ':' || i.id || ':'))
                       = 'feed:' || i.event_key || ':' || i.id || ':'
                OR substr(o.key, 1, length('reception:' || i.event_key || ':' || i.id || ':'))
                       = 'reception:' || i.event_key || ':' || i.id || ':'
             WHERE o.status = 'sent' AND o.telegram_message_id IS NOT NULL
               AND o.chat_id NOT IN (SELECT chat_id FROM me)
            UNION
            SELECT o.chat_id, o.telegram_message_id, 'relay',
                   (SELECT group_concat(x.input_id) FROM highlight_relays x
                     WHERE x.relay_key = r.relay_key
                       AND x.input_id NOT IN (SELECT id FROM mine)),
                   NULL
              FROM highlight_relays r
              JOIN outbox o
                ON substr(o.key, 1, length(r.relay_key) + 1) = r.relay_key || ':'
             WHERE r.input_id IN (SELECT id FROM mine)
               AND substr(o.key, 1, length(r.relay_key) + 6) != r.relay_key || ':media'
               AND o.status = 'sent' AND o.telegram_message_id IS NOT NULL
               AND o.chat_id NOT IN (SELECT chat_id FROM me)
            UNION
            -- Their photo, document or voice note relayed on its own after a relay message.
            SELECT o.chat_id, o.telegram_message_id, 'relay', NULL, i.kind
              FROM highlight_relays r JOIN mine i ON i.id = r.input_id
              JOIN outbox o
                ON substr(o.key, 1, length(r.relay_key || ':media' || i.id || ':'))
                       = r.relay_key || ':media' || i.id || ':'
             WHERE o.status = 'sent' AND o.telegram_message_id IS NOT NULL
               AND o.chat_id NOT IN (SELECT chat_id FROM me)
            UNION
            -- A check-in card quotes its site's top highlights at the time: any card of the
            -- site sent after one of theirs became a highlight may hold it, so all of those
            -- are treated as carrying it (edited, never deleted: they may hold others' too).
            SELECT o.chat_id, o.telegram_message_id, 'card', NULL, NULL
              FROM highlights h JOIN outbox o
                ON substr(o.key, 1, length('card:' || h.event_key || ':' || h.site_key || ':'))
                       = 'card:' || h.event_key || ':' || h.site_key || ':'
             WHERE h.input_id IN (SELECT id FROM mine) AND o.sent_at >= h.created_at
               AND o.status = 'sent' AND o.telegram_message_id IS NOT NULL
               AND o.chat_id NOT IN (SELECT chat_id FROM me)
            """,
            (user_id,),
        )
        return [
            CarriedCopy(
                int(r[0]),
                int(r[1]),
                str(r[2]),
                tuple(sorted(int(i) for i in str(r[3]).split(","))) if r[3] else (),
                InputKind(r[4]) if r[4] else None,
            )
            for r in rows
        ]

    async def discard_unconsented(self, user_id: int) -> bool:
        """Someone who declined consent and has nothing else here (no consent for any event,
        no input, no role) leaves no row behind: their profile, and the inbox's record of
        their messages, go. True when something was deleted."""
        row = await fetch_one(
            self._conn,
            """
            SELECT chat_id FROM participants p WHERE user_id = ?1
               AND NOT EXISTS (SELECT 1 FROM consents WHERE user_id = ?1)
               AND NOT EXISTS (SELECT 1 FROM inputs WHERE user_id = ?1)
               AND NOT EXISTS (SELECT 1 FROM roles WHERE user_id = ?1)
            """,
            (user_id,),
        )
        if row is None:
            return False
        chat_id = int(row[0])
        for prefix in (f"m:{chat_id}:", f"e:{chat_id}:"):
            await self._conn.execute(
                "DELETE FROM inbox WHERE substr(domain_key, 1, ?) = ?", (len(prefix), prefix)
            )
        await self._conn.execute("DELETE FROM outbox WHERE chat_id = ?", (chat_id,))
        await self._conn.execute("DELETE FROM participants WHERE user_id = ?", (user_id,))
        return True

    async def people_of_event(self, event_key: str) -> list[int]:
        """Everyone with a trace in the event: checked in, consented, wrote, or had a role."""
        rows = await fetch_all(
            self._conn,
            """
            SELECT user_id FROM checkins WHERE event_key = ?1
            UNION SELECT user_id FROM consents WHERE event_key = ?1
            UNION SELECT user_id FROM inputs WHERE event_key = ?1
            UNION SELECT user_id FROM roles WHERE event_key = ?1
            """,
            (event_key,),
        )
        return [int(r[0]) for r in rows]

    async def withdraw_consent(self, user_id: int, event_key: str, now: datetime) -> bool:
        cur = await self._conn.execute(
            "UPDATE consents SET withdrawn_at = ? WHERE user_id = ? AND event_key = ?"
            " AND withdrawn_at IS NULL",
            (to_db(now), user_id, event_key),
        )
        return cur.rowcount > 0

    async def data_of(self, user_id: int) -> dict[str, Any]:
        """Everything stored about one person, as plain data (for /mydata)."""

        async def rows(sql: str, *params: object) -> list[dict[str, Any]]:
            rows = await fetch_all(self._conn, sql, params)
            return [dict(r) for r in rows]

        profile = await rows(
            "SELECT user_id, chat_id, display_name, language, telegram_language, created_at,"
            " unreachable_at FROM participants WHERE user_id = ?",
            user_id,
        )
        inputs = await rows(
            "SELECT id, event_key, site_key, group_key, role, category_key, anonymous, item_key,"
            " adhoc_id, kind, text, file_id, file_name, state, created_at, edited_at"
            " FROM inputs WHERE user_id = ? ORDER BY id",
            user_id,
        )
        for item in inputs:
            item["earlier_versions"] = [
                r["text"]
                for r in await rows(
                    "SELECT text FROM input_edits WHERE input_id = ? ORDER BY rowid", item["id"]
                )
            ]
        return {
            "profile": profile[0] if profile else None,
            "consents": await rows(
                "SELECT event_key, version, given_at, withdrawn_at FROM consents"
                " WHERE user_id = ? ORDER BY id",
                user_id,
            ),
            "checkins": await rows(
                "SELECT event_key, site_key, group_key, category_key, anonymous, checked_in_at,"
                " updated_at FROM checkins WHERE user_id = ?",
                user_id,
            ),
            "roles": await rows(
                "SELECT event_key, role, site_key, granted_at, via FROM roles WHERE user_id = ?",
                user_id,
            ),
            "inputs": inputs,
            "votes": await rows(
                "SELECT input_id, created_at FROM input_votes WHERE user_id = ?", user_id
            ),
            "stars": await rows(
                "SELECT input_id, created_at FROM input_stars WHERE user_id = ?", user_id
            ),
            "reactions_to_other_sites": await rows(
                "SELECT input_id, site_key, created_at FROM relay_reactions WHERE user_id = ?",
                user_id,
            ),
        }
