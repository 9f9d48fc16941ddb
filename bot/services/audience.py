"""Who at a site hears what the bot tells its facilitators, and in which language.

Said once: in the site's facilitator group chat, if the event file names one, in the event's
language (a group has no language of its own); else in each facilitator's private chat, in the
language that person chose, or Telegram's. A facilitator who is in the group is not told again
privately.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.event import Event, Site
from bot.i18n import pick_language
from bot.models import FacilitatorChat


def facilitator_targets(
    event: Event, site: Site, facilitators: Sequence[FacilitatorChat], languages: Sequence[str]
) -> list[tuple[int, str]]:
    """(chat, language) for each chat that receives a notice meant for the site's
    facilitators; `facilitators` are their private chats."""
    default = event.default_language
    if site.facilitator_chat is not None:
        return [(site.facilitator_chat, default)]
    return [
        (f.chat_id, pick_language(f.language, f.telegram_language, languages, default))
        for f in facilitators
    ]
