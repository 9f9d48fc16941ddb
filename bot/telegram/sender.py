"""The Telegram side of `bot.ports.Sender`: one outbox message, one `sendMessage`.

Telegram's answers become the delivery exceptions (`bot.telegram.limits.delivery_error`), so
the worker decides what to do (wait, retry, give up, report) without knowing Telegram. Parse
mode (HTML) and link previews (off) come from the bot's `Defaults`.
"""

from __future__ import annotations

from typing import Any

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import TelegramError
from telegram.ext import ExtBot

from bot.models import OutboxMessage
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
        markup = None
        if message.buttons:
            markup = InlineKeyboardMarkup(
                [
                    [InlineKeyboardButton(label, callback_data=data.pack()) for label, data in row]
                    for row in message.buttons
                ]
            )
        try:
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
