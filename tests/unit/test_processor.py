"""The update processor: an update waiting behind its own chat holds no place others need."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from telegram import Chat, Message, Update

from bot.services.inbox import InboxService
from bot.telegram.processor import ChatOrderedProcessor
from tests.waiting import eventually


class FakeInbox(InboxService):
    def __init__(self) -> None:
        self.finished: list[int] = []

    async def done(self, update_id: int) -> None:
        self.finished.append(update_id)

    async def failed(self, update_id: int, error: str) -> bool:
        del error
        self.finished.append(update_id)
        return False


def update_in(chat_id: int, update_id: int) -> Update:
    chat = Chat(chat_id, Chat.PRIVATE)
    return Update(update_id, message=Message(update_id, datetime.now(UTC), chat))


async def test_a_chats_backlog_does_not_hold_up_other_chats() -> None:
    async def requeue(update: Update) -> None:
        del update

    processor = ChatOrderedProcessor(FakeInbox(), requeue, max_concurrent_updates=2)
    release = asyncio.Event()
    handled: list[int] = []

    async def handle(update_id: int) -> None:
        handled.append(update_id)
        await release.wait()

    # One chat's backlog, more than the processor's places, each stuck until released …
    backlog = [
        asyncio.create_task(processor.process_update(update_in(1, n), handle(n)))
        for n in range(1, 6)
    ]
    await eventually(lambda: handled == [1])
    # … and another chat's update is handled meanwhile: those waiting hold no place.
    other = asyncio.create_task(processor.process_update(update_in(2, 99), handle(99)))
    await eventually(lambda: 99 in handled, timeout=1)
    release.set()
    await asyncio.gather(*backlog, other)
    assert [n for n in handled if n != 99] == [1, 2, 3, 4, 5]  # the chat kept its order


async def test_no_more_than_the_limit_are_handled_at_once() -> None:
    async def requeue(update: Update) -> None:
        del update

    processor = ChatOrderedProcessor(FakeInbox(), requeue, max_concurrent_updates=3)
    release = asyncio.Event()

    async def handle() -> None:
        await release.wait()

    tasks = [
        asyncio.create_task(processor.process_update(update_in(chat, chat), handle()))
        for chat in range(1, 11)
    ]
    await eventually(lambda: processor.running == 3)
    await asyncio.sleep(0)
    assert processor.running == 3
    release.set()
    await asyncio.gather(*tasks)
    assert processor.peak == 3


async def test_an_update_arrives_when_it_reaches_the_processor_not_when_its_turn_comes() -> None:
    async def requeue(update: Update) -> None:
        del update

    clock = {"now": 100.0}
    processor = ChatOrderedProcessor(FakeInbox(), requeue, monotonic=lambda: clock["now"])
    release = asyncio.Event()
    seen: dict[int, float | None] = {}

    async def handle(update_id: int) -> None:
        seen[update_id] = processor.arrived(update_id)
        await release.wait()

    first = asyncio.create_task(processor.process_update(update_in(1, 1), handle(1)))
    await eventually(lambda: 1 in seen)
    second = asyncio.create_task(processor.process_update(update_in(1, 2), handle(2)))
    await eventually(lambda: processor.arrived(2) is not None)
    clock["now"] = 160.0  # the second waits a minute behind the first
    release.set()
    await asyncio.gather(first, second)
    assert seen == {1: 100.0, 2: 100.0}
    assert processor.arrived(2) is None  # forgotten once handled
