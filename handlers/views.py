"""Texts built from several catalogue lines: the programme of a site and its status."""

from __future__ import annotations

from datetime import datetime

from bot.i18n import Catalogue, clock
from bot.services import Services
from bot.services.agenda import SiteStatus
from bot.services.plan import Plan


def local_time(moment: datetime, services: Services) -> datetime:
    """The moment in the event's timezone; the catalogue writes it as the reader's language
    writes clock times."""
    return moment.astimezone(services.event.tz)


def programme_line(services: Services, lang: str, plan: Plan, now: datetime) -> str:
    """One line for a check-in confirmation or /where: what is on now, or what comes next."""
    texts, default = services.texts, services.event.default_language
    if plan.over(now):
        return texts(lang, "agenda.over")
    current = plan.current(now)
    upcoming = plan.upcoming(now)
    if current is not None and plan.fired(current.item.key):
        line = texts(lang, "agenda.now", title=current.item.title.get(lang, default))
        if upcoming is not None:
            line += "\n" + texts(
                lang,
                "agenda.next",
                time=local_time(upcoming.start, services),
                title=upcoming.item.title.get(lang, default),
            )
        return line
    if upcoming is not None:
        return texts(
            lang,
            "agenda.next",
            time=local_time(upcoming.start, services),
            title=upcoming.item.title.get(lang, default),
        )
    return texts(lang, "agenda.over")


def programme(services: Services, lang: str, plan: Plan, now: datetime) -> str:
    """The site's whole programme, the current item marked, times as delayed."""
    texts, default = services.texts, services.event.default_language
    site = services.event.site(plan.site_key)
    site_name = site.name.get(lang, default) if site else plan.site_key
    current = plan.current(now)
    lines = [texts(lang, "agenda.heading", site=site_name)]
    for slot in plan.slots:
        title = slot.item.title.get(lang, default)
        if current is not None and slot is current and not plan.over(now):
            key = "agenda.line_current"
        elif slot.start <= now:
            key = "agenda.line_past"
        else:
            key = "agenda.line_future"
        line = texts(lang, key, time=local_time(slot.start, services), title=title)
        if slot.shift.total_seconds() and slot.start > now:
            line += " " + texts(lang, "agenda.planned", time=local_time(slot.planned, services))
        lines.append(line)
    if plan.paused:
        lines.append(texts(lang, "agenda.paused"))
    return "\n".join(lines)


def status(services: Services, texts: Catalogue, lang: str, state: SiteStatus) -> str:
    default = services.event.default_language
    site = services.event.site(state.site_key)
    site_name = site.name.get(lang, default) if site else state.site_key
    none = texts(lang, "status.nothing")
    current = (
        f"{clock(lang, local_time(state.current.start, services))} "
        f"{state.current.item.title.get(lang, default)}"
        if state.current
        else none
    )
    upcoming = (
        f"{clock(lang, local_time(state.upcoming.start, services))} "
        f"{state.upcoming.item.title.get(lang, default)}"
        if state.upcoming
        else none
    )
    return texts(
        lang,
        "status.site",
        site=site_name,
        current=current,
        upcoming=upcoming,
        paused=texts(lang, "status.paused_yes" if state.paused else "status.paused_no"),
        checked_in=state.checked_in,
        sent=state.delivered.get("sent", 0),
        pending=state.delivered.get("pending", 0) + state.delivered.get("sending", 0),
        failed=sum(
            n for s, n in state.delivered.items() if s in {"failed", "unknown", "unreachable"}
        ),
        unreachable=state.unreachable,
    )
