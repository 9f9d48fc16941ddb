"""The Telegram side of `bot.ports.Sender`: one outbox message, one `sendMessage`.

Telegram's answers become the delivery exceptions (`bot.telegram.limits.delivery_error`), so
the worker decides what to do (wait, retry, give up, report) without knowing Telegram. Parse
mode (HTML) and link previews (off) come from the bot's `Defaults`.
"""

from __future__ import annotations

from typing import Any

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import BadRequest, TelegramError
from telegram.ext import ExtBot

from bot.models import InputKind, OutboxMessage
from bot.telegram.limits import WORKER, ReplyLimits, delivery_error


class TelegramSender:
    def __init__(self, bot: Bot) -> None:
        limiter = bot.rate_limiter if isinstance(bot, ExtBot) else None
        if limiter is not None and not isinstance(limiter, ReplyLimits):
            # Another PTB rate limiter would delay and retry under the worker: a retry after
            # an unclear outcome can deliver twice, and its timing defeats the worker's limits.
            raise ValueError("the delivery worker needs a bot without a PTB rate limiter")
        self._bot = bot
        # The worker takes its slots itself: its sends pass ReplyLimits untouched.
        self._options: dict[str, Any] = {"rate_limit_args": WORKER} if limiter else {}

    async def send(self, chat_id: int, message: OutboxMessage) -> int:
        markup = _markup(message)
        try:
            if message.media is not None and message.media.file_id is not None:
                try:
                    return await self._send_media(chat_id, message, message.media.file_id)
                except BadRequest as error:
                    if not _unusable_file(error):
                        raise
                    # A file id Telegram no longer honours: the card as text is still a card.
            sent = await self._bot.send_message(
                chat_id,
                message.text,
                reply_markup=markup,
                disable_notification=message.silent,
                **self._options,
            )
        except TelegramError as error:
            raise delivery_error(error) from error
        return sent.message_id

    async def _send_media(self, chat_id: int, message: OutboxMessage, file_id: str) -> int:
        """A participant's photo, document or voice note by the file id Telegram gave it:
        nothing is downloaded or uploaded, and the caption and buttons are the bot's own."""
        assert message.media is not None  # noqa: S101 - checked by the caller
        options: dict[str, Any] = {
            "caption": message.text,
            "reply_markup": _markup(message),
            "disable_notification": message.silent,
            **self._options,
        }
        if message.media.kind is InputKind.PHOTO:
            sent = await self._bot.send_photo(chat_id, file_id, **options)
        elif message.media.kind is InputKind.VOICE:
            sent = await self._bot.send_voice(chat_id, file_id, **options)
        else:
            sent = await self._bot.send_document(chat_id, file_id, **options)
        return sent.message_id

    async def edit(self, chat_id: int, message_id: int, message: OutboxMessage) -> int:
        """editMessageText, or editMessageCaption for a message that shows a participant's
        media; without buttons in `message` the old ones go. Editing again what an unclear
        outcome may already have edited is harmless: "not modified" is success."""
        try:
            if message.media is not None:
                try:
                    await self._bot.edit_message_caption(
                        chat_id=chat_id,
                        message_id=message_id,
                        caption=message.text,
                        reply_markup=_markup(message),
                        **self._options,
                    )
                except BadRequest as error:
                    if "no caption in the message" not in error.message.lower():
                        raise
                    # Sent as text after all (its file id was refused): edited as text.
                    await self._bot.edit_message_text(
                        message.text,
                        chat_id=chat_id,
                        message_id=message_id,
                        reply_markup=_markup(message),
                        **self._options,
                    )
            else:
                await self._bot.edit_message_text(
                    message.text,
                    chat_id=chat_id,
                    message_id=message_id,
                    reply_markup=_markup(message),
                    **self._options,
                )
        except BadRequest as error:
            if "message is not modified" not in error.message.lower():
                raise delivery_error(error) from error
        except TelegramError as error:
            raise delivery_error(error) from error
        return message_id

    async def delete(self, chat_id: int, message_id: int, fallback: OutboxMessage) -> int:
        """deleteMessage; a message Telegram no longer lets the bot delete (older than 48
        hours in a private chat or a group where the bot is no admin) is edited to
        `fallback`; one already gone counts as deleted."""
        try:
            await self._bot.delete_message(chat_id, message_id, **self._options)
        except BadRequest as error:
            reason = error.message.lower()
            if "not found" in reason:
                return message_id
            if "can't be deleted" not in reason:
                raise delivery_error(error) from error
        except TelegramError as error:
            raise delivery_error(error) from error
        else:
            return message_id
        return await self.edit(chat_id, message_id, fallback)


def _unusable_file(error: BadRequest) -> bool:
    """Telegram's answers to a file id it does not (or no longer) serve to this bot."""
    reason = error.message.lower()
    return "file identifier" in reason or "wrong remote file" in reason


def _markup(message: OutboxMessage) -> InlineKeyboardMarkup | None:
    if not message.buttons:
        return None
    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(label, callback_data=data.pack()) for label, data in row]
            for row in message.buttons
        ]
    )
