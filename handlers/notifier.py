"""The Telegram side of `bot.ports.Sender`: one outbox message, one `sendMessage`.

Telegram's answers become the delivery exceptions, so the worker decides what to do (wait,
retry, give up, report) without knowing Telegram. Parse mode (HTML) and link previews (off)
come from the application's `Defaults`.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import TYPE_CHECKING, Any

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
from telegram.ext import BaseRateLimiter, ExtBot

from bot.models import OutboxMessage
from bot.services.delivery import (
    OutcomeUnknown,
    RateLimiter,
    Rejected,
    RetryLater,
    TransientFailure,
    Unreachable,
)

if TYPE_CHECKING:
    from telegram._utils.types import JSONDict

# httpx errors (PTB names them in the NetworkError message) that happen before a byte of the
# request left, so Telegram cannot have the message and sending again is safe.
_NOT_SENT_PREFIXES = ("httpx.ConnectError", "httpx.UnsupportedProtocol", "httpx.ProxyError")
_NOT_SENT_TIMEOUTS = frozenset({"ConnectTimeout", "PoolTimeout"})


# Bot API methods that put a message in a chat: what Telegram's flood limits count.
SENDS = frozenset(
    {
        "sendMessage",
        "sendPhoto",
        "sendDocument",
        "sendVoice",
        "sendMediaGroup",
        "copyMessage",
        "forwardMessage",
        "editMessageText",
        "editMessageCaption",
        "editMessageReplyMarkup",
    }
)
WORKER = {"worker": True}  # rate_limit_args of the delivery worker's own sends
MAX_REPLY_WAIT = 10.0  # seconds an answer waits for its place before it is given up


class ReplyLimits(BaseRateLimiter[dict[str, bool]]):
    """The handlers' answers share the delivery worker's `RateLimiter`, so that a reply in
    the middle of a broadcast does not take Telegram past 30 messages a second (a 429 would
    hold up every send). An answer waits only for the overall window (see
    `RateLimiter.acquire_reply`) and is never retried here: a retry after an unclear outcome
    could answer twice. The worker's own sends, which take their slots themselves, pass
    `rate_limit_args=WORKER` and go straight through."""

    def __init__(self, limiter: RateLimiter) -> None:
        self.limiter = limiter

    async def initialize(self) -> None:
        """Nothing to open."""

    async def shutdown(self) -> None:
        """Nothing to close."""

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | JSONDict | list[JSONDict]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: dict[str, bool] | None,
    ) -> bool | JSONDict | list[JSONDict]:
        chat_id = data.get("chat_id")
        if rate_limit_args == WORKER or endpoint not in SENDS or not isinstance(chat_id, int):
            return await callback(*args, **kwargs)
        try:
            async with asyncio.timeout(MAX_REPLY_WAIT):
                slot = await self.limiter.acquire_reply(chat_id)
        except TimeoutError:
            # A long 429 pause: rather than hold the person's chat (and one of the handlers'
            # places) for minutes, this answer is given up, as Telegram would refuse it.
            raise RetryAfter(math.ceil(self.limiter.reply_delay(chat_id))) from None
        try:
            return await callback(*args, **kwargs)
        except RetryAfter as error:
            self.limiter.pause(_retry_after_seconds(error))  # the worker waits too
            raise
        finally:
            self.limiter.release(slot)


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
