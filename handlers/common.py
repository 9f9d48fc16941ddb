"""Small pieces every handler module uses: who is writing, replying, answering a button.

Parse mode (HTML) and link previews (off) are application defaults set in `bot.app`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from telegram import CallbackQuery, InlineKeyboardMarkup, Update
from telegram.error import BadRequest

from bot.models import UserRef
from handlers import keyboards
from handlers.context import Context

log = logging.getLogger(__name__)

ButtonStep = Callable[[Update, Context, UserRef, str], Awaitable[None]]
Handler = Callable[[Update, Context], Coroutine[Any, Any, None]]


def user_ref(update: Update) -> UserRef | None:
    user = update.effective_user
    chat = update.effective_chat
    if user is None or chat is None or user.is_bot:
        return None
    return UserRef(
        user_id=user.id,
        chat_id=chat.id,
        display_name=user.full_name,
        username=user.username,
        telegram_language=user.language_code,
    )


async def language_of(context: Context, user: UserRef) -> str:
    return await context.services.access.language(user)


async def reply(update: Update, text: str, keyboard: InlineKeyboardMarkup | None = None) -> None:
    """Answer in the chat the update came from."""
    chat = update.effective_chat
    if chat is not None:
        await chat.send_message(text, reply_markup=keyboard)


async def answer_query(
    query: CallbackQuery, text: str | None = None, *, alert: bool = False
) -> None:
    """Stop the button's spinner, with a pop-up if there is a `text`.

    Telegram refuses answers to a press it no longer waits for (handled after a restart, or
    delivered twice); what the press did is done either way, so that is no error."""
    try:
        await query.answer(text, show_alert=alert)
    except BadRequest as error:
        if "query is too old" not in error.message.lower():
            raise
        log.info("button press %s came too late to answer", query.id)


async def answer_button(
    update: Update, text: str, keyboard: InlineKeyboardMarkup | None = None
) -> None:
    """After a button press, turn the message with the buttons into the answer, so that old
    buttons cannot be pressed twice; send a new message if the old one cannot be edited."""
    query = update.callback_query
    if query is None:
        await reply(update, text, keyboard)
        return
    await answer_query(query)
    try:
        await query.edit_message_text(text, reply_markup=keyboard)
    except BadRequest:
        # Too old to edit, deleted, or identical: the answer still has to reach the person.
        await reply(update, text, keyboard)


async def stale_button(update: Update, context: Context) -> None:
    """A pop-up for button data this version did not make (forged, or from an old message),
    or that no longer fits; not an edit, as the message may still hold valid buttons."""
    query = update.callback_query
    if query is None:
        return
    user = user_ref(update)
    if user is None:
        await answer_query(query)
        return
    lang = await language_of(context, user)
    await answer_query(query, context.services.texts.plain(lang, "buttons.stale"), alert=True)


def button(
    *,
    accept: frozenset[str] | None = None,
    ids: bool = False,
    actions: frozenset[str] | None = None,
) -> Callable[[ButtonStep], Handler]:
    """A callback-query handler from a step that takes (update, context, user, argument).

    The data is parsed (`v1:<action>:<argument>`) and, with `accept`, must be one of those
    arguments; with `ids`, a database id; with `actions`, one of those actions, a hyphen and a
    database id (`star-12`). Anything else gets the stale-button pop-up, so a step may read the
    argument without checking its form again. The step still checks everything against the
    database: the data only says what was pressed.
    """

    def valid(argument: str) -> bool:
        if accept is not None and argument not in accept:
            return False
        if ids and keyboards.parse_id(argument) is None:
            return False
        if actions is not None:
            action, _, raw_id = argument.partition("-")
            return action in actions and keyboards.parse_id(raw_id) is not None
        return True

    def wrap(step: ButtonStep) -> Handler:
        async def handler(update: Update, context: Context) -> None:
            user = user_ref(update)
            query = update.callback_query
            parsed = keyboards.parse(query.data if query else None)
            argument = parsed.argument if parsed else None
            if user is None or argument is None or not valid(argument):
                await stale_button(update, context)
                return
            await step(update, context, user, argument)

        handler.__name__ = step.__name__
        handler.__doc__ = step.__doc__
        return handler

    return wrap
