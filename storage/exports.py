"""The export read model: streaming, read-only queries over what the day produced.

Every export opens its own read-only connection (`open_export_source`): SQLite's WAL lets it
read a consistent snapshot while the bot goes on writing through its own connection, and
the bot's transaction lock is never taken. Inputs are streamed with `fetchmany`, so an export
of 100,000 inputs holds one batch in memory, not the event.

Only visible inputs are exported: hidden ones (a facilitator took them off the feed) and
withdrawn ones (their author took them back) never leave the database.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections import defaultdict
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiosqlite

from bot.export.records import (
    AdhocQuestion,
    ExportedInput,
    ItemStart,
    Participation,
    PromptFigures,
    PromptRef,
    Scope,
    SiteFigures,
    Tally,
)
from bot.models import InputKind
from storage.inputs import CHOICE_JOIN, CHOSEN_ANONYMITY
from storage.timestamps import from_db

BATCH = 2000
# The schema version that has everything the export reads (highlights and their relays).
NEEDS_SCHEMA = 5

# Stars, votes, highlights and relays are few beside the inputs: they are read once per export
# into `_Marks` and looked up per row, instead of four correlated subqueries on every row.
_INPUTS = f"""
    SELECT i.id, i.event_key, i.user_id, i.site_key, i.group_key, i.role, i.category_key,
           {CHOSEN_ANONYMITY}, i.item_key, i.adhoc_id, i.kind, i.text, i.file_id, i.file_name,
           i.mime_type, i.chat_id, i.message_id, i.state, i.created_at, i.edited_at,
           p.display_name, a.text
      FROM inputs i
      JOIN participants p ON p.user_id = i.user_id
      LEFT JOIN adhoc_prompts a ON a.id = i.adhoc_id
      {CHOICE_JOIN}
     WHERE i.event_key = ? AND i.state = 'visible'
"""  # noqa: S608 - constant fragments
_STARS = """
    SELECT s.input_id, COUNT(*) FROM input_stars s JOIN inputs i ON i.id = s.input_id
     WHERE i.event_key = ? GROUP BY s.input_id
"""
_VOTES = """
    SELECT v.input_id, COUNT(*) FROM input_votes v JOIN inputs i ON i.id = v.input_id
     WHERE i.event_key = ? GROUP BY v.input_id
"""
_HIGHLIGHTS = """
    SELECT h.input_id FROM highlights h JOIN inputs i ON i.id = h.input_id WHERE i.event_key = ?
"""
_RELAYS = """
    SELECT r.input_id, r.to_site FROM highlight_relays r JOIN inputs i ON i.id = r.input_id
     WHERE i.event_key = ?
"""
_TEXTS = "SELECT i.text FROM inputs i WHERE i.event_key = ? AND i.state = 'visible'"
_KINDS = {kind.value: kind for kind in InputKind}


class ExportSchemaError(Exception):
    """The database predates what the export reads; the message says what to do."""


@dataclass(frozen=True, slots=True)
class _Marks:
    """What others did to the inputs of one event: stars and votes counted, highlights, and
    the sites each highlight was relayed to (in site-key order)."""

    stars: dict[int, int]
    votes: dict[int, int]
    highlights: frozenset[int]
    relays: dict[int, tuple[str, ...]]


class SqliteExportSource:
    def __init__(self, conn: aiosqlite.Connection, batch: int = BATCH) -> None:
        self._conn = conn
        self._batch = batch
        self._marks: dict[str, _Marks] = {}

    async def _rows(self, sql: str, params: Sequence[object]) -> list[tuple[Any, ...]]:
        async with self._conn.execute(sql, params) as cur:
            cur.row_factory = None  # plain tuples: the columns are read by position
            return [tuple(row) for row in await cur.fetchall()]

    async def _marks_of(self, event_key: str) -> _Marks:
        found = self._marks.get(event_key)
        if found is None:
            relays: defaultdict[int, list[str]] = defaultdict(list)
            for input_id, site in await self._rows(_RELAYS, (event_key,)):
                relays[input_id].append(site)
            found = _Marks(
                stars=dict(await self._rows(_STARS, (event_key,))),
                votes=dict(await self._rows(_VOTES, (event_key,))),
                highlights=frozenset(r[0] for r in await self._rows(_HIGHLIGHTS, (event_key,))),
                relays={k: tuple(sorted(v)) for k, v in relays.items()},
            )
            self._marks[event_key] = found
        return found

    @staticmethod
    def _where(event_key: str, scope: Scope) -> tuple[str, list[object]]:
        sql = ""
        params: list[object] = [event_key]
        if scope.site_key is not None:
            sql += " AND i.site_key = ?"
            params.append(scope.site_key)
        if scope.prompt is not None:
            sql += " AND i.item_key IS ? AND i.adhoc_id IS ?"
            params += [scope.prompt.item_key, scope.prompt.adhoc_id]
        if scope.table is not None:
            sql += " AND i.group_key IS ?"
            params.append(scope.table.group_key)
        if scope.highlights_only:
            sql += " AND EXISTS (SELECT 1 FROM highlights h WHERE h.input_id = i.id)"
        return sql, params

    async def inputs(self, event_key: str, scope: Scope) -> AsyncIterator[ExportedInput]:
        marks = await self._marks_of(event_key)
        where, params = self._where(event_key, scope)
        order = ""
        if scope.prompt is not None:
            order = "i.group_key, "
            if scope.table_order:
                # One query for a prompt's tables in the event's order (and no round trips
                # per table): the listed tables by position, then others, then no table.
                n = len(scope.table_order)
                whens = " WHEN ? THEN ?" * n
                order = (
                    f"CASE i.group_key{whens} ELSE"
                    f" (CASE WHEN i.group_key IS NULL THEN {n + 1} ELSE {n} END) END, {order}"
                )
                for position, group_key in enumerate(scope.table_order):
                    params += [group_key, position]
        sql = f"{_INPUTS}{where} ORDER BY i.site_key, {order}i.created_at, i.id"
        stars, votes, highlights, relays = (
            marks.stars.get,
            marks.votes.get,
            marks.highlights,
            marks.relays.get,
        )
        fromisoformat, kinds = datetime.fromisoformat, _KINDS
        async for rows in self._batches(sql, params):
            for r in rows:
                # The columns of `_INPUTS`, by position: this runs once per row.
                input_id = r[0]
                edited = r[19]
                yield ExportedInput(
                    input_id,
                    r[1],
                    r[2],
                    r[3],
                    r[4],
                    r[5],
                    r[6],
                    None if r[7] is None else bool(r[7]),
                    r[8],
                    r[9],
                    kinds[r[10]],
                    r[11],
                    r[12],
                    r[13],
                    r[15],
                    r[16],
                    fromisoformat(r[18]),
                    None if edited is None else fromisoformat(edited),
                    r[20],
                    stars(input_id, 0),
                    votes(input_id, 0),
                    r[21],
                    r[14],
                    input_id in highlights,
                    relays(input_id, ()),
                )

    async def texts(self, event_key: str, scope: Scope) -> AsyncIterator[str]:
        where, params = self._where(event_key, scope)
        async for rows in self._batches(_TEXTS + where, params):
            for (text,) in rows:
                yield text

    async def _batches(
        self, sql: str, params: Sequence[object]
    ) -> AsyncIterator[list[tuple[Any, ...]]]:
        """The rows of `sql` as tuples, a batch at a time. The next batch is read while the
        caller works on this one: SQLite lets go of the GIL while it steps, so on a second
        core the query and the writing overlap."""
        async with self._conn.execute(sql, params) as cur:
            cur.row_factory = None
            ahead = asyncio.ensure_future(cur.fetchmany(self._batch))
            try:
                while rows := await ahead:
                    ahead = asyncio.ensure_future(cur.fetchmany(self._batch))
                    yield rows  # type: ignore[misc]
            finally:
                # Closing the cursor waits behind the read already asked for.
                await asyncio.gather(ahead, return_exceptions=True)

    async def participation(
        self, event_key: str, site_keys: Sequence[str] | None = None, *, per_table: bool = True
    ) -> Participation:
        wanted = None if site_keys is None else set(site_keys)
        checked: defaultdict[str, dict[str | None, int]] = defaultdict(dict)
        unreachable: defaultdict[str, int] = defaultdict(int)
        async with self._conn.execute(
            """
            SELECT c.site_key, c.group_key, COUNT(*) AS n,
                   SUM(p.unreachable_at IS NOT NULL) AS unreachable
              FROM checkins c
              JOIN participants p ON p.user_id = c.user_id
             WHERE c.event_key = ?
               AND EXISTS (SELECT 1 FROM consents k
                            WHERE k.user_id = c.user_id AND k.event_key = c.event_key
                              AND k.withdrawn_at IS NULL)
             GROUP BY c.site_key, c.group_key
            """,
            (event_key,),
        ) as cur:
            async for row in cur:
                checked[row["site_key"]][row["group_key"]] = row["n"]
                unreachable[row["site_key"]] += row["unreachable"]

        # (site, item, adhoc, group) → tally, with the whole prompt and whole site on top.
        tables: defaultdict[tuple[str, PromptRef], dict[str | None, Tally]] = defaultdict(dict)
        if per_table:  # a pass over every input: only the report shows them
            async with self._conn.execute(
                f"{_TALLY} GROUP BY site_key, item_key, adhoc_id, group_key", (event_key,)
            ) as cur:
                async for row in cur:
                    ref = PromptRef(row["item_key"], row["adhoc_id"])
                    tables[(row["site_key"], ref)][row["group_key"]] = _tally(row)
        per_prompt: dict[tuple[str, PromptRef], Tally] = {}
        async with self._conn.execute(
            f"{_TALLY} GROUP BY site_key, item_key, adhoc_id", (event_key,)
        ) as cur:
            async for row in cur:
                per_prompt[(row["site_key"], PromptRef(row["item_key"], row["adhoc_id"]))] = (
                    _tally(row)
                )
        per_site: dict[str, Tally] = {}
        async with self._conn.execute(f"{_TALLY} GROUP BY site_key", (event_key,)) as cur:
            async for row in cur:
                per_site[row["site_key"]] = _tally(row)

        adhoc: dict[int, AdhocQuestion] = {}
        async with self._conn.execute(
            "SELECT id, site_key, group_key, text, opened_at FROM adhoc_prompts"
            " WHERE event_key = ? ORDER BY opened_at, id",
            (event_key,),
        ) as cur:
            async for row in cur:
                adhoc[row["id"]] = AdhocQuestion(
                    row["id"],
                    row["site_key"],
                    row["group_key"],
                    row["text"],
                    from_db(row["opened_at"]),
                )

        site_keys_found = set(checked) | set(per_site)
        sites = {
            key: SiteFigures(
                site_key=key,
                checked_in=sum(checked[key].values()),
                unreachable=unreachable[key],
                by_table=dict(checked[key]),
                total=per_site.get(key, Tally()),
            )
            for key in sorted(site_keys_found)
            if wanted is None or key in wanted
        }
        prompts = [
            PromptFigures(site, ref, tally, tables.get((site, ref), {}))
            for (site, ref), tally in per_prompt.items()
            if wanted is None or site in wanted
        ]
        return Participation(
            sites=sites,
            prompts=prompts,
            adhoc={k: q for k, q in adhoc.items() if wanted is None or q.site_key in wanted},
        )

    async def activity(self, event_key: str, site_key: str) -> list[tuple[datetime, int]]:
        # Stored times are UTC ISO text, so the first 16 characters name the minute.
        async with self._conn.execute(
            "SELECT substr(created_at, 1, 16) AS minute, COUNT(*) AS n FROM inputs"
            " WHERE event_key = ? AND site_key = ? AND state = 'visible'"
            " GROUP BY minute ORDER BY minute",
            (event_key, site_key),
        ) as cur:
            return [
                (datetime.fromisoformat(row["minute"]).replace(tzinfo=UTC), row["n"])
                async for row in cur
            ]

    async def item_starts(self, event_key: str, site_key: str) -> list[ItemStart]:
        async with self._conn.execute(
            "SELECT item_key, fired_at FROM agenda_fired WHERE event_key = ? AND site_key = ?"
            " AND what = 'start' AND outcome = 'sent' ORDER BY fired_at",
            (event_key, site_key),
        ) as cur:
            return [ItemStart(row["item_key"], from_db(row["fired_at"])) async for row in cur]


_TALLY = """
    SELECT site_key, item_key, adhoc_id, group_key,
           SUM(state = 'visible') AS inputs, SUM(state = 'hidden') AS hidden,
           COUNT(DISTINCT CASE WHEN state = 'visible' THEN user_id END) AS answered
      FROM inputs
     WHERE event_key = ? AND state != 'withdrawn'
"""


def _tally(row: aiosqlite.Row) -> Tally:
    return Tally(inputs=row["inputs"], hidden=row["hidden"], answered=row["answered"])


@asynccontextmanager
async def open_export_source(path: str | Path) -> AsyncIterator[SqliteExportSource]:
    """A read-only connection to an existing database, closed afterwards.

    Raises ExportSchemaError when there is no database there or it is too old to export.
    """
    target = str(path)
    try:
        # mode=ro never creates the file: a mistyped path is an error, not a new database.
        conn = await aiosqlite.connect(f"file:{quote(target)}?mode=ro", uri=True, timeout=5.0)
    except sqlite3.Error as exc:
        raise ExportSchemaError(f"cannot open a database at {target}: {exc}") from exc
    try:
        conn.row_factory = aiosqlite.Row
        await conn.execute("PRAGMA busy_timeout = 5000")
        async with conn.execute("PRAGMA user_version") as cur:
            row = await cur.fetchone()
        version = int(row[0]) if row else 0
        if version < NEEDS_SCHEMA:
            raise ExportSchemaError(
                f"the database at {target} is at schema version {version}; start the bot "
                f"once with it (python -m bot run) so that it is upgraded, then export"
            )
        yield SqliteExportSource(conn)
    finally:
        await conn.close()
