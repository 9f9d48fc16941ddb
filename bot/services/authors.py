"""How an input's author is shown, as the event's anonymity and the author's choice allow."""

from __future__ import annotations

from bot.event import Anonymity, Event
from bot.i18n import Catalogue
from bot.models import Input


def author_label(
    event: Event, texts: Catalogue, lang: str, item: Input, *, with_site: bool = True
) -> str:
    """A name, "politiker, Aalborg", or "anonym" — never more than the event allows.

    With `participant_choice` a name is shown only to those who chose to be named: not
    choosing publishes no name. The choice read is the author's current one (`item.anonymous`
    is read at every rendering), so it covers the inputs they wrote before they made it.
    `with_site=False` leaves the site out where the caller names it already (relays).
    """
    default = event.default_language
    site = event.site(item.site_key)
    site_name = site.name.get(lang, default) if site else item.site_key
    role = event.event.participant_role(item.category_key)
    role_name = role.name.get(lang, default) if role else texts.plain(lang, "authors.participant")
    mode = event.event.anonymity
    if mode == Anonymity.ROLE_ONLY:
        if not with_site:
            return role_name
        return texts.plain(lang, "authors.role_at", role=role_name, site=site_name)
    unchosen = item.anonymous is None and mode == Anonymity.PARTICIPANT_CHOICE
    if mode == Anonymity.ANONYMOUS or item.anonymous or unchosen or not item.author_name.strip():
        return texts.plain(lang, "authors.anonymous")
    return item.author_name
