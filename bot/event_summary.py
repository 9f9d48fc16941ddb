"""The plain-text summary `python -m bot check FILE` prints for an organiser.

Operator-facing output: the labels are English, the event's own words are shown in one of its
languages. Secret codes are masked, since the summary ends up on screens and in chat logs.
"""

from __future__ import annotations

from datetime import time

from bot.event import AgendaItem, AgendaKind, Event, Site

_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def render_summary(event: Event, lang: str | None = None) -> str:
    """Event, sites and each site's timeline, column-aligned, in `lang` (default: the event's
    default language; an unknown one falls back to it, with a note)."""
    note = []
    if lang is not None and lang not in event.languages:
        # A typo in --lang should not cost the organiser the check itself.
        known = ", ".join(event.languages)
        note = [f"(language {lang!r} is not one of {known}; showing the default language)", ""]
        lang = None
    lang = lang or event.default_language
    lines = [*note, *_event_lines(event, lang)]
    lines += ["", f"Sites ({len(event.sites)})"]
    for site in event.sites:
        lines += ["", *_site_lines(event, site, lang)]
    lines += ["", "Agenda"]
    for site in event.sites:
        lines += ["", *_timeline_lines(event, site, lang)]
    return "\n".join(lines) + "\n"


def _event_lines(event: Event, lang: str) -> list[str]:
    info, default = event.event, event.default_language
    title = event.title.get(lang, default)
    languages = [f"{code} (default)" if code == default else code for code in info.languages]
    relay = [info.relay.mode.value]
    relay.append(f"vote threshold {info.relay.vote_threshold or 'none'}")
    if info.relay.exclude_sites:
        relay.append(f"not to {', '.join(info.relay.exclude_sites)}")
    rows = [
        ["Key", info.key],
        ["Date", f"{_WEEKDAYS[info.date.weekday()]} {info.date.isoformat()}"],
        ["Time zone", info.timezone],
        ["Languages", ", ".join(languages)],
        ["Question", event.question.get(lang, default)],
        ["Anonymity", info.anonymity.value],
        ["Outside prompts", info.outside_prompt.value],
        ["Relay", ", ".join(relay)],
        ["Retention", f"{info.retention_days} days" if info.retention_days else "not set"],
        ["Grace after restart", f"{info.grace_minutes} min"],
        ["Organiser code", _mask(info.organiser_code)],
    ]
    return [title, "=" * len(title), *_table(rows)]


def _site_lines(event: Event, site: Site, lang: str) -> list[str]:
    default = event.default_language
    facilitators = [str(f) if isinstance(f, int) else f for f in site.facilitators]
    rows = [
        ["Venue", site.venue.get(lang, default)],
        ["Angle", site.angle.get(lang, default)],
        ["Check-in code", site.code],
        ["Facilitators", ", ".join(facilitators) or "none"],
        ["Facilitator code", _mask(site.facilitator_code)],
        ["Facilitator chat", str(site.facilitator_chat or "none")],
        ["Groups", str(len(site.groups)) if site.groups else "none"],
    ]
    groups = [["", group.key, group.name.get(lang, default), group.code] for group in site.groups]
    return [
        f"{site.name.get(lang, default)} [{site.key}]",
        *_table(rows, indent=2),
        *_table(groups, indent=4),
    ]


def _timeline_lines(event: Event, site: Site, lang: str) -> list[str]:
    default = event.default_language
    items = event.timeline(site.key)
    rows = []
    for position, item in enumerate(items):
        following = items[position + 1] if position + 1 < len(items) else None
        notes = _notes(item, site, following)
        rows.append(
            [_clock(item.at), item.kind.value, item.title.get(lang, default), "; ".join(notes)]
        )
    lines = [f"Timeline for {site.name.get(lang, default)} [{site.key}]", *_table(rows, indent=2)]
    close = next((item for item in items if item.kind is AgendaKind.CLOSE), None)
    if items and close is not None:
        minutes = _minutes(items[0].at, close.at)
        lines.append(
            f"  Closes at {_clock(close.at)}: {minutes // 60} h {minutes % 60:02d} min"
            f" after the start at {_clock(items[0].at)}"
        )
    return lines


def _notes(item: AgendaItem, site: Site, following: AgendaItem | None) -> list[str]:
    notes = []
    if item.sites is not None:
        notes.append(f"only at {', '.join(item.sites)}")
    if site.key in item.variant_sites():
        notes.append("site variant")
    groups = item.variant_groups(site.key)
    if groups:
        notes.append(f"group variant{'s' if len(groups) > 1 else ''}: {', '.join(groups)}")
    if item.remind_before is not None:
        reminder = f"reminder {item.remind_before} min before the end"
        if following is not None:
            at = _minutes(time(0), following.at) - item.remind_before
            reminder += f" ({at // 60:02d}:{at % 60:02d})"
        notes.append(reminder)
    return notes


def _table(rows: list[list[str]], indent: int = 2) -> list[str]:
    """Rows with every column but the last padded to its widest cell."""
    if not rows:
        return []
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]) - 1)]
    lines = []
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        lines.append((" " * indent + "  ".join([*cells, row[-1]])).rstrip())
    return lines


def _clock(at: time) -> str:
    return at.strftime("%H:%M:%S" if at.second else "%H:%M")


def _minutes(start: time, end: time) -> int:
    return (end.hour * 60 + end.minute) - (start.hour * 60 + start.minute)


def _mask(code: str | None) -> str:
    # Enough to tell codes apart, too little to use one.
    return f"{code[:3]}… (secret)" if code else "not set"
