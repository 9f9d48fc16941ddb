"""The Telegram side of `bot.ports.Sender`: one outbox message, one `sendMessage`.

Telegram's answers become the delivery exceptions, so the worker decides what to do (wait,
retry, give up, report) without knowing Telegram. Parse mode (HTML) and link previews (off)
come from the application's `Defaults`.
"""

from __future__ import annotations

from datetime import timedelta

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.ext import ExtBot

from bot.models import OutboxMessage
from bot.services.delivery import (
    OutcomeUnknown,
    Rejected,
    RetryLater,
    TransientFailure,
    Unreachable,
)

# httpx errors (PTB names them in the NetworkError message) that happen before a byte of the
# request left, so Telegram cannot have the message and sending again is safe.
_NOT_SENT_PREFIXES = ("httpx.ConnectError", "httpx.UnsupportedProtocol", "httpx.ProxyError")
_NOT_SENT_TIMEOUTS = frozenset({"ConnectTimeout", "PoolTimeout"})


class TelegramSender:
    def __init__(self, bot: Bot) -> None:
        if isinstance(bot, ExtBot) and bot.rate_limiter is not None:
            # A PTB rate limiter would delay and retry under the worker: a retry after an
            # unclear outcome can deliver twice, and its timing defeats the worker's limits.
            raise ValueError("the delivery worker needs a bot without a PTB rate limiter")
        self._bot = bot

    async def send(self, chat_id: int, message: OutboxMessage) -> int:
        markup = None
        if message.buttons:
            markup = InlineKeyboardMarkup(
                [
                    [InlineKeyboardButton(label, callback_data=data) for label, data in row]
                    for row in message.buttons
                ]
            )
        try:
            sent = await self._bot.send_message(
                chat_id,
                message.text,
                reply_markup=markup,
                disable_notification=message.silent,
            )
        except TelegramError as error:
            raise _delivery_error(error) from error
        return sent.message_id


def _delivery_error(error: TelegramError) -> Exception:
    """What Telegram's answer means for the outbox row. The reasons are Telegram's
    descriptions, which never quote the message."""
    match error:
        case RetryAfter():
            return RetryLater(_retry_after_seconds(error))
        case ChatMigrated():
            return Rejected(f"group migrated to supergroup {error.new_chat_id}")
        case Forbidden():
            return Unreachable(error.message)
        case BadRequest() if "chat not found" in error.message.lower():
            return Unreachable(error.message)
        case BadRequest():
            return Rejected(error.message)
        case TimedOut():
            cause = type(error.__cause__).__name__
            if cause in _NOT_SENT_TIMEOUTS or error.message.startswith("Pool timeout"):
                return TransientFailure(f"timed out before sending ({cause})")
            return OutcomeUnknown(error.message)
        case NetworkError() if error.message.startswith(_NOT_SENT_PREFIXES):
            return TransientFailure(error.message)
        case NetworkError() if error.message.startswith(("httpx.", "Unknown error in HTTP")):
            # The connection broke after the request may have been written (a reset, a read
            # error): Telegram may have the message, so it must not be sent again.
            return OutcomeUnknown(error.message)
        case NetworkError():
            # Telegram answered with a server error (500, 502 …). That is taken as "not
            # delivered" and retried; a 502 sent after the message went out would repeat it,
            # a risk accepted because Telegram's 5xx almost always means it did nothing.
            return TransientFailure(error.message)
        case InvalidToken():
            return Rejected("the bot token was refused")
        case _:
            return Rejected(error.message)


def _retry_after_seconds(error: RetryAfter) -> float:
    # `RetryAfter.retry_after` warns in PTB 22 unless PTB_TIMEDELTA is set in the environment;
    # the stored timedelta carries the same value without the warning or a global setting.
    stored = getattr(error, "_retry_after", None)
    if isinstance(stored, timedelta):
        return stored.total_seconds()
    # Pickling support gives the seconds as an int, also without the warning.
    return float(error.__reduce__()[1][0])
