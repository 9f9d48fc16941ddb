"""The programme as planned in the event file: what is on now and what comes next at a site."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.event import AgendaItem, Event


@dataclass(frozen=True, slots=True)
class Position:
    current: AgendaItem | None
    upcoming: AgendaItem | None

    @property
    def over(self) -> bool:
        return self.upcoming is None and (
            self.current is None or self.current.kind.value == "close"
        )


def position(event: Event, site_key: str, now: datetime) -> Position:
    """Where the site's programme stands at `now` (an aware datetime)."""
    current: AgendaItem | None = None
    for item in event.timeline(site_key):
        if event.start_of(item) <= now:
            current = item
        else:
            return Position(current, item)
    return Position(current, None)
