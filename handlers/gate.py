"""Who is there: the roles the event file gives (before every other handler, in a negative
group), and whether a person can be reached at all."""

from __future__ import annotations

from telegram import ChatMember, Update
from telegram.constants import ChatType

from bot.services.lostchats import REMOVED_FROM_GROUP
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
    they must do before they can write again): later pushes are skipped, then sent again.
    In a group it says when the bot was removed or added back: a site's facilitator chat is
    then given up (its cards go to the facilitators' private chats) or used again."""
    change = update.my_chat_member
    if change is None:
        return
    gone = change.new_chat_member.status in {ChatMember.BANNED, ChatMember.LEFT}
    if change.chat.type != ChatType.PRIVATE:
        lost_chats = context.services.lost_chats
        if gone:
            await lost_chats.gone(change.chat.id, REMOVED_FROM_GROUP)
        else:
            await lost_chats.back(change.chat.id)
        return
    user = context.user
    if user is not None:
        await context.services.access.set_reachable(user, reachable=not gone)
