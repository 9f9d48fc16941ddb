"""Read-only queries for reports: what was sent where and when, who checked in when."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime

import aiosqlite

from storage.timestamps import from_db, maybe_from_db


@dataclass(frozen=True, slots=True)
class SentGroup:
    """The copies of one decision to send (an item's push, a broadcast…) at one site."""

    site_key: str
    decision: str  # the outbox key without its last part, the recipient: "push:ev:site:item"
    kind: str
    first_sent: datetime | None
    last_sent: datetime | None
    sent: int
    not_sent: int  # failed, unreachable, unknown or still pending


@dataclass(frozen=True, slots=True)
class CheckInMoment:
    site_key: str
    group_key: str | None
    checked_in_at: datetime


async def sent_by_site(conn: aiosqlite.Connection, event_key: str) -> AsyncIterator[SentGroup]:
    """Every participant-bound outbox decision, per site of the recipients, in time order."""
    async with conn.execute(
        """
        SELECT c.site_key,
               substr(o.key, 1, length(o.key) - length(CAST(o.user_id AS TEXT)) - 1) AS decision,
               o.kind,
               MIN(o.sent_at) AS first_sent, MAX(o.sent_at) AS last_sent,
               SUM(o.status = 'sent') AS sent, SUM(o.status != 'sent') AS not_sent,
               MIN(o.id) AS first_id
          FROM outbox o
          JOIN checkins c ON c.user_id = o.user_id AND c.event_key = o.event_key
         WHERE o.event_key = ? AND o.user_id IS NOT NULL
         GROUP BY c.site_key, decision, o.kind
         ORDER BY c.site_key, COALESCE(MIN(o.sent_at), MIN(o.created_at)), first_id
        """,
        (event_key,),
    ) as cur:
        async for row in cur:
            yield SentGroup(
                site_key=row["site_key"],
                decision=row["decision"],
                kind=row["kind"],
                first_sent=maybe_from_db(row["first_sent"]),
                last_sent=maybe_from_db(row["last_sent"]),
                sent=row["sent"],
                not_sent=row["not_sent"],
            )


async def check_in_moments(
    conn: aiosqlite.Connection, event_key: str
) -> AsyncIterator[CheckInMoment]:
    """When each consenting participant checked in, without saying who."""
    async with conn.execute(
        """
        SELECT c.site_key, c.group_key, MIN(k.given_at) AS at
          FROM checkins c
          JOIN consents k ON k.user_id = c.user_id AND k.event_key = c.event_key
         WHERE c.event_key = ?
         GROUP BY c.user_id
         ORDER BY at
        """,
        (event_key,),
    ) as cur:
        async for row in cur:
            yield CheckInMoment(row["site_key"], row["group_key"], from_db(row["at"]))


async def delivery_totals(conn: aiosqlite.Connection, event_key: str) -> dict[str, int]:
    async with conn.execute(
        "SELECT status, COUNT(*) AS n FROM outbox WHERE event_key = ? GROUP BY status",
        (event_key,),
    ) as cur:
        return {row["status"]: row["n"] async for row in cur}


async def shifts(
    conn: aiosqlite.Connection, event_key: str
) -> list[tuple[str, str, int, datetime]]:
    """(site, reason, seconds, when) of every change a facilitator made to a programme."""
    async with conn.execute(
        "SELECT site_key, reason, seconds, created_at FROM agenda_shifts WHERE event_key = ?"
        " ORDER BY id",
        (event_key,),
    ) as cur:
        return [
            (row["site_key"], row["reason"], row["seconds"], from_db(row["created_at"]))
            async for row in cur
        ]


@dataclass(frozen=True, slots=True)
class PromptTally:
    site_key: str
    item_key: str | None  # None: ad-hoc prompts and general inputs
    group_key: str | None
    inputs: int
    authors: int
    starred: int


async def inputs_by_prompt(conn: aiosqlite.Connection, event_key: str) -> list[PromptTally]:
    """Inputs that are not withdrawn, per site, prompt and table."""
    async with conn.execute(
        """
        SELECT i.site_key, i.item_key, i.group_key, COUNT(*) AS n,
               COUNT(DISTINCT i.user_id) AS authors,
               SUM(EXISTS (SELECT 1 FROM input_stars s WHERE s.input_id = i.id)) AS starred
          FROM inputs i
         WHERE i.event_key = ? AND i.state != 'withdrawn'
         GROUP BY i.site_key, i.item_key, i.group_key
         ORDER BY i.site_key, i.item_key, i.group_key
        """,
        (event_key,),
    ) as cur:
        return [
            PromptTally(
                row["site_key"],
                row["item_key"],
                row["group_key"],
                row["n"],
                row["authors"],
                row["starred"],
            )
            async for row in cur
        ]


async def relayed_highlights(conn: aiosqlite.Connection, event_key: str) -> dict[str, list[str]]:
    """For each relay decision (outbox key without the recipient), the sites its highlights
    came from, one entry per highlight."""
    async with conn.execute(
        "SELECT r.relay_key, h.site_key FROM highlight_relays r"
        " JOIN highlights h ON h.input_id = r.input_id WHERE h.event_key = ? ORDER BY r.rowid",
        (event_key,),
    ) as cur:
        found: dict[str, list[str]] = {}
        async for row in cur:
            found.setdefault(row["relay_key"], []).append(row["site_key"])
        return found
