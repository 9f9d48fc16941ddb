"""Highlights and their journey to the other sites."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

import aiosqlite

from bot.models import HighlightReview, Input
from storage.db import fetch_one
from storage.inputs import _SELECT, input_from_row
from storage.timestamps import maybe_from_db, to_db


class SqliteRelayRepo:
    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn

    async def add_highlight(
        self, input_id: int, event_key: str, site_key: str, reason: str, now: datetime
    ) -> bool:
        cur = await self._conn.execute(
            "INSERT INTO highlights (input_id, event_key, site_key, reason, created_at)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (input_id, event_key, site_key, reason, to_db(now)),
        )
        return cur.rowcount > 0

    async def drop_highlight_if_unrelayed(self, input_id: int) -> bool:
        """An unstarred input stops being a highlight, unless it has already travelled."""
        cur = await self._conn.execute(
            "DELETE FROM highlights WHERE input_id = ? AND NOT EXISTS"
            " (SELECT 1 FROM highlight_relays r WHERE r.input_id = highlights.input_id)",
            (input_id,),
        )
        return cur.rowcount > 0

    async def hold_highlight(self, input_id: int, now: datetime) -> bool:
        """The input was edited after it was approved: it waits for a star again. True when
        it is a highlight (held now)."""
        cur = await self._conn.execute(
            "UPDATE highlights SET held_at = ? WHERE input_id = ?", (to_db(now), input_id)
        )
        return cur.rowcount > 0

    async def release_highlight(self, input_id: int) -> bool:
        """Starred again after an edit: the highlight travels on, with the text as it is now."""
        cur = await self._conn.execute(
            "UPDATE highlights SET held_at = NULL WHERE input_id = ? AND held_at IS NOT NULL",
            (input_id,),
        )
        return cur.rowcount > 0

    async def review(self, input_id: int) -> HighlightReview | None:
        """Where a highlight stands: held after an edit, and the sites it reached; None when
        the input is no highlight."""
        row = await fetch_one(
            self._conn,
            "SELECT h.held_at IS NOT NULL AS held,"
            " (SELECT COUNT(*) FROM highlight_relays r WHERE r.input_id = h.input_id) AS sites"
            " FROM highlights h WHERE h.input_id = ?",
            (input_id,),
        )
        return HighlightReview(bool(row["held"]), int(row["sites"])) if row else None

    async def is_highlight(self, input_id: int) -> bool:
        async with self._conn.execute(
            "SELECT 1 FROM highlights WHERE input_id = ?", (input_id,)
        ) as cur:
            return await cur.fetchone() is not None

    async def pending(
        self, event_key: str, from_site: str, to_site: str, limit: int
    ) -> Sequence[Input]:
        """Visible highlights of `from_site` not yet relayed to `to_site` and not held after
        an edit: starred first, then the most voted, then the oldest."""
        async with self._conn.execute(
            f"""{_SELECT}
              JOIN highlights h ON h.input_id = i.id
             WHERE h.event_key = ? AND h.site_key = ? AND i.state = 'visible'
               AND h.held_at IS NULL
               AND NOT EXISTS (SELECT 1 FROM highlight_relays r
                                WHERE r.input_id = i.id AND r.to_site = ?)
             ORDER BY stars > 0 DESC, votes DESC, i.id
             LIMIT ?""",  # noqa: S608 - a constant SELECT, parameters bound
            (event_key, from_site, to_site, limit),
        ) as cur:
            return [input_from_row(row) async for row in cur]

    async def top(
        self, event_key: str, site_key: str, limit: int, *, approved_only: bool = False
    ) -> Sequence[Input]:
        """A site's visible highlights, starred first, then the most voted; `approved_only`
        leaves out those edited since they were approved (held for a new star)."""
        held = " AND h.held_at IS NULL" if approved_only else ""
        async with self._conn.execute(
            f"""{_SELECT}
              JOIN highlights h ON h.input_id = i.id
             WHERE h.event_key = ? AND h.site_key = ? AND i.state = 'visible'{held}
             ORDER BY stars > 0 DESC, votes DESC, i.id DESC
             LIMIT ?""",
            (event_key, site_key, limit),
        ) as cur:
            return [input_from_row(row) async for row in cur]

    async def mark_relayed(
        self, input_ids: Sequence[int], to_site: str, mode: str, relay_key: str, now: datetime
    ) -> None:
        await self._conn.executemany(
            "INSERT INTO highlight_relays (input_id, to_site, mode, relay_key, relayed_at)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            [(i, to_site, mode, relay_key, to_db(now)) for i in input_ids],
        )

    async def was_relayed_to(self, input_id: int, site_key: str) -> bool:
        async with self._conn.execute(
            "SELECT 1 FROM highlight_relays WHERE input_id = ? AND to_site = ?",
            (input_id, site_key),
        ) as cur:
            return await cur.fetchone() is not None

    async def last_live_relay(self, event_key: str, to_site: str) -> datetime | None:
        async with self._conn.execute(
            "SELECT MAX(r.relayed_at) FROM highlight_relays r JOIN highlights h"
            " ON h.input_id = r.input_id WHERE h.event_key = ? AND r.to_site = ?"
            " AND r.mode = 'live'",
            (event_key, to_site),
        ) as cur:
            row = await cur.fetchone()
        return maybe_from_db(row[0]) if row else None

    async def sources_relayed_to(self, event_key: str, to_site: str) -> set[str]:
        """The sites that have had a highlight relayed to `to_site` (live or in a digest)."""
        async with self._conn.execute(
            "SELECT DISTINCT h.site_key FROM highlight_relays r JOIN highlights h"
            " ON h.input_id = r.input_id WHERE h.event_key = ? AND r.to_site = ?",
            (event_key, to_site),
        ) as cur:
            return {row[0] async for row in cur}

    async def relayed_live(
        self, event_key: str, from_site: str, to_site: str, since: datetime | None, limit: int
    ) -> Sequence[Input]:
        """Visible highlights of `from_site` relayed live to `to_site` since `since` (or ever),
        the earliest first, each with the text it had when it was relayed: an edit made since
        was not approved for `to_site` and must not reach it by being named."""
        async with self._conn.execute(
            f"""{_SELECT}
              JOIN highlights h ON h.input_id = i.id
              JOIN highlight_relays r ON r.input_id = i.id
             WHERE h.event_key = ? AND h.site_key = ? AND r.to_site = ? AND r.mode = 'live'
               AND r.relayed_at >= ? AND i.state = 'visible'
             ORDER BY r.relayed_at, i.id
             LIMIT ?""",
            (event_key, from_site, to_site, "" if since is None else to_db(since), limit),
        ) as cur:
            found = [input_from_row(row) async for row in cur]
        return [await self._as_relayed(item, to_site) for item in found]

    async def _as_relayed(self, item: Input, to_site: str) -> Input:
        """The input with the text it had when it was relayed to `to_site`: the text the first
        edit since then replaced, if there was one."""
        row = await fetch_one(
            self._conn,
            "SELECT e.text FROM input_edits e"
            "  JOIN highlight_relays r ON r.input_id = e.input_id AND r.to_site = ?"
            " WHERE e.input_id = ? AND e.replaced_at >= r.relayed_at"
            " ORDER BY e.replaced_at, e.rowid LIMIT 1",
            (to_site, item.id),
        )
        return item if row is None else replace(item, text=row["text"])

    async def toggle_reaction(
        self, input_id: int, user_id: int, site_key: str, now: datetime
    ) -> bool:
        cur = await self._conn.execute(
            "DELETE FROM relay_reactions WHERE input_id = ? AND user_id = ?", (input_id, user_id)
        )
        if cur.rowcount > 0:
            return False
        await self._conn.execute(
            "INSERT INTO relay_reactions (input_id, user_id, site_key, created_at)"
            " VALUES (?, ?, ?, ?)",
            (input_id, user_id, site_key, to_db(now)),
        )
        return True

    async def reception(self, input_id: int) -> dict[str, int]:
        """👍 on a relayed highlight, per reacting site."""
        async with self._conn.execute(
            "SELECT site_key, COUNT(*) AS n FROM relay_reactions WHERE input_id = ?"
            " GROUP BY site_key ORDER BY site_key",
            (input_id,),
        ) as cur:
            return {row["site_key"]: row["n"] async for row in cur}

    async def site_figures(self, event_key: str, site_key: str) -> tuple[int, int]:
        """(participants checked in with consent, inputs not withdrawn) at a site."""
        async with self._conn.execute(
            """
            SELECT (SELECT COUNT(*) FROM checkins c
                     WHERE c.event_key = ?1 AND c.site_key = ?2
                       AND EXISTS (SELECT 1 FROM consents k WHERE k.user_id = c.user_id
                                   AND k.event_key = c.event_key AND k.withdrawn_at IS NULL)),
                   (SELECT COUNT(*) FROM inputs i
                     WHERE i.event_key = ?1 AND i.site_key = ?2 AND i.state != 'withdrawn')
            """,
            (event_key, site_key),
        ) as cur:
            row = await cur.fetchone()
        return (int(row[0]), int(row[1])) if row else (0, 0)
