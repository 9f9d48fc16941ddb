"""`/wall`: the links of the walls a person may show (their site's; an organiser's every one).
`/console`: a one-time link to the facilitators' console."""

from __future__ import annotations

from telegram import Update

from bot.services.access import NotFacilitator
from bot.services.console import LINK_TTL
from handlers.common import refuse, reply
from handlers.context import Context


async def wall_command(update: Update, context: Context) -> None:
    user = context.user
    if user is None:
        return
    services = context.services
    lang = await context.lang()
    rights = await services.access.rights(user)
    if not rights.any:
        await reply(update, services.texts(lang, "wall.chat_not_allowed"))
        return
    links = await services.walls.links(rights, lang)
    if services.walls.public_url is None:
        await reply(update, services.texts(lang, "wall.chat_no_url"))
        return
    lines = "\n".join(
        services.texts(lang, "wall.chat_line", name=link.name, url=link.url or "")
        for link in links
    )
    await reply(update, services.texts(lang, "wall.chat_links", links=lines))


async def console_command(update: Update, context: Context) -> None:
    """`/console`: a one-time link to the facilitators' console in the browser."""
    user = context.user
    if user is None:
        return
    services = context.services
    rights = await services.access.rights(user)
    if not rights.any:
        await refuse(update, context, NotFacilitator())
        return
    lang = await context.lang()
    link = await services.console.issue_link(user)
    if link.url is None:
        await reply(update, services.texts(lang, "console.chat_no_url"))
        return
    minutes = round(LINK_TTL.total_seconds() / 60)
    await reply(update, services.texts(lang, "console.chat_link", url=link.url, minutes=minutes))
