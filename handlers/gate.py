"""Who is there: the roles the event file gives (before every other handler, in a negative
group), and whether a person can be reached at all."""

from __future__ import annotations

from telegram import ChatMember, Update
from telegram.constants import ChatType

from handlers.common import chat_site
from handlers.context import Context


async def note_contact(update: Update, context: Context) -> None:
    user = context.user
    chat = update.effective_chat
    if user is None or chat is None:
        return
    if chat.type == ChatType.PRIVATE:
        await context.services.access.note_contact(user)
    elif chat_site(update, context) is not None:
        # A facilitator listed in the event file may type their first command in the group.
        await context.services.access.note_contact(user, in_group=True)


async def blocked_or_back(update: Update, context: Context) -> None:
    """Telegram says at once when a person blocks the bot, and when they unblock it (which
    they must do before they can write again): later pushes are skipped, then sent again."""
    change = update.my_chat_member
    user = context.user
    if change is None or user is None or change.chat.type != ChatType.PRIVATE:
        return
    gone = change.new_chat_member.status in {ChatMember.BANNED, ChatMember.LEFT}
    await context.services.access.set_reachable(user, reachable=not gone)
