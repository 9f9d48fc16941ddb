"""The database: PRAGMAs, migrations that can run again, transactions that roll back."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.models import Role
from storage.db import Database, DatabaseError, PriorityLock, migrations
from storage.unit_of_work import SqliteUnitOfWork

NOW = datetime(2018, 10, 3, 11, 0, tzinfo=UTC)


async def test_migrations_bring_an_empty_file_to_the_latest_version_and_can_run_again(
    tmp_path: Path,
) -> None:
    path = tmp_path / "fresh.sqlite3"
    db = await Database.open(path)
    try:
        assert await db.user_version() == len(migrations())
        assert await db.migrate() == len(migrations())
    finally:
        await db.close()
    reopened = await Database.open(path)
    try:
        assert await reopened.user_version() == len(migrations())
        async with reopened.conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
        ) as cur:
            tables = [row[0] async for row in cur]
        assert {"participants", "consents", "checkins", "roles"} <= set(tables)
    finally:
        await reopened.close()


async def test_the_connection_uses_wal_normal_sync_and_foreign_keys(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "p.sqlite3")
    try:
        pragmas = {}
        for name in ("journal_mode", "synchronous", "foreign_keys"):
            async with db.conn.execute(f"PRAGMA {name}") as cur:
                row = await cur.fetchone()
                assert row is not None
                pragmas[name] = row[0]
        assert pragmas == {"journal_mode": "wal", "synchronous": 1, "foreign_keys": 1}
    finally:
        await db.close()


async def test_the_connection_overwrites_what_it_deletes(tmp_path: Path) -> None:
    # An erasure must not leave the person's words in free pages of the file.
    db = await Database.open(tmp_path / "s.sqlite3")
    try:
        async with db.conn.execute("PRAGMA secure_delete") as cur:
            row = await cur.fetchone()
        assert row is not None
        assert row[0] == 1
    finally:
        await db.close()


async def test_a_database_from_a_newer_program_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "newer.sqlite3"
    db = await Database.open(path)
    await db.conn.execute(f"PRAGMA user_version = {len(migrations()) + 1}")
    await db.close()
    with pytest.raises(DatabaseError, match="newer than this program"):
        await Database.open(path)


async def test_a_path_that_cannot_be_a_database_gives_a_clear_error(tmp_path: Path) -> None:
    not_a_db = tmp_path / "notes.sqlite3"
    not_a_db.write_text("this is not a database, " * 100)
    with pytest.raises(DatabaseError):
        await Database.open(not_a_db)


async def test_a_failed_unit_of_work_leaves_nothing_behind(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "rollback.sqlite3")
    uow = SqliteUnitOfWork(db)
    try:

        async def fail_halfway() -> None:
            async with uow.transaction():
                await uow.participants.upsert(1, 1, "Ada", NOW)
                raise RuntimeError("boom")

        with pytest.raises(RuntimeError):
            await fail_halfway()
        async with uow.transaction():
            assert await uow.participants.get(1) is None
    finally:
        await db.close()


async def test_forgetting_a_participant_cascades_to_consents_checkins_and_roles(
    tmp_path: Path,
) -> None:
    from bot.models import CheckIn

    db = await Database.open(tmp_path / "forget.sqlite3")
    uow = SqliteUnitOfWork(db)
    try:
        async with uow.transaction():
            await uow.participants.upsert(7, 7, "Bo", NOW)
            await uow.participants.record_consent(7, "ev", "v1", NOW)
            await uow.checkins.save(CheckIn("ev", 7, "aalborg", "t1", NOW, NOW))
            await uow.roles.grant("ev", 7, Role.FACILITATOR, "aalborg", "code", NOW)
        async with uow.transaction():
            assert await uow.participants.delete(7)
        for table in ("participants", "consents", "checkins", "roles"):
            async with db.conn.execute(f"SELECT COUNT(*) FROM {table}") as cur:  # noqa: S608
                row = await cur.fetchone()
            assert row is not None
            assert row[0] == 0, table
    finally:
        await db.close()


async def test_granting_a_role_twice_reports_it_was_already_there(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "roles.sqlite3")
    uow = SqliteUnitOfWork(db)
    try:
        async with uow.transaction():
            await uow.participants.upsert(9, 9, "Cy", NOW)
            assert await uow.roles.grant("ev", 9, Role.ORGANISER, None, "code", NOW)
            assert not await uow.roles.grant("ev", 9, Role.ORGANISER, None, "code", NOW)
            grants = await uow.roles.of_user("ev", 9)
        assert [(g.role, g.site_key) for g in grants] == [(Role.ORGANISER, None)]
    finally:
        await db.close()


async def test_urgent_transactions_go_before_those_already_waiting() -> None:
    lock = PriorityLock()
    order: list[str] = []
    await lock.acquire()

    async def take(name: str, *, urgent: bool) -> None:
        async with lock.held(urgent=urgent):
            order.append(name)
            await asyncio.sleep(0)  # hold the lock across a turn of the loop, as a query would

    waiting = [
        asyncio.create_task(take("input 1", urgent=False)),
        asyncio.create_task(take("input 2", urgent=False)),
        asyncio.create_task(take("tick", urgent=True)),
        asyncio.create_task(take("delivery", urgent=True)),
    ]
    await asyncio.sleep(0)  # one turn: each task runs to its wait for the lock, in order
    assert order == []  # all wait while the lock is held
    lock.release()
    await asyncio.gather(*waiting)
    assert order == ["tick", "delivery", "input 1", "input 2"]
    assert not lock.locked()


async def test_a_cancelled_waiter_does_not_keep_the_lock() -> None:
    lock = PriorityLock()
    await lock.acquire()
    gone = asyncio.create_task(lock.acquire(urgent=True))
    handed = asyncio.create_task(lock.acquire())
    await asyncio.sleep(0)  # one turn: both tasks queue for the lock, in order
    gone.cancel()
    lock.release()  # the cancelled urgent waiter is skipped
    await asyncio.wait_for(handed, 1)
    assert lock.locked()

    # Handed over at the very moment its waiter is cancelled: passed on, not lost.
    late = asyncio.create_task(lock.acquire())
    after = asyncio.create_task(lock.acquire())
    await asyncio.sleep(0)  # one turn: both tasks queue for the lock, in order
    lock.release()  # `late` now holds it, but has not run yet
    late.cancel()
    await asyncio.wait_for(after, 1)
    assert lock.locked()
    lock.release()
    assert not lock.locked()
