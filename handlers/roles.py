"""Organisers: `/roles` lists who holds what (with ids to copy), `/revoke <id> [site]` ends it."""

from __future__ import annotations

from telegram import Update

from handlers.common import reply
from handlers.context import Context


async def roles_command(update: Update, context: Context) -> None:
    user = context.user
    if user is None:
        return
    services, lang = context.services, await context.lang()
    if not (await services.access.rights(user)).organiser:
        await reply(update, services.texts(lang, "roles.only_organisers"))
        return
    grants = await services.roles.holders()
    if not grants:
        await reply(update, services.texts(lang, "roles.none"))
        return
    lines = [services.texts(lang, "roles.list")]
    lines += [
        f"<code>{g.user_id}</code> {g.role.value}{' ' + g.site_key if g.site_key else ''}"
        for g in grants
    ]
    await reply(update, "\n".join(lines))


async def revoke_command(update: Update, context: Context) -> None:
    user = context.user
    if user is None:
        return
    services, lang = context.services, await context.lang()
    if not (await services.access.rights(user)).organiser:
        await reply(update, services.texts(lang, "roles.only_organisers"))
        return
    args = context.args or []
    site_key = args[1].lower() if len(args) == 2 else None
    if (
        not 1 <= len(args) <= 2
        or not args[0].isdigit()
        or (site_key is not None and services.event.site(site_key) is None)
    ):
        await reply(update, services.texts(lang, "roles.usage", site=services.event.example_site))
        return
    result = await services.roles.revoke(int(args[0]), site_key)
    if result.ended:
        await reply(update, services.texts(lang, "roles.revoked", count=len(result.ended)))
    elif result.from_settings:
        await reply(update, services.texts(lang, "roles.from_settings"))
    else:
        await reply(update, services.texts(lang, "roles.not_held"))
