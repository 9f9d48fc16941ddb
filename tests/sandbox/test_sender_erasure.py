"""The delivery worker's edits and deletions against the fake Bot API's wire format: a
message deleted while Telegram allows it, edited instead once it is older than 48 hours,
and a retry after an unclear outcome that finds the work done counts as done."""

from __future__ import annotations

from telegram import Bot

from bot.models import OutboxMessage
from bot.sandbox import FakeBotApi, FakeUser
from bot.telegram.sender import TelegramSender
from tests.sandbox.conftest import FakeClock

CLEARED = OutboxMessage("(withdrawn)")


async def test_a_recent_message_is_deleted(api: FakeBotApi, bot: Bot, ana: FakeUser) -> None:
    sender = TelegramSender(bot)
    message_id = await sender.send(ana.id, OutboxMessage("Anas ord"))
    assert await sender.delete(ana.id, message_id, CLEARED) == message_id
    assert api.sent_messages(ana.id) == []
    # Deleting again (a retry after a timeout) is not an error.
    assert await sender.delete(ana.id, message_id, CLEARED) == message_id


async def test_a_message_older_than_48_hours_is_edited_instead_of_deleted(
    api: FakeBotApi, bot: Bot, ana: FakeUser, clock: FakeClock
) -> None:
    sender = TelegramSender(bot)
    message_id = await sender.send(ana.id, OutboxMessage("Anas ord"))
    clock.advance(49 * 3600)
    assert await sender.delete(ana.id, message_id, CLEARED) == message_id
    [shown] = api.sent_messages(ana.id)
    assert shown["text"] == "(withdrawn)"
    # Editing to the same text again (a retry) counts as done, not as a refusal.
    assert await sender.edit(ana.id, message_id, CLEARED) == message_id
    assert [c.method for c in api.calls].count("deleteMessage") == 1
