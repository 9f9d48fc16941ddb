"""A database file that becomes read-only under a running connection: writes refused as
`StorageStoppedError`, reads still answered, one log line each way, and writing again once
the file may be written."""

from __future__ import annotations

import asyncio
import logging
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import pytest

from bot.models import DeliveryStatus
from bot.ports import DATABASE_READ_ONLY, StorageStoppedError
from bot.services.delivery import DeliveryWorker
from tests.unit.test_delivery_write_failures import CLOCK, Sender, queued, statuses
from tests.waiting import eventually

pytestmark = pytest.mark.skipif(shutil.which("chattr") is None, reason="needs chattr")


@contextmanager
def immutable(*files: Path) -> Iterator[None]:
    """Read-only even to root, whose writes plain chmod does not stop."""
    frozen = subprocess.run(["chattr", "+i", *map(str, files)], check=False)  # noqa: S603, S607
    try:
        if frozen.returncode != 0:
            pytest.skip("chattr +i is not allowed here")
        yield
    finally:
        subprocess.run(["chattr", "-i", *map(str, files)], check=False)  # noqa: S603, S607


async def test_pending_pushes_wait_quietly_while_read_only_and_go_out_once_writable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    db, uow = await queued(tmp_path, {42: 2})
    path = tmp_path / "outbox.sqlite3"
    claims: list[int] = []
    at_claim, frozen = asyncio.Event(), asyncio.Event()
    real = uow.outbox.claim

    async def counted(row_ids: Sequence[int], now: datetime) -> dict[int, DeliveryStatus]:
        at_claim.set()
        await frozen.wait()  # the first claim began its transaction before the freeze
        claims.append(len(row_ids))
        return await real(row_ids, now)

    monkeypatch.setattr(uow.outbox, "claim", counted)
    sender = Sender()
    worker = DeliveryWorker(uow, sender, CLOCK, idle_poll=0.2)
    caplog.set_level(logging.INFO)
    await worker.start()
    try:
        await at_claim.wait()
        with immutable(path, path.with_name(f"{path.name}-wal")):
            frozen.set()
            await eventually(lambda: len(claims) >= 3, what="the worker to try three times")
            assert uow.stopped() == DATABASE_READ_ONLY
            with pytest.raises(StorageStoppedError):
                async with uow.transaction():
                    await uow.participants.upsert(43, 43, "P43", CLOCK.now())
            # Reading goes on: the outbox can be counted while nothing can be written.
            async with uow.transaction():
                assert (await uow.outbox.counts())[DeliveryStatus.PENDING] == 2
            assert sender.sent == []
            assert statuses(tmp_path) == {"pending": 2}
        assert await worker.drain(15.0)
    finally:
        await worker.stop()
        await db.close()
    assert sender.sent == [(42, "1"), (42, "2")]
    assert statuses(tmp_path) == {"sent": 2}
    assert uow.stopped() is None
    lines = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert lines == [
        "the database file became read-only: nothing is acknowledged until it is writable again",
        "the database file is writable again: acknowledging again",
    ]
