"""Small pieces every handler module uses: who is writing, replying, answering a button.

Parse mode (HTML) and link previews (off) are application defaults set in `bot.app`.
"""

from __future__ import annotations

from telegram import InlineKeyboardMarkup, Update
from telegram.error import BadRequest

from bot.models import UserRef
from handlers.context import Context


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


async def answer_button(
    update: Update, text: str, keyboard: InlineKeyboardMarkup | None = None
) -> None:
    """After a button press, turn the message with the buttons into the answer, so that old
    buttons cannot be pressed twice; send a new message if the old one cannot be edited."""
    query = update.callback_query
    if query is None:
        await reply(update, text, keyboard)
        return
    await query.answer()
    try:
        await query.edit_message_text(text, reply_markup=keyboard)
    except BadRequest:
        # Too old to edit, deleted, or identical: the answer still has to reach the person.
        await reply(update, text, keyboard)
