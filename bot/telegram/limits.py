"""Telegram's limits and errors, read in one place.

- `retry_after_seconds` is the one reading of a 429's `retry_after` (the poller waits it out,
  the answers' limiter pauses for it, the sender turns it into `RetryLater`).
- `delivery_error` turns any Telegram error of a send into the exceptions that the delivery
  worker understands (declared beside the `Sender` port in `bot.ports`).
- `ReplyLimits` makes the handlers' answers share the delivery worker's `RateLimiter`.

The numbers themselves (30 messages a second overall, one a second per private chat, 20 a
minute per group) are the defaults of `bot.services.delivery.RateLimiter`; message length
and button data limits are in `bot.i18n` and `bot.buttons`, where the core needs them.
"""

from __future__ import annotations

import asyncio
import warnings
from collections import Counter
from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import TYPE_CHECKING, Any

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
from telegram.ext import BaseRateLimiter
from telegram.warnings import PTBDeprecationWarning

from bot.ports import (
    ChatMoved,
    DeliveryError,
    OutcomeUnknown,
    Rejected,
    RetryLater,
    TransientFailure,
    Unreachable,
)
from bot.services.delivery import RateLimiter

if TYPE_CHECKING:
    from telegram._utils.types import JSONDict

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
# Edits of a message already in the chat: answers that do not add a message there.
EDITS = frozenset({"editMessageText", "editMessageCaption", "editMessageReplyMarkup"})
WORKER = {"worker": True}  # rate_limit_args of the delivery worker's own sends
MAX_REPLY_429S = 5  # 429s on one answer before it is given up (each waited out first)

# httpx errors (PTB names them in the NetworkError message) that happen before a byte of the
# request left, so Telegram cannot have the message and sending again is safe.
_NOT_SENT_PREFIXES = ("httpx.ConnectError", "httpx.UnsupportedProtocol", "httpx.ProxyError")
_NOT_SENT_TIMEOUTS = frozenset({"ConnectTimeout", "PoolTimeout"})


def retry_after_seconds(error: RetryAfter) -> float:
    """How long Telegram asked the bot to wait, in seconds."""
    # PTB 22 gives seconds (and a deprecation warning) unless PTB_TIMEDELTA is set, as the
    # command line does; then a timedelta. Both are read here, the warning silenced.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = error.retry_after
    if isinstance(value, timedelta):
        return value.total_seconds()
    return float(value)


def delivery_error(error: TelegramError) -> DeliveryError:
    """What Telegram's answer to a send means for the outbox row. The reasons are Telegram's
    descriptions, which never quote the message."""
    match error:
        case RetryAfter():
            return RetryLater(retry_after_seconds(error))
        case ChatMigrated():
            return ChatMoved(int(error.new_chat_id))
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


class ReplyLimits(BaseRateLimiter[dict[str, bool]]):
    """The handlers' answers share the delivery worker's `RateLimiter`, so that a reply in
    the middle of a broadcast does not take Telegram past 30 messages a second (a 429 would
    hold up every send), and leave the worker its share of each second.

    Answers to one chat take their turns one after another, in the order they were asked
    for, each from its first try to its last: an export's files and the answers to commands
    written meanwhile (`/export` runs beside them, `block=False`) arrive in order, and none
    overtakes another that is waiting out a 429. Each answer waits for the overall window
    and for its chat's second after the previous answer (see `RateLimiter.acquire_reply`;
    an edit, which adds no message to the chat, neither waits for it nor starts it),
    for as long as that takes: a late answer is better than none, which would leave the
    person stuck half-way through a check-in. A 429 (Telegram took nothing) is waited out,
    by every send, and the answer sent again, up to `MAX_REPLY_429S` times; then the
    `RetryAfter` reaches the error handler, which queues an apology through the outbox.
    Any other failure is not retried here, as a retry after an unclear outcome could answer
    twice. The worker's own sends, which take their slots themselves, pass
    `rate_limit_args=WORKER` and go straight through."""

    def __init__(self, limiter: RateLimiter) -> None:
        self.limiter = limiter
        self._turns: dict[int, asyncio.Lock] = {}  # per chat; asyncio's locks are first come
        self._waiting: Counter[int] = Counter()

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
        self._waiting[chat_id] += 1
        turn = self._turns.setdefault(chat_id, asyncio.Lock())
        try:
            async with turn:
                return await self._answer(callback, args, kwargs, chat_id, endpoint not in EDITS)
        finally:
            self._waiting[chat_id] -= 1
            if self._waiting[chat_id] <= 0:
                del self._waiting[chat_id]
                self._turns.pop(chat_id, None)

    async def _answer(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | JSONDict | list[JSONDict]]],
        args: Any,
        kwargs: dict[str, Any],
        chat_id: int,
        paced: bool,
    ) -> bool | JSONDict | list[JSONDict]:
        refused = 0
        while True:
            slot = await self.limiter.acquire_reply(chat_id, paced=paced)
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as error:
                self.limiter.pause(retry_after_seconds(error))  # the worker waits too
                refused += 1
                if refused >= MAX_REPLY_429S:
                    raise
            finally:
                self.limiter.release(slot)
