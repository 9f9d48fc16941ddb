"""Who at a site hears what the bot tells its facilitators, and in which language.

Said once: in the site's facilitator group chat, if the event file names one and the bot can
still write there (else see `bot.services.lostchats`), in the event's language (a group has no
language of its own); else in each facilitator's private chat, in the language that person
chose, or Telegram's. A facilitator who is in the group is not told again privately.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.event import Event, Site
from bot.i18n import pick_language
from bot.models import FacilitatorChat
from bot.ports import UnitOfWork
from bot.services.lostchats import facilitator_group


async def site_facilitator_targets(
    uow: UnitOfWork, event: Event, site: Site, languages: Sequence[str]
) -> list[tuple[int, str]]:
    """The same, read inside a transaction: the site's group as it is reachable now (see
    `bot.services.lostchats`), else its facilitators' private chats."""
    facilitators = await uow.agenda.facilitators(event.key, site.key)
    group = await facilitator_group(uow, site)
    return facilitator_targets(event, group, facilitators, languages)


def facilitator_targets(
    event: Event,
    group: int | None,
    facilitators: Sequence[FacilitatorChat],
    languages: Sequence[str],
) -> list[tuple[int, str]]:
    """(chat, language) for each chat that receives a notice meant for the site's
    facilitators; `group` is their group chat as the bot can reach it now (None: none, or
    lost), `facilitators` are their private chats."""
    default = event.default_language
    if group is not None:
        return [(group, default)]
    return [
        (f.chat_id, pick_language(f.language, f.telegram_language, languages, default))
        for f in facilitators
    ]
