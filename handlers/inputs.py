"""Participants' inputs: messages in, 👍 out; /mine, /undo, /inputs, /quiet, votes, the feed."""

from __future__ import annotations

import logging
from datetime import timedelta

from telegram import InlineKeyboardMarkup, Message, Update
from telegram.constants import ChatType
from telegram.error import TelegramError

from bot.buttons import Moderate, RelayReaction, Vote, WithdrawInput
from bot.models import IncomingMessage, Input, InputKind, UserRef
from bot.services import Services
from bot.services.access import OnSite, Purpose
from bot.services.authors import author_label
from bot.services.inputs import (
    Duplicate,
    Edited,
    Flooded,
    Moderated,
    NoOpenPrompt,
    NotAllowed,
    NotCheckedIn,
    PromptView,
    Stored,
    Voted,
    Withdrawn,
)
from bot.services.relay import Reacted
from handlers import keyboards, views
from handlers.common import (
    answer_button,
    answer_query,
    button,
    chat_site,
    explain,
    refuse,
    reply,
)
from handlers.context import Context

log = logging.getLogger(__name__)

ACK = "👍"
PREVIEW = 160  # characters of an input shown in lists


def incoming(update: Update, message: Message) -> IncomingMessage | None:
    """The parts of a Telegram message an input keeps; None for kinds that are not inputs."""
    caption = message.caption or ""
    kind: InputKind
    file_id = unique = name = mime = None
    duration: int | None = None
    if message.text is not None:
        kind, caption = InputKind.TEXT, message.text
    elif message.photo:
        kind, largest = InputKind.PHOTO, message.photo[-1]
        file_id, unique = largest.file_id, largest.file_unique_id
    elif message.document is not None:
        kind, doc = InputKind.DOCUMENT, message.document
        file_id, unique, name, mime = doc.file_id, doc.file_unique_id, doc.file_name, doc.mime_type
    elif message.voice is not None:
        kind, voice = InputKind.VOICE, message.voice
        file_id, unique, mime = voice.file_id, voice.file_unique_id, voice.mime_type
        length = voice.duration
        duration = int(length.total_seconds()) if isinstance(length, timedelta) else int(length)
    else:
        return None
    return IncomingMessage(
        chat_id=message.chat.id,
        message_id=message.message_id,
        update_id=update.update_id,
        kind=kind,
        text=caption,
        file_id=file_id,
        file_unique_id=unique,
        file_name=name,
        mime_type=mime,
        duration=duration,
    )


async def message_input(update: Update, context: Context) -> None:
    """Any plain message, photo, document or voice note in a private chat."""
    user = context.user
    message = update.effective_message
    if user is None or message is None:
        return
    item = incoming(update, message)
    if item is None:
        return
    services = context.services
    outcome = await services.inputs.receive(user, item)
    if isinstance(outcome, Stored | Duplicate):
        # Only now, after the commit: an acknowledged input is never lost.
        await _acknowledge(message, context)
        return
    lang = await context.lang()
    match outcome:
        case NotCheckedIn():
            withdrawn = (await services.checkin.where(user)).withdrawn
            key = "where.withdrawn" if withdrawn else "fallback.not_checked_in"
            await explain(update, context, services.texts(lang, key))
        case NoOpenPrompt(next_item=nxt, next_start=start) if nxt is not None and start:
            await explain(
                update,
                context,
                services.texts(
                    lang,
                    "inputs.no_prompt",
                    title=nxt.title.get(lang, services.event.default_language),
                    time=views.local_time(start, services),
                ),
            )
        case NoOpenPrompt():
            await explain(update, context, services.texts(lang, "inputs.no_prompt_today"))
        case Flooded(warn=True):
            await explain(update, context, services.texts(lang, "inputs.slow_down"))
        case Flooded():
            pass


async def _acknowledge(message: Message, context: Context) -> None:
    try:
        await message.set_reaction(ACK)
    except TelegramError:
        # Reactions can be switched off; a short reply says the same.
        await message.reply_text(context.services.texts(await context.lang(), "inputs.saved"))


async def edited_input(update: Update, context: Context) -> None:
    """An edited message updates its input; the earlier text is kept in its history."""
    user = context.user
    message = update.edited_message
    if user is None or message is None:
        return
    text = message.text if message.text is not None else message.caption
    if text is None:
        return
    outcome = await context.services.inputs.edit(user, message.chat.id, message.message_id, text)
    if isinstance(outcome, Edited):
        log.info("input %s edited", outcome.input.id)


async def unsupported_message(update: Update, context: Context) -> None:
    """Stickers, locations, contacts, polls, dice, video: ask for text instead."""
    if context.user is None:
        return
    lang = await context.lang()
    await explain(update, context, context.services.texts(lang, "inputs.as_text"))


def _preview(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= PREVIEW else flat[: PREVIEW - 1].rstrip() + "…"


def _about(services: Services, lang: str, item: Input) -> str:
    prompt = services.event.item(item.item_key) if item.item_key else None
    if prompt is not None:
        return prompt.title.get(lang, services.event.default_language)
    return services.texts.plain(lang, "feed.adhoc" if item.adhoc_id else "feed.general")


def _mine_view(
    services: Services, lang: str, items: list[Input], total: int
) -> tuple[str, InlineKeyboardMarkup | None]:
    texts = services.texts
    if not items:
        return texts(lang, "inputs.mine_empty"), None
    lines = [texts(lang, "inputs.mine_heading", count=total)]
    for n, item in enumerate(items, 1):
        body = item.text or texts.plain(lang, f"feed.kind_{item.kind.value}")
        lines.append(
            texts(
                lang,
                "inputs.mine_line",
                n=n,
                time=views.local_time(item.created_at, services),
                about=_about(services, lang, item),
                text=_preview(body),
            )
        )
    buttons = [
        (texts.plain(lang, "inputs.withdraw_button", n=n), WithdrawInput(item.id))
        for n, item in enumerate(items, 1)
    ]
    return "\n".join(lines), keyboards.markup(keyboards.in_rows(buttons, 4))


async def mine_command(update: Update, context: Context) -> None:
    user = context.user
    if user is None:
        return
    services = context.services
    lang = await context.lang()
    items, total = await services.inputs.mine(user, limit=10)
    text, keyboard = _mine_view(services, lang, items, total)
    await reply(update, text, keyboard)


async def undo_command(update: Update, context: Context) -> None:
    user = context.user
    if user is None:
        return
    await _withdraw(update, context, user, None)


@button(WithdrawInput)
async def withdraw_button(
    update: Update, context: Context, user: UserRef, pressed: WithdrawInput
) -> None:
    await _withdraw(update, context, user, pressed.input_id)


async def _withdraw(update: Update, context: Context, user: UserRef, input_id: int | None) -> None:
    services = context.services
    lang = await context.lang()
    outcome = await services.inputs.withdraw(user, input_id)
    if isinstance(outcome, Withdrawn):
        body = outcome.input.text or services.texts.plain(
            lang, f"feed.kind_{outcome.input.kind.value}"
        )
        done = services.texts(lang, "inputs.withdrawn", text=_preview(body))
    else:
        done = services.texts(lang, "inputs.nothing_to_withdraw")
    if update.callback_query is None:
        await reply(update, done)
        return
    # Under /mine: show the list as it is now, with what happened on top.
    items, total = await services.inputs.mine(user, limit=10)
    text, keyboard = _mine_view(services, lang, items, total)
    await answer_button(update, f"{done}\n\n{text}", keyboard)


def _view_text(
    services: Services, lang: str, view: PromptView, *, facilitator: bool
) -> tuple[str, InlineKeyboardMarkup | None]:
    texts, event = services.texts, services.event
    if view.prompt is None:
        return texts(lang, "inputs.view_none"), None
    site = event.site(view.site_key)
    default = event.default_language
    lines = [
        texts(
            lang,
            "inputs.view_heading",
            title=view.title,
            site=site.name.get(lang, default) if site else view.site_key,
        )
    ]
    if not view.items:
        lines.append(texts(lang, "inputs.view_empty"))
    for n, item in enumerate(view.items, 1):
        body = item.text or texts.plain(lang, f"feed.kind_{item.kind.value}")
        lines.append(
            texts(
                lang,
                "inputs.view_line",
                n=n,
                author=author_label(event, texts, lang, item),
                text=_preview(body),
                votes=item.votes,
            )
        )
    if facilitator and site is not None:
        counts = ", ".join(
            f"{g.name.get(lang, default)}: {view.counts.get(g.key, 0)}" for g in site.groups
        )
        lines.append(texts(lang, "inputs.view_counts", counts=counts))
    buttons = [
        (("✅ " if item.id in view.my_votes else "👍 ") + str(n), Vote(item.id))
        for n, item in enumerate(view.items, 1)
    ]
    return "\n".join(lines), keyboards.markup(keyboards.in_rows(buttons, 5)) if buttons else None


async def inputs_command(update: Update, context: Context) -> None:
    """The latest inputs of the site for the prompt open now (participants vote here)."""
    user = context.user
    if user is None:
        return
    services = context.services
    place = await services.access.site_for(
        user, context.args or [], Purpose.INPUTS, chat_site=chat_site(update, context)
    )
    if not isinstance(place, OnSite):
        await refuse(update, context, place)
        return
    lang = await context.lang()
    view = await services.inputs.view(user, place.site_key, lang)
    text, keyboard = _view_text(services, lang, view, facilitator=place.facilitator)
    await reply(update, text, keyboard)


@button(Vote)
async def vote_button(update: Update, context: Context, user: UserRef, pressed: Vote) -> None:
    query = update.callback_query
    assert query is not None  # noqa: S101 - a button handler
    services = context.services
    lang = await context.lang()
    outcome = await services.inputs.vote(user, pressed.input_id)
    if not isinstance(outcome, Voted):
        await answer_query(query, services.texts.plain(lang, "inputs.cannot_vote"), alert=True)
        return
    view = await services.inputs.view(user, outcome.input.site_key, lang)
    rights = await services.access.rights(user)
    text, keyboard = _view_text(
        services, lang, view, facilitator=rights.may_facilitate(outcome.input.site_key)
    )
    await answer_button(update, text, keyboard)


async def quiet_command(update: Update, context: Context) -> None:
    """Tables with no input for the current prompt, so the facilitator can go and help."""
    user = context.user
    if user is None:
        return
    services = context.services
    place = await services.access.site_for(
        user, context.args or [], Purpose.FACILITATE, chat_site=chat_site(update, context)
    )
    if not isinstance(place, OnSite):
        await refuse(update, context, place)
        return
    lang = await context.lang()
    questions = await services.inputs.quiet(place.site_key, lang)
    if not questions:
        await reply(update, services.texts(lang, "inputs.view_none"))
        return
    site = services.event.site(place.site_key)
    default = services.event.default_language
    names = {g.key: g.name.get(lang, default) for g in (site.groups if site else [])}
    lines = []
    for question in questions:
        if question.quiet:
            tables = ", ".join(names[key] for key in question.quiet)
            lines.append(
                services.texts(lang, "inputs.quiet", title=_preview(question.title), tables=tables)
            )
        elif len(question.tables) < len(names):
            # A table's own question: "every table" would overstate it.
            tables = ", ".join(names[key] for key in question.tables)
            lines.append(
                services.texts(
                    lang, "inputs.quiet_answered", title=_preview(question.title), tables=tables
                )
            )
        else:
            lines.append(services.texts(lang, "inputs.quiet_none", title=_preview(question.title)))
    await reply(update, "\n".join(lines))


@button(Moderate)
async def moderate_button(
    update: Update, context: Context, user: UserRef, pressed: Moderate
) -> None:
    """⭐ / 🙈 / ↩ under a feed card; the presser's rights are checked now, in the database."""
    query = update.callback_query
    assert query is not None  # noqa: S101 - a button handler
    services = context.services
    lang = await context.lang()
    rights = await services.access.rights(user)
    outcome = await services.inputs.moderate(user, rights, pressed.input_id, pressed.what)
    if isinstance(outcome, NotAllowed):
        await answer_query(
            query, services.texts.plain(lang, "facilitator.not_your_site"), alert=True
        )
        return
    if not isinstance(outcome, Moderated):
        await answer_query(query, services.texts.plain(lang, "buttons.stale"), alert=True)
        return
    # The card is shared in a group chat: it stays in the event's language, not the presser's.
    chat = update.effective_chat
    private = chat is not None and chat.type == ChatType.PRIVATE
    card_lang = lang if private else services.event.default_language
    card = services.inputs.feed_card(outcome.input, card_lang, outcome.review)
    await answer_button(update, card.text, keyboards.markup(card.buttons))


@button(RelayReaction)
async def relay_reaction_button(
    update: Update, context: Context, user: UserRef, pressed: RelayReaction
) -> None:
    """👍 under a highlight relayed from another site."""
    query = update.callback_query
    assert query is not None  # noqa: S101 - a button handler
    services = context.services
    lang = await context.lang()
    outcome = await services.relay.react(user, pressed.input_id)
    if isinstance(outcome, Reacted):
        key = "relay.reacted" if outcome.on else "relay.unreacted"
        await answer_query(query, services.texts.plain(lang, key))
    else:
        await answer_query(query, services.texts.plain(lang, "buttons.stale"), alert=True)
