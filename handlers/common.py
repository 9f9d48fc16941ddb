"""Small pieces every handler module uses: replying, refusing, answering a button.

Parse mode (HTML) and link previews (off) are application defaults set in `bot.app`.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from telegram import CallbackQuery, InlineKeyboardMarkup, Message, Update
from telegram.constants import ChatType
from telegram.error import BadRequest
from telegram.ext import CallbackQueryHandler

from bot.buttons import ButtonData
from bot.i18n import Markup
from bot.models import UserRef
from bot.services.access import (
    AllOnlyForOrganisers,
    NotCheckedIn,
    NotFacilitator,
    NotYourSite,
    Refusal,
    WhichSite,
)
from handlers.context import Context

log = logging.getLogger(__name__)

P = TypeVar("P", bound=ButtonData)
ButtonStep = Callable[[Update, Context, UserRef, P], Awaitable[None]]


async def reply(update: Update, text: str, keyboard: InlineKeyboardMarkup | None = None) -> None:
    """Answer in the chat the update came from."""
    chat = update.effective_chat
    if chat is not None:
        await chat.send_message(text, reply_markup=keyboard)


async def explain(update: Update, context: Context, text: str) -> None:
    """Answer a message that asked for nothing (a text, a sticker) with why nothing happened:
    once, not again to the same person within a minute while the sentence stays the same
    (`bot.services.pace.SaidOnce`). Never for a command, which asks for something; never
    for an acknowledgement (👍), which says something was stored."""
    user = context.user
    if user is not None and context.services.pace.said.first(user.user_id, text, context.arrived):
        await reply(update, text)


def chat_site(update: Update, context: Context) -> str | None:
    """The site whose facilitators' group chat (`facilitator_chat` in the event file) the
    update came from; None in a private chat. Commands there act on that site by default."""
    chat = update.effective_chat
    if chat is None or chat.type == ChatType.PRIVATE:
        return None
    sites = context.services.event.sites
    return next((site.key for site in sites if site.facilitator_chat == chat.id), None)


async def refuse(
    update: Update,
    context: Context,
    refusal: Refusal,
    *,
    not_facilitator: str = "facilitator.only",
) -> None:
    """Why the person cannot act on a site (`not_facilitator`: the sentence for a command
    that is not for them at all)."""
    texts, lang = context.services.texts, await context.lang()
    match refusal:
        case NotFacilitator():
            text = texts(lang, not_facilitator)
        case NotYourSite():
            text = texts(lang, "facilitator.not_your_site")
        case AllOnlyForOrganisers():
            text = texts(lang, "facilitator.all_only_organisers")
        case WhichSite(site_keys=keys):
            # The keys shown as what to type, after the command the person typed.
            command = _command_of(update) or "/now"
            typed = [f"<code>{html.escape(f'{command} {key}')}</code>" for key in keys]
            text = texts(lang, "facilitator.which_site", sites=Markup(", ".join(typed)))
        case NotCheckedIn(withdrawn=withdrawn):
            text = texts(lang, "where.withdrawn" if withdrawn else "checkin.not_checked_in")
    await reply(update, text)


def _command_of(update: Update) -> str | None:
    """The command a message starts with, without the bot's name ("/now@bot" → "/now")."""
    message = update.effective_message
    words = (message.text or "").split() if message is not None else []
    if not words or not words[0].startswith("/"):
        return None
    return words[0].split("@")[0]


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
    buttons cannot be pressed twice; send a new message if the old one cannot be edited. On a
    message that shows a photo, document or voice note, `text` becomes its caption."""
    query = update.callback_query
    if query is None:
        await reply(update, text, keyboard)
        return
    await answer_query(query)
    shown = query.message
    try:
        if isinstance(shown, Message) and shown.text is None and shown.effective_attachment:
            await query.edit_message_caption(text, reply_markup=keyboard)
        else:
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
    if context.user is None:
        await answer_query(query)
        return
    lang = await context.lang()
    await answer_query(query, context.services.texts.plain(lang, "buttons.stale"), alert=True)


class ButtonHandler(Generic[P]):
    """The callback for one action of `bot.buttons`, from a step that takes (update, context,
    user, what was pressed). The data is parsed before the step runs; data that does not
    parse as this action (forged, from an old version, oversized) gets the stale-button
    pop-up, so a step never checks its form again. The step still checks everything against
    the database: the data only says what was pressed. `handler()` is its entry in the
    handler list, listening to the action's pattern."""

    def __init__(self, pressed: type[P], step: ButtonStep[P]) -> None:
        self.pressed = pressed
        self._step = step
        self.__name__ = step.__name__
        self.__doc__ = step.__doc__

    async def __call__(self, update: Update, context: Context) -> None:
        user = context.user
        query = update.callback_query
        pressed = self.pressed.parse(query.data if query else None)
        if user is None or pressed is None:
            await stale_button(update, context)
            return
        await self._step(update, context, user, pressed)

    def handler(self) -> CallbackQueryHandler[Context, None]:
        return CallbackQueryHandler(self, pattern=self.pressed.pattern())


def button(pressed: type[P]) -> Callable[[ButtonStep[P]], ButtonHandler[P]]:
    """`@button(Vote)` above a step makes it the callback for the Vote action."""

    def wrap(step: ButtonStep[P]) -> ButtonHandler[P]:
        return ButtonHandler(pressed, step)

    return wrap
