"""Facilitators keep their site's programme on time; organisers may act on any site.

Every command goes through `_guarded`: the access service resolves the site the command acts
on (`AccessService.site_for`, the same precedence as /agenda and /inputs) and checks the
person's rights at the moment of use, so each handler below is only its own step.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Literal, cast

from telegram import Update
from telegram.ext import JobQueue

from bot.buttons import BroadcastChoice
from bot.event import Event
from bot.i18n import telegram_length
from bot.models import UserRef
from bot.services.access import OnSite, OnSites, Purpose, Rights
from bot.services.agenda import Advanced, NothingAhead, PausedNow, Resumed, Shifted
from bot.services.broadcast import AlreadyDone, Cancelled, Drafted, NotAllowed, Queued, TooLong
from handlers import jobs, keyboards, views
from handlers.common import answer_button, answer_query, button, chat_site, refuse, reply
from handlers.context import Context

_DELAY = re.compile(r"^[+-]?\d{1,3}$")
_HEAD = re.compile(r"^(\S+)\s*(.*)$", re.DOTALL)
_NUMBERED = re.compile(r"^(\D*?)[-_]?\d+$")  # a stem and a number: t9, bord-3, 12
MAX_DELAY_MINUTES = 180
MAX_PROMPT = 3500


@dataclass(frozen=True, slots=True)
class Call:
    """A facilitator command that passed the guard."""

    user: UserRef
    site_key: str | None  # None only for `/broadcast all`
    words: list[str]  # the arguments after the site, if one was named
    text: str  # the same as free text, line breaks kept
    rights: Rights
    lang: str

    @property
    def site(self) -> str:
        assert self.site_key is not None  # noqa: S101 - only broadcasts allow "all"
        return self.site_key


Step = Callable[[Update, Context, Call], Awaitable[None]]
Handler = Callable[[Update, Context], Coroutine[Any, Any, None]]


def _guarded(
    purpose: Literal[Purpose.FACILITATE, Purpose.BROADCAST] = Purpose.FACILITATE,
    *,
    site_last: bool = False,
) -> Callable[[Step], Handler]:
    """`site_last`: the site may also be named after the arguments (`/delay 10 aalborg`, as
    well as `/delay aalborg 10`)."""

    def wrap(step: Step) -> Handler:
        async def handler(update: Update, context: Context) -> None:
            user = context.user
            if user is None:
                return
            args = context.args or []
            event = context.services.event
            if (
                site_last
                and len(args) > 1
                and event.site(args[0].lower()) is None
                and event.site(args[-1].lower()) is not None
            ):
                args = [args[-1], *args[:-1]]
            place = await context.services.access.site_for(
                user, args, purpose, chat_site=chat_site(update, context)
            )
            if not isinstance(place, OnSite | OnSites):
                await refuse(update, context, place)
                return
            # The site's key, or `all` (None), as first word: the command's own text follows.
            named = place.named if isinstance(place, OnSite) else True
            site_key = place.site_key if isinstance(place, OnSite) else None
            text = _command_text(update)
            call = Call(
                user,
                site_key,
                args[1 if named else 0 :],
                _first_word(text)[1] if named else text,
                place.rights,
                await context.lang(),
            )
            await step(update, context, call)

        handler.__name__ = step.__name__
        handler.__doc__ = step.__doc__
        return handler

    return wrap


def _command_text(update: Update) -> str:
    """What follows the command, line breaks kept (context.args would fold them)."""
    message = update.effective_message
    text = (message.text or "") if message else ""
    parts = text.split(maxsplit=1)
    return parts[1].strip() if len(parts) > 1 else ""


def _first_word(text: str) -> tuple[str | None, str]:
    match = _HEAD.match(text)
    return (match.group(1), match.group(2).strip()) if match else (None, "")


@_guarded()
async def now_command(update: Update, context: Context, call: Call) -> None:
    services = context.services
    state = await services.agenda.status(call.site)
    await reply(update, views.status(services, services.texts, call.lang, state))


@_guarded()
async def next_command(update: Update, context: Context, call: Call) -> None:
    services = context.services
    outcome = await services.agenda.advance(call.site, call.user.user_id)
    if isinstance(outcome, NothingAhead):
        await reply(update, services.texts(call.lang, "facilitator.nothing_ahead"))
    elif isinstance(outcome, Advanced):
        title = outcome.item.title.get(call.lang, services.event.default_language)
        await reply(
            update,
            services.texts(call.lang, "facilitator.advanced", title=title, count=outcome.notified),
        )


@_guarded(site_last=True)
async def delay_command(update: Update, context: Context, call: Call) -> None:
    services, words = context.services, call.words
    if (
        len(words) != 1
        or not _DELAY.match(words[0])
        or not 0 < abs(int(words[0])) <= MAX_DELAY_MINUTES
    ):
        await reply(update, services.texts(call.lang, "facilitator.delay_usage"))
        return
    outcome = await services.agenda.delay(call.site, int(words[0]), call.user.user_id)
    if isinstance(outcome, NothingAhead):
        await reply(update, services.texts(call.lang, "facilitator.nothing_ahead"))
    elif isinstance(outcome, PausedNow):
        await reply(update, services.texts(call.lang, "facilitator.delay_paused"))
    elif isinstance(outcome, Advanced):
        title = outcome.item.title.get(call.lang, services.event.default_language)
        await reply(
            update,
            services.texts(call.lang, "facilitator.advanced", title=title, count=outcome.notified),
        )
    elif isinstance(outcome, Shifted):
        await reply(
            update,
            services.texts(
                call.lang,
                "facilitator.delayed" if outcome.seconds >= 0 else "facilitator.brought_forward",
                minutes=round(abs(outcome.seconds) / 60),
                title=outcome.next_item.title.get(call.lang, services.event.default_language),
                time=views.local_time(outcome.next_start, services),
                count=outcome.notified,
            ),
        )


@_guarded()
async def pause_command(update: Update, context: Context, call: Call) -> None:
    outcome = await context.services.agenda.pause(call.site, call.user.user_id)
    key = "facilitator.paused" if outcome.changed else "facilitator.already_paused"
    await reply(update, context.services.texts(call.lang, key))


@_guarded()
async def resume_command(update: Update, context: Context, call: Call) -> None:
    services = context.services
    texts, default = services.texts, services.event.default_language
    outcome = await services.agenda.resume(call.site, call.user.user_id)
    if not isinstance(outcome, Resumed):
        text = texts(call.lang, "facilitator.not_paused")
    elif outcome.started is not None:
        text = texts(
            call.lang,
            "facilitator.resumed_started",
            title=outcome.started.title.get(call.lang, default),
            count=outcome.notified,
        )
    elif outcome.next_item is not None and outcome.next_start is not None:
        text = texts(
            call.lang,
            "facilitator.resumed_next",
            title=outcome.next_item.title.get(call.lang, default),
            time=views.local_time(outcome.next_start, services),
        )
    else:
        text = texts(call.lang, "facilitator.resumed")
    await reply(update, text)


@_guarded()
async def prompt_command(update: Update, context: Context, call: Call) -> None:
    """`/prompt [site] [table] <question>`: an ad-hoc prompt, open until the next item."""
    services = context.services
    site = services.event.site(call.site)
    assert site is not None  # noqa: S101 - the guard returns a site of the event
    text, group_key = call.text, None
    first, rest = _first_word(text)
    wanted = (first or "").lower()
    group = site.group(wanted) or next((g for g in site.groups if g.code.lower() == wanted), None)
    if group is not None:
        group_key, text = group.key, rest
    elif looks_like_a_table(services.event, wanted):
        # `/prompt t9 …` with no table t9 here: a typo, not the question's first word. Sent
        # to the whole site it would misfire silently; said back, it costs one more line.
        default = services.event.default_language
        tables = ", ".join(f"{g.key} ({g.name.get(call.lang, default)})" for g in site.groups)
        await reply(
            update,
            services.texts(
                call.lang,
                "facilitator.no_such_table",
                table=first,
                site=site.name.get(call.lang, default),
                tables=tables or "–",
            ),
        )
        return
    if not text:
        await reply(update, services.texts(call.lang, "facilitator.prompt_usage"))
        return
    if telegram_length(text) > MAX_PROMPT:
        await reply(update, services.texts(call.lang, "facilitator.too_long", limit=MAX_PROMPT))
        return
    outcome = await services.agenda.open_adhoc(call.site, group_key, text, call.user.user_id)
    default = services.event.default_language
    where = group.name.get(call.lang, default) if group else site.name.get(call.lang, default)
    await reply(
        update,
        services.texts(
            call.lang, "facilitator.prompt_opened", where=where, count=outcome.notified
        ),
    )


def looks_like_a_table(event: Event, word: str) -> bool:
    """Whether a question's first word reads as a table's key: the key or code of a table at
    any site of the event, or the event's pattern of table keys (`t9` where tables are `t1`,
    `t2` …; `9` where they are numbered)."""
    if not word:
        return False
    stems: set[str] = set()
    for site in event.sites:
        for group in site.groups:
            if word in (group.key.lower(), group.code.lower()):
                return True
            numbered = _NUMBERED.match(group.key.lower())
            if numbered:
                stems.add(numbered.group(1))
    numbered = _NUMBERED.match(word)
    return numbered is not None and numbered.group(1) in stems


@_guarded()
async def close_command(update: Update, context: Context, call: Call) -> None:
    closed = await context.services.agenda.close_adhoc(call.site)
    key = "facilitator.closed" if closed else "facilitator.nothing_to_close"
    await reply(update, context.services.texts(call.lang, key))


@_guarded(Purpose.BROADCAST)
async def broadcast_command(update: Update, context: Context, call: Call) -> None:
    """`/broadcast [site|all] <text>`: a preview with Send and Cancel buttons."""
    services, lang = context.services, call.lang
    if not call.text:
        await reply(update, services.texts(lang, "facilitator.broadcast_usage"))
        return
    outcome = await services.broadcast.draft(
        call.user.user_id, call.rights, call.site_key, call.text
    )
    if isinstance(outcome, TooLong):
        await reply(update, services.texts(lang, "facilitator.too_long", limit=outcome.limit))
    elif isinstance(outcome, NotAllowed):
        await reply(update, services.texts(lang, "facilitator.not_your_site"))
    elif isinstance(outcome, Drafted):
        site = services.event.site(call.site_key) if call.site_key else None
        where = (
            site.name.get(lang, services.event.default_language)
            if site
            else services.texts(lang, "facilitator.all_sites")
        )
        await reply(
            update,
            services.texts.fit(
                lang,
                "facilitator.broadcast_preview",
                where=where,
                count=outcome.recipients,
                text=outcome.broadcast.text,
            ),
            keyboards.broadcast(services.texts, lang, outcome.broadcast.id),
        )


@_guarded()
async def relay_command(update: Update, context: Context, call: Call) -> None:
    """`/relay [site] <text>`: a greeting from the facilitator's site to the other sites."""
    services, lang = context.services, call.lang
    if not call.text:
        site = services.event.site(call.site_key) if call.site_key else None
        name = site.name.get(lang, services.event.default_language) if site else ""
        await reply(update, services.texts(lang, "facilitator.relay_usage", site=name))
        return
    outcome = await services.broadcast.draft(
        call.user.user_id, call.rights, call.site, call.text, kind="greeting"
    )
    if isinstance(outcome, TooLong):
        await reply(update, services.texts(lang, "facilitator.too_long", limit=outcome.limit))
    elif isinstance(outcome, NotAllowed):
        await reply(update, services.texts(lang, "facilitator.not_your_site"))
    elif isinstance(outcome, Drafted):
        await reply(
            update,
            services.texts.fit(
                lang,
                "facilitator.broadcast_preview",
                where=services.texts(lang, "facilitator.other_sites"),
                count=outcome.recipients,
                text=outcome.broadcast.text,
            ),
            keyboards.broadcast(services.texts, lang, outcome.broadcast.id),
        )


@button(BroadcastChoice)
async def broadcast_button(
    update: Update, context: Context, user: UserRef, pressed: BroadcastChoice
) -> None:
    query = update.callback_query
    assert query is not None  # noqa: S101 - a button handler
    services = context.services
    lang = await context.lang()
    broadcast_id = pressed.broadcast_id
    # Rights are looked up again now: the button only says what was pressed.
    rights = await services.access.rights(user)
    outcome: Queued | Cancelled | NotAllowed | AlreadyDone
    if pressed.send:
        outcome = await services.broadcast.confirm(user.user_id, rights, broadcast_id)
    else:
        outcome = await services.broadcast.cancel(user.user_id, broadcast_id)
    if isinstance(outcome, Queued):
        await answer_button(
            update, services.texts(lang, "facilitator.broadcast_sent", count=outcome.recipients)
        )
        if query.message is not None:
            watch = jobs.BroadcastWatch(
                outcome.broadcast.id, query.message.chat.id, query.message.message_id, lang
            )
            jobs.watch_broadcast(cast("JobQueue[Context] | None", context.job_queue), watch)
    elif isinstance(outcome, Cancelled):
        await answer_button(update, services.texts(lang, "facilitator.broadcast_cancelled"))
    elif isinstance(outcome, AlreadyDone) or rights.organiser or rights.facilitator_sites:
        # Done before, or someone else's draft: the presser's rights are not the question.
        await answer_query(query, services.texts.plain(lang, "buttons.stale"), alert=True)
    else:
        await answer_query(query, services.texts.plain(lang, "facilitator.only"), alert=True)
