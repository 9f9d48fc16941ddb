"""A site's agenda state, kept in memory once read: every write and every rollback shows."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.models import ShiftReason
from storage.db import Database
from storage.unit_of_work import SqliteUnitOfWork

NOW = datetime(2018, 10, 3, 11, 0, tzinfo=UTC)


async def test_every_kind_of_write_is_seen_by_the_next_read(uow: SqliteUnitOfWork) -> None:
    async with uow.transaction():
        before = await uow.agenda.state("ev", "aalborg")
        assert before.shifts == ()
        assert before.paused_at is None
        await uow.agenda.add_shift("ev", "aalborg", "intro", 300, ShiftReason.DELAY, None, NOW)
        assert [s.seconds for s in (await uow.agenda.state("ev", "aalborg")).shifts] == [300]
        await uow.agenda.pause("ev", "aalborg", None, NOW)
        assert (await uow.agenda.state("ev", "aalborg")).paused_at == NOW
        await uow.agenda.unpause("ev", "aalborg")
        assert (await uow.agenda.state("ev", "aalborg")).paused_at is None
        await uow.agenda.mark_fired("ev", "aalborg", "intro", "start", "sent", NOW)
        assert (await uow.agenda.state("ev", "aalborg")).fired == {("intro", "start")}
        await uow.agenda.open_adhoc("ev", "aalborg", None, "Hvad nu?", None, NOW)
        assert [a.closed_at for a in (await uow.agenda.state("ev", "aalborg")).adhoc] == [None]
        await uow.agenda.close_adhoc("ev", "aalborg", NOW)
        assert [a.closed_at for a in (await uow.agenda.state("ev", "aalborg")).adhoc] == [NOW]
    # Another site's state is its own.
    async with uow.transaction():
        assert (await uow.agenda.state("ev", "kbh")).shifts == ()


async def test_a_rolled_back_write_leaves_no_trace_in_memory(uow: SqliteUnitOfWork) -> None:
    async with uow.transaction():
        await uow.agenda.state("ev", "aalborg")

    seen_inside: list[datetime | None] = []

    async def decide_then_fail() -> None:
        async with uow.transaction():
            await uow.agenda.pause("ev", "aalborg", None, NOW)
            # Read inside the doomed transaction: what is kept must not outlive it.
            seen_inside.append((await uow.agenda.state("ev", "aalborg")).paused_at)
            raise RuntimeError("the decision failed")

    with pytest.raises(RuntimeError):
        await decide_then_fail()
    assert seen_inside == [NOW]

    async with uow.transaction():
        assert (await uow.agenda.state("ev", "aalborg")).paused_at is None


async def test_a_copy_is_read_once_and_reused(db: Database, uow: SqliteUnitOfWork) -> None:
    async with uow.transaction():
        first = await uow.agenda.state("ev", "aalborg")
    # Written behind the repository's back (nothing in the bot does this): the copy stands,
    # which shows that the second read did not go to the database.
    async with db.transaction():
        await db.conn.execute(
            "INSERT INTO agenda_pauses (event_key, site_key, paused_at) VALUES ('ev', 'aalborg',"
            " '2018-10-03T11:00:00+00:00')"
        )
    async with uow.transaction():
        assert await uow.agenda.state("ev", "aalborg") is first
