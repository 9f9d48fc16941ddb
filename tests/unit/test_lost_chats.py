"""Where a message meant for a facilitator chat goes once the chat is lost or moved."""

from __future__ import annotations

from datetime import UTC, datetime

from telegram.error import BadRequest, ChatMigrated, Forbidden

from bot.models import LostChat
from bot.ports import ChatMoved, Unreachable
from bot.services.lostchats import resolve
from bot.telegram.limits import delivery_error

NOW = datetime(2018, 10, 3, 11, 0, tzinfo=UTC)


def lost(chat_id: int, moved_to: int | None = None) -> LostChat:
    return LostChat(chat_id, "reason", moved_to, NOW)


def test_a_chat_resolves_to_itself_to_the_supergroup_it_became_or_to_nothing() -> None:
    assert resolve(-1, {}) == -1
    assert resolve(-1, {-1: lost(-1)}) is None
    # Moved, and the supergroup moved on: followed to the end.
    assert resolve(-1, {-1: lost(-1, -2), -2: lost(-2, -3)}) == -3
    assert resolve(-1, {-1: lost(-1, -2), -2: lost(-2)}) is None
    # A loop of moves (never from Telegram) ends rather than hanging.
    assert resolve(-1, {-1: lost(-1, -2), -2: lost(-2, -1)}) is None


def test_telegrams_answers_for_a_chat_the_bot_cannot_write_to_are_read_as_such() -> None:
    moved = delivery_error(ChatMigrated(-1009))
    assert isinstance(moved, ChatMoved)
    assert moved.new_chat_id == -1009
    for error in (
        BadRequest("Chat not found"),
        Forbidden("Forbidden: bot was kicked from the group chat"),
        Forbidden("Forbidden: bot is not a member of the supergroup chat"),
    ):
        assert isinstance(delivery_error(error), Unreachable)
