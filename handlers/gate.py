"""Who is there and how fast: the per-person pace for commands and presses and the roles the
event file gives (before every other handler, in negative groups), and whether a person can
be reached at all."""

from __future__ import annotations

from telegram import ChatMember, Update
from telegram.constants import ChatType
from telegram.ext import ApplicationHandlerStop

from bot.services.lostchats import REMOVED_FROM_GROUP
from bot.services.pace import Refused
from handlers.common import answer_query, chat_site, reply
from handlers.context import Context


async def pace(update: Update, context: Context) -> None:
    """A command or a button press over the person's pace is not handled: the first gets one
    notice, the rest nothing. A press is still answered (without text), so the phone's spinner
    stops: answerCallbackQuery puts nothing in a chat and takes none of Telegram's 30 places a
    second. The notice for a press is its pop-up, for a command a message.

    Facilitators' and organisers' presses have a larger pace (`PaceGate.admit_press`)."""
    user = context.user
    if user is None:
        return
    services, query = context.services, update.callback_query

    async def holds_role() -> bool:
        return (await services.access.rights(user)).any

    verdict = (
        await services.pace.admit_press(user.user_id, context.arrived, holds_role)
        if query is not None
        else services.pace.admit(user.user_id, context.arrived)
    )
    if not isinstance(verdict, Refused):
        return
    text = (
        context.services.texts(await context.lang(), "pace.slow_down") if verdict.notice else None
    )
    if query is not None:
        await answer_query(query, text)
    elif text is not None:
        await reply(update, text)
    raise ApplicationHandlerStop


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
