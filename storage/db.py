"""The SQLite connection: PRAGMAs, forward-only migrations and serialised transactions."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import sqlite3
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from typing import Any

import aiosqlite

from bot.ports import (
    DATABASE_LOST,
    DATABASE_READ_ONLY,
    StorageStoppedError,
    StorageUnavailableError,
)

log = logging.getLogger(__name__)

_MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


async def fetch_all(
    conn: aiosqlite.Connection, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()
) -> list[aiosqlite.Row]:
    """Every row of a query in one trip to the database thread.

    `execute`, then iterating and closing the cursor, costs a trip per step; each trip is a
    hand-over between threads, which under load costs more than the query itself.
    """
    return list(await conn.execute_fetchall(sql, params))


async def fetch_one(
    conn: aiosqlite.Connection, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()
) -> aiosqlite.Row | None:
    """The first row of a query (or None), in one trip to the database thread."""
    rows = await conn.execute_fetchall(sql, params)
    return next(iter(rows), None)


class PriorityLock:
    """A lock that hands itself to urgent waiters before the others, each kind in arrival
    order. The agenda's clock and the delivery worker are urgent: a push must not wait
    behind a queue of inputs, while inputs still get the lock between their turns."""

    def __init__(self) -> None:
        self._held = False
        self._urgent: deque[asyncio.Future[None]] = deque()
        self._normal: deque[asyncio.Future[None]] = deque()

    def locked(self) -> bool:
        return self._held

    async def acquire(self, *, urgent: bool = False) -> None:
        if not self._held and not self._urgent and not self._normal:
            self._held = True
            return
        turn = asyncio.get_running_loop().create_future()
        (self._urgent if urgent else self._normal).append(turn)
        try:
            await turn
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled():
                self.release()  # handed over just as the waiter was cancelled: pass it on
            else:
                with contextlib.suppress(ValueError):
                    (self._urgent if urgent else self._normal).remove(turn)
            raise

    def release(self) -> None:
        for waiting in (self._urgent, self._normal):
            while waiting:
                turn = waiting.popleft()
                if not turn.done():
                    turn.set_result(None)  # still held: it passes straight to this waiter
                    return
        self._held = False

    @asynccontextmanager
    async def held(self, *, urgent: bool = False) -> AsyncIterator[None]:
        await self.acquire(urgent=urgent)
        try:
            yield
        finally:
            self.release()


class DatabaseError(StorageUnavailableError):
    """The database cannot be opened or migrated; the message says what to do."""


def migrations() -> list[tuple[int, str, str]]:
    """(version, file name, SQL) for every shipped migration, in order."""
    found: list[tuple[int, str, str]] = []
    for entry in resources.files("storage.migrations").iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match:
            found.append((int(match.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    found.sort()
    versions = [v for v, _, _ in found]
    if versions != list(range(1, len(found) + 1)):
        raise DatabaseError(f"migrations must be numbered 0001, 0002, … without gaps: {versions}")
    return found


class Database:
    """One connection to one SQLite file.

    Coroutines sharing an aiosqlite connection share its transaction, so every unit of work
    takes `_lock` first: transactions run one after another, never interleaved.
    """

    def __init__(self, conn: aiosqlite.Connection, path: str) -> None:
        self._conn = conn
        self._lock = PriorityLock()
        self._after_rollback: list[Callable[[], None]] = []
        self.path = path
        self._identity: tuple[int, int] | None = None  # (st_dev, st_ino) of the open file
        self._checked = 0.0
        self.lost: str | None = None  # why the file can no longer be trusted, once it cannot
        self.read_only = False  # the file (or its write-ahead log) cannot be written now
        self._query_only = False  # what the connection was last told

    def _file_identity(self) -> tuple[int, int] | None:
        if self.path == ":memory:":
            return None
        st = Path(self.path).stat()
        return st.st_dev, st.st_ino

    @property
    def stopped(self) -> str | None:
        """`DATABASE_LOST` or `DATABASE_READ_ONLY` while nothing can be written, else None."""
        if self.lost is not None:
            return DATABASE_LOST
        return DATABASE_READ_ONLY if self.read_only else None

    def check_file(self) -> str | None:
        """Whether the file at `path` is still the one open (not deleted or replaced) and
        still writable: at most once a second, since every transaction asks. Once lost, it
        stays lost: what is written now would vanish with the unlinked file at the next
        start. Read-only lasts until the file is writable again. Returns `stopped`."""
        if self.lost is not None or self._identity is None:
            return self.stopped
        now = time.monotonic()
        if now - self._checked < 1.0:
            return self.stopped
        self._checked = now
        try:
            same = self._file_identity() == self._identity
        except OSError:
            same = False
        if not same:
            self.lost = "the database file was deleted or replaced while the bot ran"
            log.error("%s: nothing is acknowledged any more; restart the bot", self.lost)
        else:
            self._note_writable(writable=self._writable())
        return self.stopped

    def _writable(self) -> bool:
        """Whether the file and its write-ahead log may be written. `access` asks the kernel,
        which also says no for an immutable file (`chattr +i`) to root and for a file system
        mounted read-only; SQLite's own open handles would only find out at a write."""
        files = (self.path, f"{self.path}-wal")
        return all(os.access(name, os.W_OK) for name in files if Path(name).exists())

    def _note_writable(self, *, writable: bool) -> None:
        if writable == (not self.read_only):
            return
        self.read_only = not writable
        if self.read_only:
            log.error(
                "the database file became read-only: nothing is acknowledged until it is "
                "writable again"
            )
        else:
            log.warning("the database file is writable again: acknowledging again")

    def _turned_read_only(self, error: BaseException) -> bool:
        """After a failed transaction: whether it failed because nothing can be written now.
        A write refused (SQLITE_READONLY) or an I/O error is looked into at once, without
        waiting for the next second's check."""
        if self.stopped is not None:
            return True
        name = getattr(error, "sqlite_errorname", "")
        if not isinstance(error, sqlite3.OperationalError) or not name.startswith(
            ("SQLITE_READONLY", "SQLITE_IOERR", "SQLITE_CANTOPEN")
        ):
            return False
        self._note_writable(writable=self._writable())
        return self.read_only

    async def _sync_query_only(self) -> None:
        """While nothing can be written, the connection is told so: every write fails at
        once with SQLITE_READONLY, while reading (rights, /health) goes on. Under the lock,
        between transactions."""
        if self._query_only != (self.stopped is not None):
            self._query_only = self.stopped is not None
            await self._conn.execute(f"PRAGMA query_only = {'ON' if self._query_only else 'OFF'}")

    def after_rollback(self, callback: Callable[[], None]) -> None:
        """Call `callback` whenever a transaction is rolled back: for copies kept in memory."""
        self._after_rollback.append(callback)

    @classmethod
    async def open(cls, path: str | Path) -> Database:
        target = str(path)
        if target != ":memory:":
            Path(target).parent.mkdir(parents=True, exist_ok=True)
        try:
            conn = await aiosqlite.connect(target, isolation_level=None, timeout=5.0)
        except Exception as exc:  # sqlite3.OperationalError and OSError alike
            raise DatabaseError(f"cannot open the database at {target}: {exc}") from exc
        conn.row_factory = aiosqlite.Row
        db = cls(conn, target)
        try:
            # WAL lets exports read while the bot writes; NORMAL is durable across application
            # crashes (only a power cut may lose the last transactions); foreign keys so that
            # erasing a participant cascades.
            await conn.execute("PRAGMA journal_mode = WAL")
            await conn.execute("PRAGMA synchronous = NORMAL")
            await conn.execute("PRAGMA foreign_keys = ON")
            # Deleted rows are overwritten with zeros, not left in free pages: an erasure
            # leaves no copy of the person's words in the file.
            await conn.execute("PRAGMA secure_delete = ON")
            await conn.execute("PRAGMA busy_timeout = 5000")
            await db.migrate()
            # A read-only file (or folder) is found now, in one sentence, not at the first
            # write: the user version written back unchanged is a write.
            version = await db.user_version()
            await conn.executescript(f"BEGIN IMMEDIATE; PRAGMA user_version = {version}; COMMIT;")
            db._identity = db._file_identity()
        except DatabaseError:
            await conn.close()
            raise
        except Exception as exc:  # sqlite3.DatabaseError: not a database, locked, read-only …
            await conn.close()
            raise DatabaseError(f"cannot use the database at {target}: {exc}") from exc
        return db

    async def close(self) -> None:
        await self._conn.close()

    @property
    def conn(self) -> aiosqlite.Connection:
        return self._conn

    async def user_version(self) -> int:
        async with self._conn.execute("PRAGMA user_version") as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    async def migrate(self) -> int:
        """Apply the migrations newer than the database; safe to run any number of times."""
        async with self._lock.held():
            current = await self.user_version()
            shipped = migrations()
            if current > len(shipped):
                raise DatabaseError(
                    f"the database is at schema version {current}, newer than this program "
                    f"({len(shipped)}); use a newer Samtidig or another DATABASE_PATH"
                )
            for version, name, sql in shipped[current:]:
                log.info("applying migration %s", name)
                # One script, one transaction: a failing migration leaves no half-done schema.
                try:
                    await self._conn.executescript(
                        f"BEGIN IMMEDIATE;\n{sql}\nPRAGMA user_version = {version};\nCOMMIT;"
                    )
                except Exception as exc:
                    if self._conn.in_transaction:
                        await self._conn.rollback()
                    raise DatabaseError(f"migration {name} failed: {exc}") from exc
            return await self.user_version()

    async def checkpoint(self) -> None:
        """Copy the write-ahead log into the database and truncate it, so that what an
        erasure overwrote is not kept in the log either. Between transactions."""
        async with self._lock.held():
            stopped = self.check_file()
            if stopped is not None:
                raise StorageStoppedError(stopped)
            await self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    @asynccontextmanager
    async def transaction(self, *, urgent: bool = False) -> AsyncIterator[aiosqlite.Connection]:
        """BEGIN IMMEDIATE … COMMIT, rolled back on any exception. `urgent` transactions
        go before the others waiting (see `PriorityLock`).

        While the database is stopped (see `stopped`) the transaction is read-only: it reads
        as usual, and its first write raises `StorageStoppedError`."""
        self.check_file()
        async with self._lock.held(urgent=urgent):
            await self._sync_query_only()
            # BEGIN IMMEDIATE takes the write lock, which a query-only connection may not.
            await self._conn.execute("BEGIN" if self._query_only else "BEGIN IMMEDIATE")
            try:
                yield self._conn
                await self._conn.commit()
            except BaseException as error:
                # Also when COMMIT itself failed (a disk error): the next BEGIN must not
                # find this transaction still open.
                for callback in self._after_rollback:
                    callback()
                if self._conn.in_transaction:
                    await self._conn.rollback()
                if isinstance(error, sqlite3.Error) and self._turned_read_only(error):
                    raise StorageStoppedError(self.stopped or DATABASE_READ_ONLY) from error
                raise
