"""The one error handler: log with the exception, alert the organisers, apologise in the
person's language."""

from __future__ import annotations

import logging
from types import TracebackType

from telegram import Update
from telegram.error import Forbidden, RetryAfter, TelegramError

from bot.ports import StorageStoppedError, StorageUnavailableError
from bot.telegram.processor import ChatOrderedProcessor
from handlers.common import reply
from handlers.context import Context

log = logging.getLogger(__name__)


async def error_handler(update: object, context: Context) -> None:
    update_id = update.update_id if isinstance(update, Update) else None
    stopped = _caused_by(context.error, StorageStoppedError)
    if not stopped:
        # The update id and the exception only: message texts are never logged. A database
        # that takes no writes has said so once; a line per update would bury it.
        log.error("error while handling update %s", update_id, exc_info=context.error)
    storage_trouble = _caused_by(context.error, StorageUnavailableError)
    processor = context.application.update_processor
    if isinstance(processor, ChatOrderedProcessor) and update_id is not None:
        # Retry only what the database failed to take; a bug would fail the same way again.
        processor.failed(update_id, retry=storage_trouble)
    if isinstance(context.error, Forbidden):
        # Blocked: nothing is broken, and an apology would fail the same way.
        return
    if isinstance(context.error, RetryAfter):
        # Telegram refused an answer again and again (`ReplyLimits` gave it up): nothing is
        # broken, but the person is owed a word, which the outbox delivers after the pause.
        await _apologise_later(update, context)
        return
    if not stopped:  # else the alert could not be recorded either
        await _alert(update, context)
    if not isinstance(update, Update):
        return
    user = context.user
    if user is None or update.effective_chat is None or update.effective_chat.type != "private":
        return
    try:
        lang = context.services.access.fallback_language(user)
        key = "errors.storage" if storage_trouble else "errors.generic"
        await reply(update, context.services.texts(lang, key))
    except (TelegramError, RuntimeError):
        log.warning("could not send the apology for update %s", update_id)


async def _apologise_later(update: object, context: Context) -> None:
    user, chat = context.user, update.effective_chat if isinstance(update, Update) else None
    if not isinstance(update, Update) or user is None or chat is None:
        return
    try:
        lang = context.services.access.fallback_language(user)
        await context.services.alerts.answer_given_up(chat.id, lang, update.update_id)
    except StorageUnavailableError:
        log.warning("could not queue the apology for update %s", update.update_id)


async def _alert(update: object, context: Context) -> None:
    """Tell the organisers (the service decides whether, and what may be said)."""
    if context.error is None:
        return
    try:
        await context.services.alerts.handler_failed(context.error, _where(update, context))
    except StorageUnavailableError:
        # The database is what failed: the alert cannot be recorded either; the log has it.
        log.warning("could not queue the organisers' alert", exc_info=True)


def _where(update: object, context: Context) -> str:
    """Which handler failed and on what kind of update, or which job: names from the code and
    from Telegram's schema, never from the update's content."""
    if context.job is not None:
        return f"job {context.job.name}"
    kind = "update"
    if isinstance(update, Update):
        kind = next((k for k in Update.ALL_TYPES if getattr(update, k, None) is not None), kind)
    handler = _handler(context.error.__traceback__ if context.error else None)
    return f"{handler} ({kind})" if handler else kind


def _handler(tb: TracebackType | None) -> str | None:
    """The innermost function of a handler module the traceback passes through: the step that
    failed (`handlers.inputs.moderate_button`), past the shared wrappers of `handlers.common`."""
    found = None
    while tb is not None:
        module = tb.tb_frame.f_globals.get("__name__", "")
        if module.startswith("handlers.") and module not in {"handlers.common", __name__}:
            found = f"{module}.{tb.tb_frame.f_code.co_name}"
        tb = tb.tb_next
    return found


def _caused_by(error: BaseException | None, kind: type[BaseException]) -> bool:
    """Whether `error`, or an error it was raised from, is a `kind`: a locked, full or
    unreachable database comes as `StorageUnavailableError` from the storage adapter, worth
    another try a little later."""
    return isinstance(error, kind) or (error is not None and _caused_by(error.__cause__, kind))
