"""`/export` and `/stats`: the day's material as files, and participation figures right now.

Organisers get every site (or the one they name), facilitators their own site; everyone else
a polite refusal. `/export` is registered with `block=False`: PTB runs it as a task of its
own, so the bot goes on answering other updates while the files are made and sent.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from telegram import Update

from bot.export import ALL_FORMATS, CHAT_FORMATS
from bot.export.fields import Presenter, percent
from bot.export.outline import prompts_of, site_keys
from bot.export.records import Participation
from bot.models import UserRef
from bot.services.access import OnSites, Purpose
from handlers.common import chat_site, refuse, reply
from handlers.context import Context

# Telegram accepts documents of up to 50 MB from bots.
DOCUMENT_LIMIT = 50 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Request:
    user: UserRef
    lang: str
    only: tuple[str, ...] | None  # None: every site
    words: list[str]  # what else was written after the command


async def _request(update: Update, context: Context, refusal: str) -> Request | None:
    """Who asks, in which language, for which sites; None after a refusal."""
    user = context.user
    if user is None:
        return None
    args = context.args or []
    place = await context.services.access.site_for(
        user, args, Purpose.REPORT, chat_site=chat_site(update, context)
    )
    if not isinstance(place, OnSites):
        await refuse(update, context, place, not_facilitator=refusal)
        return None
    rest = [word.lower() for word in args if word.lower() not in place.named]
    return Request(user, await context.lang(), place.site_keys, rest)


async def export_command(update: Update, context: Context) -> None:
    """`/export [site] [formats…]`: the files as documents in this chat."""
    request = await _request(update, context, "export.only")
    if request is None:
        return
    services, lang = context.services, request.lang
    known = {fmt.value: fmt for fmt in ALL_FORMATS}
    if any(word not in known for word in request.words):
        formats_list = ", ".join(known)
        await reply(
            update,
            services.texts(
                lang, "export.usage", formats=formats_list, site=services.event.example_site
            ),
        )
        return
    formats = [known[word] for word in dict.fromkeys(request.words)] or list(CHAT_FORMATS)
    if services.export.busy:
        await reply(update, services.texts(lang, "export.busy"))
        return
    chat = update.effective_chat
    if chat is None:
        return
    names = ", ".join(fmt.value.upper() for fmt in formats)
    await reply(update, services.texts(lang, "export.working", formats=names))
    started = asyncio.get_running_loop().time()
    async with services.export.files(request.only, formats) as written:
        for item in written:
            if item.size > DOCUMENT_LIMIT:
                size = round(item.size / 1024 / 1024)
                await reply(
                    update,
                    services.texts(lang, "export.too_large", file=item.path.name, size=size),
                )
                continue
            content = await asyncio.to_thread(item.path.read_bytes)
            await chat.send_document(
                content,
                filename=item.path.name,
                caption=services.texts(
                    lang, "export.caption", file=item.path.name, count=item.inputs
                ),
            )
    seconds = round(asyncio.get_running_loop().time() - started, 1)
    await reply(update, services.texts(lang, "export.done", count=len(written), seconds=seconds))


async def stats_command(update: Update, context: Context) -> None:
    """`/stats [site]`: checked in per site and table, inputs per prompt, who answered."""
    request = await _request(update, context, "facilitator.only")
    if request is None:
        return
    services = context.services
    figures = await services.export.stats(request.only)
    presenter = Presenter(services.event, services.texts, request.lang)
    heading = services.texts(
        request.lang,
        "stats.heading",
        event=services.event.title.get(request.lang, services.event.default_language),
        time=presenter.hhmm(services.clock.now()),
    )
    for index, key in enumerate(site_keys(services.event, request.only)):
        text = stats_text(presenter, figures, key)
        await reply(update, f"{heading}\n\n{text}" if index == 0 else text)


def stats_text(presenter: Presenter, figures: Participation, site_key: str) -> str:
    """One site's figures: one message, so that many sites never pass Telegram's limit."""
    texts, lang = presenter.texts, presenter.lang
    site = presenter.event.site(site_key)
    totals = figures.site(site_key)

    def share(part: int, whole: int) -> str:
        value = percent(part, whole)
        return (
            texts.plain(lang, "report.no_share")
            if value is None
            else texts.plain(lang, "report.share", percent=value)
        )

    lines = [
        texts(
            lang,
            "stats.site",
            site=presenter.site_name(site_key),
            checked_in=totals.checked_in,
            answered=totals.total.answered,
            share=share(totals.total.answered, totals.checked_in),
        )
    ]
    if site is not None and site.groups:
        tables = ", ".join(
            f"{presenter.table_name(site_key, group.key)}: {totals.by_table.get(group.key, 0)}"
            for group in site.groups
        )
        lines.append(texts(lang, "stats.tables", tables=tables))
    if totals.unreachable:
        lines.append(texts(lang, "stats.unreachable", count=totals.unreachable))
    entries = prompts_of(presenter.event, figures, site_key)
    if not entries:
        lines.append(texts(lang, "stats.no_prompts"))
    for entry in entries:
        tally = entry.figures.total
        # A table's own ad-hoc question was put to that table only: its share is of the
        # people checked in there, not of the whole site.
        table = entry.adhoc.group_key if entry.adhoc is not None else None
        asked = totals.by_table.get(table, 0) if table is not None else totals.checked_in
        lines.append(
            texts(
                lang,
                "stats.prompt_hidden" if tally.hidden else "stats.prompt",
                title=presenter.item_title(entry.ref, entry.adhoc),
                inputs=tally.inputs,
                answered=tally.answered,
                share=share(tally.answered, asked),
                hidden=tally.hidden,
            )
        )
    return "\n".join(lines)
