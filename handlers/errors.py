"""The one error handler: log with the exception, apologise in the person's language."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.error import Forbidden, TelegramError

from handlers.common import reply, user_ref
from handlers.context import Context

log = logging.getLogger(__name__)


async def error_handler(update: object, context: Context) -> None:
    # Log the update id and the exception only: message texts are never logged.
    update_id = update.update_id if isinstance(update, Update) else None
    log.error("error while handling update %s", update_id, exc_info=context.error)
    if not isinstance(update, Update):
        return
    user = user_ref(update)
    if user is None or update.effective_chat is None or update.effective_chat.type != "private":
        return
    if isinstance(context.error, Forbidden):
        return  # they blocked the bot: an apology would fail the same way
    try:
        lang = context.services.access.fallback_language(user)
        await reply(update, context.services.texts(lang, "errors.generic"))
    except (TelegramError, RuntimeError):
        log.warning("could not send the apology for update %s", update_id)
