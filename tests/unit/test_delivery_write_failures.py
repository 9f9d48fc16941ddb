"""Answers that cannot be written at once: tried again, so no chat is held up for the day."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from contextlib import closing
from datetime import datetime
from pathlib import Path

import pytest

from bot.clock import SystemClock
from bot.models import DeliveryStatus, NewDelivery, OutboxMessage
from bot.services.delivery import DeliveryWorker
from storage.db import Database
from storage.unit_of_work import SqliteUnitOfWork
from tests.waiting import eventually

CLOCK = SystemClock()


class Sender:
    def __init__(self) -> None:
        self.sent: list[tuple[int, str]] = []

    async def send(self, chat_id: int, message: OutboxMessage) -> int:
        self.sent.append((chat_id, message.text))
        return len(self.sent)

    async def edit(self, chat_id: int, message_id: int, message: OutboxMessage) -> int:
        return message_id

    async def delete(self, chat_id: int, message_id: int, fallback: OutboxMessage) -> int:
        return message_id


async def queued(tmp_path: Path, chats: dict[int, int]) -> tuple[Database, SqliteUnitOfWork]:
    db = await Database.open(tmp_path / "outbox.sqlite3")
    uow = SqliteUnitOfWork(db)
    async with uow.transaction():
        for chat, count in chats.items():
            await uow.participants.upsert(chat, chat, f"P{chat}", CLOCK.now())
            await uow.outbox.enqueue(
                [
                    NewDelivery(f"k:{chat}:{n}", "ev", chat, chat, "push", OutboxMessage(f"{n}"))
                    for n in range(1, count + 1)
                ],
                CLOCK.now(),
            )
    return db, uow


def statuses(tmp_path: Path) -> dict[str, int]:
    """The outbox by status, read through a connection of the test's own."""
    with closing(sqlite3.connect(tmp_path / "outbox.sqlite3")) as conn:
        return dict(conn.execute("SELECT status, COUNT(*) FROM outbox GROUP BY status"))


async def test_a_batch_of_answers_that_failed_once_is_written_and_the_chat_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db, uow = await queued(tmp_path, {42: 3})
    real = uow.outbox.mark_sent_many
    failures = [RuntimeError("database is locked")]

    async def flaky(sent: Sequence[tuple[int, int, datetime]]) -> None:
        if failures:
            raise failures.pop()
        await real(sent)

    monkeypatch.setattr(uow.outbox, "mark_sent_many", flaky)
    sender = Sender()
    worker = DeliveryWorker(uow, sender, CLOCK, idle_poll=0.2)
    await worker.start()
    try:
        assert await worker.drain(10.0)
    finally:
        await worker.stop()
    assert sender.sent == [(42, "1"), (42, "2"), (42, "3")]  # in order, each once
    async with uow.transaction():
        counts = await uow.outbox.counts()
    assert counts[DeliveryStatus.SENT] == 3
    await db.close()


async def test_a_row_that_cannot_be_written_holds_up_only_its_own_chat(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db, uow = await queued(tmp_path, {41: 2, 42: 2})
    real = uow.outbox.mark_sent_many

    async def poisoned(sent: Sequence[tuple[int, int, datetime]]) -> None:
        if any(row_id == 1 for row_id, _, _ in sent):  # chat 41's first row
            raise RuntimeError("disk I/O error")
        await real(sent)

    monkeypatch.setattr(uow.outbox, "mark_sent_many", poisoned)
    sender = Sender()
    worker = DeliveryWorker(uow, sender, CLOCK, idle_poll=0.2)
    await worker.start()
    try:
        # Not drain(): chat 41's second row stays pending, so it would only ever time out.
        await eventually(
            lambda: statuses(tmp_path) == {"sent": 2, "sending": 1, "pending": 1},
            what="chat 42 sent and chat 41 held",
        )
    finally:
        await worker.stop()
    # Chat 42 got everything although its answers were in a batch with the poisoned row;
    # chat 41 waits (its first message may have arrived: never sent again).
    assert [text for chat, text in sender.sent if chat == 42] == ["1", "2"]
    assert [text for chat, text in sender.sent if chat == 41] == ["1"]
    async with uow.transaction():
        counts = await uow.outbox.counts()
    assert (counts[DeliveryStatus.SENT], counts[DeliveryStatus.SENDING]) == (2, 1)
    assert counts[DeliveryStatus.PENDING] == 1
    await db.close()
