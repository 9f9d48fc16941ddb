"""The inbox: updates recorded in batches, duplicates recognised, `done` written in groups."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime

import pytest

from bot.clock import ManualClock
from bot.services.inbox import InboxService
from storage.db import Database, fetch_all
from storage.unit_of_work import SqliteUnitOfWork
from tests.waiting import eventually


async def states(db: Database) -> dict[int, str]:
    rows = await fetch_all(db.conn, "SELECT update_id, state FROM inbox")
    return {row[0]: row[1] for row in rows}


async def test_a_batch_keeps_new_updates_and_recognises_the_same_thing_again(
    db: Database, uow: SqliteUnitOfWork, clock: ManualClock
) -> None:
    inbox = InboxService(uow, clock)
    assert await inbox.store([(1, "m:5:1", "{}"), (2, "m:5:2", "{}")]) == [1, 2]
    fresh = await inbox.store(
        [
            (2, "m:5:2", "{}"),  # the same update again: skipped
            (3, "m:5:1", "{}"),  # the same message under a new update id: a duplicate
            (4, None, "{}"),  # nothing to compare: new
            (5, "m:5:9", "{}"),
            (6, "m:5:9", "{}"),  # the same message twice in one batch
            (5, "m:5:9", "{}"),  # the same update twice in one batch
        ]
    )
    assert fresh == [4, 5]
    assert await states(db) == {
        1: "pending",
        2: "pending",
        3: "duplicate",
        4: "pending",
        5: "pending",
        6: "duplicate",
    }
    assert [update_id for update_id, _ in await inbox.unfinished()] == [1, 2, 4, 5]
    assert await inbox.next_offset() == 7


async def test_updates_finished_together_are_written_in_few_transactions(
    db: Database, uow: SqliteUnitOfWork, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    inbox = InboxService(uow, clock)
    await inbox.store([(n, f"m:1:{n}", "{}") for n in range(1, 51)])
    opened = 0
    real = uow.transaction

    @asynccontextmanager
    async def counted() -> AsyncIterator[None]:
        nonlocal opened
        opened += 1
        async with real():
            yield

    monkeypatch.setattr(uow, "transaction", counted)
    await asyncio.gather(*(inbox.done(n) for n in range(1, 51)))
    assert set((await states(db)).values()) == {"done"}
    assert await inbox.unfinished() == []
    assert opened <= 3  # the first alone, then the rest that queued meanwhile


async def test_a_failed_group_write_reaches_every_caller_and_leaves_them_pending(
    db: Database, uow: SqliteUnitOfWork, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    inbox = InboxService(uow, clock)
    await inbox.store([(n, None, "{}") for n in range(1, 4)])

    @asynccontextmanager
    async def failing() -> AsyncIterator[None]:
        raise RuntimeError("database is locked")
        yield  # pragma: no cover

    monkeypatch.setattr(uow, "transaction", failing)
    results = await asyncio.gather(*(inbox.done(n) for n in range(1, 4)), return_exceptions=True)
    assert [type(r) for r in results] == [RuntimeError] * 3
    with pytest.raises(RuntimeError):
        await inbox.done(1)
    monkeypatch.undo()  # the real one again
    assert set((await states(db)).values()) == {"pending"}


async def test_a_writer_cancelled_mid_batch_leaves_nobody_waiting(
    db: Database, uow: SqliteUnitOfWork, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    inbox = InboxService(uow, clock)
    await inbox.store([(n, None, "{}") for n in (1, 2, 3)])
    real = uow.inbox.finish_many
    disk = asyncio.Event()
    writes: list[list[int]] = []  # the batches begun, in order

    async def slow(update_ids: Sequence[int], now: datetime) -> None:
        writes.append(list(update_ids))
        await disk.wait()  # the database thread busy, a slow disk
        await real(update_ids, now)

    monkeypatch.setattr(uow.inbox, "finish_many", slow)
    first = asyncio.create_task(inbox.done(3))
    await eventually(lambda: writes == [[3]], what="[3] being written")
    writer = asyncio.create_task(inbox.done(1))
    other = asyncio.create_task(inbox.done(2))
    await asyncio.sleep(0)  # one turn: both queue behind the write of [3], in order
    disk.set()
    await first
    disk.clear()
    await eventually(lambda: writes[1:] == [[1, 2]], what="`writer` writing [1, 2] for both")
    writer.cancel()
    await eventually(lambda: writes[2:] == [[1, 2]], what="the other caller taking the batch")
    disk.set()
    await asyncio.wait_for(other, 2)  # the batch went back: the other caller wrote it
    assert (await states(db)) == {1: "done", 2: "done", 3: "done"}
