"""Participants' journey in a private chat: check in, consent, table, language, help."""

from __future__ import annotations

from telegram import InlineKeyboardMarkup, Update

from bot.buttons import (
    Anonymity,
    Category,
    Consent,
    HelpMore,
    Language,
    Move,
    ResendUnknown,
    Table,
)
from bot.commands import Moment, all_for, essentials
from bot.event import Anonymity as AnonymityMode
from bot.event import Event
from bot.health import snapshot
from bot.i18n import Catalogue, clock
from bot.models import Role, UserRef
from bot.ports import DATABASE_LOST, DATABASE_READ_ONLY
from bot.services import Services
from bot.services.access import OnSite, Purpose
from bot.services.checkin import (
    AnonymityToggled,
    CheckedIn,
    ChooseAnonymity,
    ChooseCategory,
    ChooseTable,
    ConfirmMove,
    Declined,
    LockedOut,
    NeedCode,
    NeedConsent,
    NotCheckedIn,
    Outcome,
    RoleGranted,
    Stale,
    StayedAt,
    UnknownCode,
)
from bot.services.lostchats import REMOVED_FROM_GROUP
from handlers import keyboards, views
from handlers.common import (
    answer_button,
    button,
    chat_site,
    explain,
    refuse,
    reply,
    stale_button,
)
from handlers.context import Context


def _place(event: Event, lang: str, site_key: str, group_key: str | None) -> tuple[str, str]:
    site = event.site(site_key)
    if site is None:
        return site_key, group_key or ""
    group = site.group(group_key) if group_key else None
    default = event.default_language
    return site.name.get(lang, default), group.name.get(lang, default) if group else ""


def render(
    services: Services, lang: str, outcome: Outcome
) -> tuple[str, InlineKeyboardMarkup | None]:
    """One outcome of the check-in service → the text and buttons the person sees."""
    event, texts = services.event, services.texts
    default = event.default_language
    match outcome:
        case NeedCode():
            title = event.title.get(lang, default)
            return texts(lang, "checkin.need_code", event=title, code=event.example_code), None
        case UnknownCode(malformed=True):
            return texts(lang, "checkin.malformed_code", code=event.example_code), None
        case UnknownCode():
            return texts(lang, "checkin.unknown_code"), None
        case LockedOut(minutes=minutes):
            return texts(lang, "checkin.locked_out", minutes=minutes), None
        case RoleGranted(role=Role.ORGANISER, new=new):
            key = "role.organiser_new" if new else "role.organiser_already"
            return texts(lang, key, event=event.title.get(lang, default)), None
        case RoleGranted(site_key=site_key, new=new):
            site_name, _ = _place(event, lang, site_key or "", None)
            key = "role.facilitator_new" if new else "role.facilitator_already"
            return texts(lang, key, site=site_name), None
        case NeedConsent(site_key=site_key):
            site_name, _ = _place(event, lang, site_key, None)
            text = texts(
                lang,
                "checkin.consent",
                event=event.title.get(lang, default),
                site=site_name,
            )
            return text, keyboards.consent(texts, lang)
        case ChooseTable(site_key=site_key, current_group_key=current):
            site = event.site(site_key)
            assert site is not None  # noqa: S101 - the service only names known sites
            site_name, _ = _place(event, lang, site_key, None)
            return (
                texts(lang, "checkin.choose_table", site=site_name),
                keyboards.tables(site, lang, default, current),
            )
        case ChooseCategory():
            # The role stands next to inputs only where it replaces the name.
            shown = event.event.anonymity == AnonymityMode.ROLE_ONLY
            key = "checkin.choose_role_shown" if shown else "checkin.choose_role"
            return texts(lang, key), keyboards.categories(event, lang)
        case ChooseAnonymity():
            return texts(lang, "checkin.choose_anonymity"), keyboards.anonymity(texts, lang)
        case CheckedIn(site_key=site_key, group_key=group_key, already=already, moved_from=moved):
            site = event.site(site_key)
            site_name, table = _place(event, lang, site_key, group_key)
            angle = site.angle.get(lang, default) if site else ""
            if already:
                key = "checkin.already_table" if table else "checkin.already"
            elif moved:
                key = "checkin.moved_table" if table else "checkin.moved"
            else:
                key = "checkin.done_table" if table else "checkin.done"
            text = texts(
                lang,
                key,
                site=site_name,
                table=table,
                angle=angle,
                question=event.question.get(lang, default),
            )
            return text, None
        case ConfirmMove(from_site_key=from_key, to_site_key=to_key):
            from_name, _ = _place(event, lang, from_key, None)
            to_name, _ = _place(event, lang, to_key, None)
            return (
                texts(lang, "checkin.confirm_move", from_site=from_name, to_site=to_name),
                keyboards.move(texts, lang),
            )
        case StayedAt(site_key=site_key, group_key=group_key):
            site_name, table = _place(event, lang, site_key, group_key)
            return texts(lang, "checkin.stayed", site=site_name), None
        case Declined():
            return texts(lang, "checkin.declined"), None
        case NotCheckedIn(withdrawn=withdrawn):
            key = "where.withdrawn" if withdrawn else "checkin.not_checked_in"
            return texts(lang, key), None
        case Stale():
            return texts(lang, "buttons.stale"), None
    raise AssertionError(f"unrendered outcome {outcome!r}")  # pragma: no cover


async def _send_outcome(update: Update, context: Context, user: UserRef, outcome: Outcome) -> None:
    services = context.services
    lang = await context.lang()
    text, keyboard = render(services, lang, outcome)
    if isinstance(outcome, CheckedIn):
        plan = await services.agenda.plan(outcome.site_key)
        text += "\n\n" + views.programme_line(services, lang, plan, services.clock.now())
    if update.callback_query is not None and isinstance(outcome, Stale):
        await stale_button(update, context)
    elif update.callback_query is not None:
        await answer_button(update, text, keyboard)
    else:
        await reply(update, text, keyboard)
    if isinstance(outcome, CheckedIn) and not outcome.already:
        # A late joiner receives the item that is on now, after the confirmation.
        await services.agenda.catch_up(user.user_id)


async def start_command(update: Update, context: Context) -> None:
    """`/start` and `/start <code>` (the deep link in a QR code) and `/checkin <code>`."""
    user = context.user
    if user is None:
        return
    args = context.args or []
    code = args[0] if args else None
    if len(args) > 1 or (code is not None and len(code) > 64):
        outcome: Outcome = UnknownCode(malformed=True)
    else:
        outcome = await context.services.checkin.start(user, code)
    await _send_outcome(update, context, user, outcome)


async def checkin_command(update: Update, context: Context) -> None:
    if context.user is None:
        return
    if not context.args:
        lang = await context.lang()
        code = context.services.event.example_code
        await reply(update, context.services.texts(lang, "checkin.usage", code=code))
        return
    await start_command(update, context)


@button(Consent)
async def consent_button(
    update: Update, context: Context, user: UserRef, pressed: Consent
) -> None:
    checkin = context.services.checkin
    outcome = await (checkin.consent(user) if pressed.yes else checkin.decline(user))
    await _send_outcome(update, context, user, outcome)


@button(Table)
async def table_button(update: Update, context: Context, user: UserRef, pressed: Table) -> None:
    outcome = await context.services.checkin.choose_table(user, pressed.key)
    await _send_outcome(update, context, user, outcome)


@button(Category)
async def category_button(
    update: Update, context: Context, user: UserRef, pressed: Category
) -> None:
    outcome = await context.services.checkin.choose_category(user, pressed.key)
    await _send_outcome(update, context, user, outcome)


@button(Anonymity)
async def anonymity_button(
    update: Update, context: Context, user: UserRef, pressed: Anonymity
) -> None:
    outcome = await context.services.checkin.choose_anonymity(user, anonymous=pressed.anonymous)
    await _send_outcome(update, context, user, outcome)


async def anonymous_command(update: Update, context: Context) -> None:
    """`/anonymous`: switch between named and anonymous, where the event lets people choose."""
    user = context.user
    if user is None:
        return
    services = context.services
    lang = await context.lang()
    where = await services.checkin.where(user)
    if not where.complete or where.checkin is None:
        key = "where.withdrawn" if where.withdrawn else "checkin.not_checked_in"
        await reply(update, services.texts(lang, key))
        return
    outcome = await services.checkin.toggle_anonymity(user)
    match outcome:
        case AnonymityToggled(anonymous=anonymous, sent_as_before=sent):
            key = "anonymity.now_anonymous" if anonymous else "anonymity.now_named"
            text = services.texts(lang, key)
            if sent:
                after = "anonymity.sent_named" if anonymous else "anonymity.sent_anonymous"
                text = f"{text}\n\n{services.texts(lang, after)}"
            await reply(update, text)
        case NotCheckedIn():
            await reply(update, services.texts(lang, "checkin.not_checked_in"))
        case _:
            await reply(update, services.texts(lang, "anonymity.fixed"))


@button(Move)
async def move_button(update: Update, context: Context, user: UserRef, pressed: Move) -> None:
    outcome = await context.services.checkin.answer_move(user, accept=pressed.yes)
    await _send_outcome(update, context, user, outcome)


async def where_command(update: Update, context: Context) -> None:
    user = context.user
    if user is None:
        return
    services = context.services
    lang = await context.lang()
    where = await services.checkin.where(user)
    if where.withdrawn:
        await reply(update, services.texts(lang, "where.withdrawn"))
        return
    if where.checkin is None:
        await reply(update, services.texts(lang, "where.nowhere"))
        return
    if not where.consented:
        await reply(update, services.texts(lang, "where.no_consent"))
        return
    site = services.event.site(where.checkin.site_key)
    site_name, table = _place(
        services.event, lang, where.checkin.site_key, where.checkin.group_key
    )
    venue = site.venue.get(lang, services.event.default_language) if site else ""
    key = "where.at_table" if table else "where.at"
    text = services.texts(lang, key, site=site_name, venue=venue, table=table)
    plan = await services.agenda.plan(where.checkin.site_key)
    line = views.programme_line(services, lang, plan, services.clock.now())
    await reply(update, f"{text}\n\n{line}")


async def agenda_command(update: Update, context: Context) -> None:
    """The programme of the person's site (or of the site named), the current item marked,
    times as delayed."""
    user = context.user
    if user is None:
        return
    services = context.services
    place = await services.access.site_for(
        user, context.args or [], Purpose.PROGRAMME, chat_site=chat_site(update, context)
    )
    if not isinstance(place, OnSite):
        await refuse(update, context, place)
        return
    plan = await services.agenda.plan(place.site_key)
    lang = await context.lang()
    await reply(update, views.programme(services, lang, plan, services.clock.now()))


async def switch_command(update: Update, context: Context) -> None:
    user = context.user
    if user is None:
        return
    await _send_outcome(update, context, user, await context.services.checkin.switch(user))


async def language_command(update: Update, context: Context) -> None:
    user = context.user
    if user is None:
        return
    texts = context.services.texts
    lang = await context.lang()
    if context.args:
        choice = context.args[0].lower()[:8]
        if await context.services.access.set_language(user, choice):
            await reply(update, texts(choice, "language.set"))
            return
    await reply(update, texts(lang, "language.choose"), keyboards.languages(texts))


@button(Language)
async def language_button(
    update: Update, context: Context, user: UserRef, pressed: Language
) -> None:
    texts = context.services.texts
    if await context.services.access.set_language(user, pressed.code):
        await answer_button(update, texts(pressed.code, "language.set"))
    else:
        await answer_button(update, texts(await context.lang(), "buttons.stale"))


async def _moment(context: Context, user: UserRef) -> Moment:
    services = context.services
    rights = await services.access.rights(user)
    checked_in = rights.any or (await services.checkin.where(user)).complete
    return Moment.of(rights.role, checked_in=checked_in)


async def help_command(update: Update, context: Context) -> None:
    """`/help`: the few commands of the person's moment, the rest behind "more";
    `/help all`: every command they may use."""
    user = context.user
    if user is None:
        return
    services = context.services
    lang = await context.lang()
    moment = await _moment(context, user)
    if [word.lower() for word in context.args or []] == ["all"]:
        await reply(update, help_text(services.texts, lang, moment, everything=True))
        return
    text = help_text(services.texts, lang, moment, everything=False)
    await reply(update, text, keyboards.help_more(services.texts, lang))


@button(HelpMore)
async def help_more_button(
    update: Update, context: Context, user: UserRef, pressed: HelpMore
) -> None:
    lang = await context.lang()
    moment = await _moment(context, user)
    await answer_button(update, help_text(context.services.texts, lang, moment, everything=True))


def help_text(texts: Catalogue, lang: str, moment: Moment, *, everything: bool) -> str:
    lines = [texts(lang, f"help.{moment.value}")]
    commands = all_for(moment) if everything else essentials(moment)
    lines += [f"/{c.name} — {texts(lang, c.description_key)}" for c in commands]
    if not everything:
        lines.append(texts(lang, "help.more"))
    return "\n".join(lines)


async def health_command(update: Update, context: Context) -> None:
    """Organisers: queue depths, last delivery and event-loop stalls."""
    user = context.user
    if user is None:
        return
    services = context.services
    lang = await context.lang()
    if not (await services.access.rights(user)).organiser:
        await reply(update, services.texts(lang, "health.only_organisers"))
        return
    figures = await snapshot(services)
    last = (
        clock(lang, figures.last_delivery.astimezone(services.event.tz), seconds=True)
        if figures.last_delivery
        else services.texts(lang, "status.nothing")
    )
    # A database that takes no writes comes first: it is why nothing else adds up.
    warning = {
        DATABASE_READ_ONLY: "health.database_read_only",
        DATABASE_LOST: "health.database_lost",
    }
    stopped = [services.texts(lang, warning[figures.database])] if figures.database else []
    await reply(
        update,
        "\n\n".join(
            [
                *stopped,
                services.texts(
                    lang,
                    "health.report",
                    inbox=figures.inbox_pending,
                    quarantined=figures.inbox_quarantined,
                    outbox=figures.outbox_pending,
                    unknown=figures.outbox_unknown,
                    failed=figures.outbox_failed,
                    last=last,
                    stall=figures.stall_ms,
                    stall_ever=figures.stall_ms_ever,
                ),
            ]
        ),
    )
    lost = [
        services.texts(
            lang,
            "health.chat_moved" if chat.moved_to is not None else "health.chat_lost",
            site=site.name.get(lang, services.event.default_language),
            chat=str(chat.chat_id),
            new=str(chat.moved_to),
            time=chat.since.astimezone(services.event.tz),
            reason=(
                services.texts.plain(lang, "health.removed_from_group")
                if chat.reason == REMOVED_FROM_GROUP
                else chat.reason
            ),
        )
        for site, chat in await services.lost_chats.lost()
    ]
    if lost:
        await reply(update, "\n".join(lost))
    # Copies whose outcome is unknown are never sent again on their own (they may have
    # arrived); the organiser may, knowing that some may then arrive twice.
    unknown = await services.delivery.unknown_to_resend()
    if unknown:
        await reply(
            update,
            services.texts(lang, "delivery.unknown_offer", count=unknown),
            keyboards.resend_unknown(services.texts, lang),
        )


@button(ResendUnknown)
async def resend_unknown_button(
    update: Update, context: Context, user: UserRef, pressed: ResendUnknown
) -> None:
    services = context.services
    lang = await context.lang()
    # Rights are looked up again now: the button only says what was pressed.
    if not (await services.access.rights(user)).organiser:
        await answer_button(update, services.texts(lang, "health.only_organisers"))
        return
    count = await services.delivery.resend_unknown()
    key = "delivery.resent" if count else "delivery.nothing_to_resend"
    await answer_button(update, services.texts(lang, key, count=count))


async def unknown_command(update: Update, context: Context) -> None:
    if context.user is None:
        return
    lang = await context.lang()
    await reply(update, context.services.texts(lang, "fallback.unknown_command"))


async def other_message(update: Update, context: Context) -> None:
    """Messages no other handler took. Until inputs are collected, say so honestly."""
    user = context.user
    if user is None:
        return
    services = context.services
    lang = await context.lang()
    where = await services.checkin.where(user)
    key = "fallback.checked_in" if where.complete else "fallback.not_checked_in"
    if where.withdrawn:
        key = "where.withdrawn"
    await explain(update, context, services.texts(lang, key))
