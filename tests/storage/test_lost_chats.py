"""Lost chats are remembered until the bot is back; rerouted rows are not failed sends."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.models import NewDelivery, OutboxMessage
from storage.unit_of_work import SqliteUnitOfWork

NOW = datetime(2018, 10, 3, 11, 0, tzinfo=UTC)
GROUP = -100123


def card(key: str, chat_id: int = GROUP) -> NewDelivery:
    return NewDelivery(key, "ev", chat_id, None, "feed", OutboxMessage("kort"))


async def test_a_chat_is_marked_lost_once_and_cleared_when_the_bot_is_back(
    uow: SqliteUnitOfWork,
) -> None:
    async with uow.transaction():
        assert await uow.lost_chats.mark(GROUP, "Chat not found", None, NOW)
        assert not await uow.lost_chats.mark(GROUP, "Chat not found", None, NOW)
        assert await uow.lost_chats.mark(-100200, "migrated", -100300, NOW)
        found = await uow.lost_chats.all()
    assert [(c.chat_id, c.moved_to, c.since) for c in found.values()] == [
        (-100200, -100300, NOW),
        (GROUP, None, NOW),
    ]
    async with uow.transaction():
        assert await uow.lost_chats.clear(GROUP)
        assert not await uow.lost_chats.clear(GROUP)
        assert list(await uow.lost_chats.all()) == [-100200]


async def test_failed_sends_count_refusals_and_gone_groups_but_not_rerouted_rows(
    uow: SqliteUnitOfWork,
) -> None:
    async with uow.transaction():
        await uow.outbox.enqueue([card("a"), card("b"), card("c"), card("d", 42)], NOW)
        rows = {row.key: row for row in await uow.outbox.pending_to(GROUP)}
        assert list(rows) == ["a", "b", "c"]
        await uow.outbox.mark_unreachable(rows["a"].id, "Chat not found")
        await uow.outbox.mark_rerouted([rows["b"].id, rows["c"].id], "Chat not found")
        assert await uow.outbox.pending_to(GROUP) == []
        assert await uow.outbox.failed_sends() == 1
        [other] = await uow.outbox.pending_to(42)
        await uow.outbox.mark_failed(other.id, "Bad Request: message is too long")
        assert await uow.outbox.failed_sends() == 2
