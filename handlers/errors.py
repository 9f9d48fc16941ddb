"""The one error handler: log with the exception, apologise in the person's language."""

from __future__ import annotations

import logging
import sqlite3

from telegram import Update
from telegram.error import Forbidden, RetryAfter, TelegramError

from bot.ports import StorageUnavailableError
from handlers.common import reply
from handlers.context import Context
from handlers.updates import ChatOrderedProcessor

log = logging.getLogger(__name__)


async def error_handler(update: object, context: Context) -> None:
    # Log the update id and the exception only: message texts are never logged.
    update_id = update.update_id if isinstance(update, Update) else None
    log.error("error while handling update %s", update_id, exc_info=context.error)
    storage_trouble = _is_storage_trouble(context.error)
    processor = context.application.update_processor
    if isinstance(processor, ChatOrderedProcessor) and update_id is not None:
        # Retry only what the database failed to take; a bug would fail the same way again.
        processor.failures[update_id] = storage_trouble
    if not isinstance(update, Update):
        return
    user = context.user
    if user is None or update.effective_chat is None or update.effective_chat.type != "private":
        return
    if isinstance(context.error, Forbidden | RetryAfter):
        return  # blocked, or Telegram's flood pause: an apology would fail the same way
    try:
        lang = context.services.access.fallback_language(user)
        key = "errors.storage" if storage_trouble else "errors.generic"
        await reply(update, context.services.texts(lang, key))
    except (TelegramError, RuntimeError):
        log.warning("could not send the apology for update %s", update_id)


def _is_storage_trouble(error: BaseException | None) -> bool:
    """A locked, full or unreachable database: worth another try a little later."""
    return isinstance(error, sqlite3.Error | StorageUnavailableError) or (
        error is not None and _is_storage_trouble(error.__cause__)
    )
