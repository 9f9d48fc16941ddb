"""A site's programme as it stands: the event file's times moved by the shifts in the database.

Pure functions of (event, site state, instant); the agenda engine and every view (/agenda,
/now, check-in confirmations) read the same plan, so they never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.event import AgendaItem, AgendaKind, Event
from bot.models import AdhocPrompt, SiteAgendaState


@dataclass(frozen=True, slots=True)
class Slot:
    item: AgendaItem
    planned: datetime  # as in the event file
    start: datetime  # after delays, advances and pauses
    end: datetime | None  # the next item's start; None for the last item

    @property
    def shift(self) -> timedelta:
        return self.start - self.planned

    @property
    def reminder_at(self) -> datetime | None:
        if self.item.kind is not AgendaKind.PROMPT or not self.item.remind_before:
            return None
        if self.end is None:
            return None
        return self.end - timedelta(minutes=self.item.remind_before)


@dataclass(frozen=True, slots=True)
class OpenPrompt:
    """What a participant's message answers right now: an agenda prompt or an ad-hoc one."""

    item_key: str | None
    adhoc_id: int | None
    opened_at: datetime
    closes_at: datetime | None


class Plan:
    """The slots of a site at `now`.

    A pause stops the clock: while it lasts, every item not yet pushed moves later by the time
    the pause has lasted so far, so nothing new becomes current or due, an open prompt stays
    open, and its reminder waits. `/resume` drops that move: an item whose start fell inside
    the pause starts then, later than planned, and the rest follows (a shift in the database);
    if none did, the times are as before the pause.
    """

    def __init__(self, event: Event, state: SiteAgendaState, now: datetime) -> None:
        self.event = event
        self.state = state
        self.site_key = state.site_key
        self.now = now
        timeline = event.timeline(state.site_key)
        index = {item.key: i for i, item in enumerate(timeline)}
        offsets = [0.0] * len(timeline)
        for shift in state.shifts:
            first = index.get(shift.from_item_key)
            if first is None:
                continue  # an item removed from the file since: its shift no longer applies
            for i in range(first, len(timeline)):
                offsets[i] += shift.seconds
        if state.paused_at is not None:
            held = max(0.0, (now - state.paused_at).total_seconds())
            first_unpushed = next(
                (i for i, item in enumerate(timeline) if (item.key, "start") not in state.fired),
                len(timeline),
            )
            for i in range(first_unpushed, len(timeline)):
                offsets[i] += held
        starts = [
            event.start_of(item) + timedelta(seconds=offsets[i]) for i, item in enumerate(timeline)
        ]
        self.slots: tuple[Slot, ...] = tuple(
            Slot(
                item=item,
                planned=event.start_of(item),
                start=starts[i],
                end=starts[i + 1] if i + 1 < len(starts) else None,
            )
            for i, item in enumerate(timeline)
        )

    def first_unpushed(self) -> Slot | None:
        return next((s for s in self.slots if not self.fired(s.item.key)), None)

    @property
    def paused(self) -> bool:
        return self.state.paused_at is not None

    def slot(self, item_key: str) -> Slot | None:
        return next((s for s in self.slots if s.item.key == item_key), None)

    def current(self, now: datetime) -> Slot | None:
        """The item that has started most recently (by the plan, fired or not)."""
        found: Slot | None = None
        for slot in self.slots:
            if slot.start <= now:
                found = slot
            else:
                break
        return found

    def upcoming(self, now: datetime) -> Slot | None:
        return next((s for s in self.slots if s.start > now), None)

    def after(self, slot: Slot) -> Slot | None:
        i = self.slots.index(slot)
        return self.slots[i + 1] if i + 1 < len(self.slots) else None

    def fired(self, item_key: str, what: str = "start") -> bool:
        return (item_key, what) in self.state.fired

    def due_starts(self, now: datetime) -> list[Slot]:
        """Items whose start has come and that the engine has not handled yet, in order."""
        if self.paused:
            return []
        return [s for s in self.slots if s.start <= now and not self.fired(s.item.key)]

    def due_reminders(self, now: datetime) -> list[Slot]:
        if self.paused:
            return []
        return [
            s
            for s in self.slots
            if s.reminder_at is not None
            and s.reminder_at <= now
            and self.fired(s.item.key)
            and not self.fired(s.item.key, "reminder")
        ]

    def next_wake(self, now: datetime) -> datetime | None:
        """The next instant at which something becomes due (None: nothing left, or paused)."""
        if self.paused:
            return None
        moments = [s.start for s in self.slots if not self.fired(s.item.key)]
        moments += [
            s.reminder_at
            for s in self.slots
            if s.reminder_at is not None and not self.fired(s.item.key, "reminder")
        ]
        return min(moments) if moments else None

    def over(self, now: datetime) -> bool:
        current = self.current(now)
        return current is not None and current.item.kind is AgendaKind.CLOSE

    def open_prompt(self, now: datetime, group_key: str | None) -> OpenPrompt | None:
        """The prompt a participant at `group_key` answers if they write now.

        An ad-hoc prompt opened after the current item started takes precedence; a table's own
        ad-hoc prompt over one for the whole site.
        """
        current = self.current(now)
        adhoc = self._open_adhoc(now, group_key, current)
        if adhoc is not None:
            closes = self._closing_of(adhoc)
            return OpenPrompt(None, adhoc.id, adhoc.opened_at, closes)
        if (
            current is not None
            and current.item.kind is AgendaKind.PROMPT
            and self.fired(current.item.key)
        ):
            return OpenPrompt(current.item.key, None, current.start, current.end)
        return None

    def _open_adhoc(
        self, now: datetime, group_key: str | None, current: Slot | None
    ) -> AdhocPrompt | None:
        candidates = [
            a
            for a in self.state.adhoc
            if a.opened_at <= now
            and (a.closed_at is None or a.closed_at > now)
            and (a.group_key is None or a.group_key == group_key)
            and (current is None or a.opened_at >= current.start)
        ]
        if not candidates:
            return None
        # The table's own prompt first, then the newest.
        return max(candidates, key=lambda a: (a.group_key is not None, a.opened_at, a.id))

    def _closing_of(self, adhoc: AdhocPrompt) -> datetime | None:
        nxt = next((s.start for s in self.slots if s.start > adhoc.opened_at), None)
        if adhoc.closed_at is not None and (nxt is None or adhoc.closed_at < nxt):
            return adhoc.closed_at
        return nxt
