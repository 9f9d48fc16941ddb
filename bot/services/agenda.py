"""The agenda engine: one run-of-show drives every site.

Given a Clock, it reads the event file and the agenda state in the database and answers what
is current and what is due, per site; `tick()` acts on what is due by writing outbox rows in
the same transaction that records the decision, so that a restart neither repeats nor skips a
push. The JobQueue only wakes it (`next_wake()` says when); nothing about the programme lives
in memory.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from bot.event import AgendaItem, AgendaKind, Event, Site
from bot.i18n import Catalogue, pick_language
from bot.models import NewDelivery, OutboxMessage, Recipient, ShiftReason
from bot.ports import Clock, UnitOfWork
from bot.services.audience import site_facilitator_targets
from bot.services.live import NOBODY, AgendaChange, AgendaChanged, Publisher, Relayed
from bot.services.plan import Plan, Slot
from bot.services.relay import RelayService

log = logging.getLogger(__name__)

START, REMINDER = "start", "reminder"
SENT, MISSED = "sent", "missed"


@dataclass
class TickReport:
    started: list[tuple[str, str]] = field(default_factory=list)  # (site, item)
    reminded: list[tuple[str, str]] = field(default_factory=list)
    missed: list[tuple[str, str]] = field(default_factory=list)
    queued: int = 0  # every message queued: pushes, relay cards, notices
    # (site, item) → the people its push was queued for, which is what a facilitator is told.
    pushed: dict[tuple[str, str], int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Shifted:
    site_key: str
    seconds: int
    next_item: AgendaItem
    next_start: datetime
    notified: int


@dataclass(frozen=True, slots=True)
class Advanced:
    site_key: str
    item: AgendaItem
    notified: int


@dataclass(frozen=True, slots=True)
class NothingAhead:
    site_key: str


@dataclass(frozen=True, slots=True)
class PausedNow:
    """Refused: the programme is paused; resume it (or start the next item) first."""

    site_key: str


@dataclass(frozen=True, slots=True)
class PauseChanged:
    site_key: str
    paused: bool
    changed: bool  # False: it already was


@dataclass(frozen=True, slots=True)
class Resumed:
    """A pause ended. If an item fell due during it, that item started now and the rest of the
    programme moved by as much as it was late; if none did, every time stayed as planned."""

    site_key: str
    lasted: int  # seconds the pause lasted
    started: AgendaItem | None  # the item that fell due during the pause and started now
    notified: int  # the people its push was queued for
    next_item: AgendaItem | None  # what comes next, after `started` if one started
    next_start: datetime | None


@dataclass(frozen=True, slots=True)
class AdhocOpened:
    site_key: str
    group_key: str | None
    prompt_id: int
    notified: int


@dataclass(frozen=True, slots=True)
class SiteStatus:
    site_key: str
    current: Slot | None
    upcoming: Slot | None
    paused: bool
    checked_in: int
    delivered: dict[str, int]  # outbox status → rows for the current item at this site
    unreachable: int


class AgendaEngine:
    def __init__(
        self,
        event: Event,
        uow: UnitOfWork,
        clock: Clock,
        texts: Catalogue,
        *,
        relay: RelayService | None = None,
        on_queued: Callable[[], None] = lambda: None,
        wake: Callable[[], None] = lambda: None,
        grace: timedelta | None = None,
        live: Publisher = NOBODY,
    ) -> None:
        self._event = event
        self._live = live  # told of each committed change (the walls)
        self._uow = uow
        self._clock = clock
        self._texts = texts
        self._grace = grace if grace is not None else timedelta(minutes=event.event.grace_minutes)
        # Relays ride on the engine's ticks: live batches, check-in cards and digests.
        self._relay = relay
        # Called after a transaction that queued messages committed (wakes the worker).
        self._on_queued = on_queued
        # Called after a change of what is due (a delay, /next, a pause, a prompt opened or
        # closed): the scheduler runs `tick()` at once and sets its next wake-up from there.
        self.wake = wake

    # -- reading -----------------------------------------------------------------------------

    async def plan(self, site_key: str) -> Plan:
        async with self._uow.transaction():
            state = await self._uow.agenda.state(self._event.key, site_key)
        return Plan(self._event, state, self._clock.now())

    async def next_wake(self) -> datetime | None:
        now = self._clock.now()
        moments: list[datetime] = []
        for site in self._event.sites:
            plan = await self.plan(site.key)
            moment = plan.next_wake(now)
            if moment is not None:
                moments.append(moment)
            if self._relay is not None and (card := await self._relay.next_card_at(plan, now)):
                moments.append(card)
        return min(moments) if moments else None

    async def status(self, site_key: str) -> SiteStatus:
        now = self._clock.now()
        plan = await self.plan(site_key)
        current = plan.current(now)
        async with self._uow.transaction():
            counts = await self._uow.agenda.site_counts(self._event.key, site_key)
            delivered = (
                await self._uow.agenda.delivery_counts(self._push_prefix(site_key, current.item))
                if current is not None
                else {}
            )
        return SiteStatus(
            site_key=site_key,
            current=current,
            upcoming=plan.upcoming(now),
            paused=plan.paused,
            checked_in=counts.checked_in,
            delivered=delivered,
            unreachable=counts.unreachable,
        )

    # -- acting on what is due -----------------------------------------------------------------

    async def tick(self) -> TickReport:
        """Push every item and reminder that has come due, at every site."""
        report = TickReport()
        for site in self._event.sites:
            await self._tick_site(site, report)
        if report.queued:
            self._on_queued()
        if report.started or report.missed:
            log.info(
                "agenda: started %s, reminded %s, missed %s, %d messages queued",
                report.started,
                report.reminded,
                report.missed,
                report.queued,
            )
        return report

    async def _tick_site(self, site: Site, report: TickReport) -> None:
        started, queued = len(report.started), report.queued
        await self._tick_site_committed(site, report)
        if len(report.started) > started:
            self._live.publish(AgendaChanged(AgendaChange.STARTED, site.key))
        elif report.queued > queued:
            self._live.publish(Relayed(site.key))  # a relay card, a reminder or a notice

    async def _tick_site_committed(self, site: Site, report: TickReport) -> None:
        key = self._event.key
        async with self._uow.transaction(urgent=True):
            now = self._clock.now()
            plan = Plan(self._event, await self._uow.agenda.state(key, site.key), now)
            handled_now: set[str] = set()
            for slot in plan.due_starts(now):
                item_key = slot.item.key
                if now - slot.start > self._grace:
                    await self._uow.agenda.mark_fired(key, site.key, item_key, START, MISSED, now)
                    report.queued += await self._report_missed(site, slot, now)
                    report.missed.append((site.key, item_key))
                    handled_now.add(item_key)
                    continue
                recipients = await self._uow.agenda.recipients(key, site.key)
                pushed = await self._push(plan, slot, recipients, now)
                report.queued += pushed
                report.pushed[(site.key, item_key)] = pushed
                if slot.item.kind is AgendaKind.CROSSCHECK and self._relay is not None:
                    report.queued += await self._relay.crosscheck_started(plan, slot, now)
                await self._uow.agenda.mark_fired(key, site.key, item_key, START, SENT, now)
                await self._uow.agenda.close_adhoc(key, site.key, now)
                report.started.append((site.key, item_key))
                handled_now.add(item_key)
            await self._catch_up_site(plan, now, report)
            report.queued += await self._report_undelivered(site, plan, now)
            if self._relay is not None:
                report.queued += await self._relay.tick_site(plan, now)
            if plan.paused:
                return  # the clock is stopped: a reminder would count down a frozen prompt
            for slot in plan.slots:
                reminder_at = slot.reminder_at
                item_key = slot.item.key
                if reminder_at is None or reminder_at > now or plan.fired(item_key, REMINDER):
                    continue
                if not (plan.fired(item_key) or item_key in handled_now):
                    continue
                outcomes = await self._uow.agenda.fired_outcomes(key, site.key)
                if outcomes.get((item_key, START)) != SENT or (
                    slot.end is not None and now >= slot.end
                ):
                    # The prompt never reached anyone, or has closed: a reminder would confuse.
                    await self._uow.agenda.mark_fired(
                        key, site.key, item_key, REMINDER, MISSED, now
                    )
                    continue
                recipients = await self._uow.agenda.unanswered(key, site.key, item_key)
                report.queued += await self._remind(site.key, slot, recipients, now)
                await self._uow.agenda.mark_fired(key, site.key, item_key, REMINDER, SENT, now)
                report.reminded.append((site.key, item_key))

    async def _catch_up_site(self, plan: Plan, now: datetime, report: TickReport) -> None:
        """Whoever is checked in but lacks the item that is on (they checked in late and the
        bot stopped before their copy was queued, or they could not be reached then) gets it
        now; the outbox keys make this a no-op for everyone else."""
        current = plan.current(now)
        if (
            current is None
            or current.item.kind is AgendaKind.CLOSE
            or not plan.fired(current.item.key)
        ):
            return
        key = self._event.key
        outcomes = await self._uow.agenda.fired_outcomes(key, plan.site_key)
        if outcomes.get((current.item.key, START)) != SENT:
            return
        missing = await self._uow.agenda.recipients(
            key, plan.site_key, missing_key=self._push_prefix(plan.site_key, current.item)
        )
        if missing:
            report.queued += await self._push(plan, current, missing, now)

    async def catch_up(self, user_id: int) -> int:
        """A participant who checks in late receives the current item (and an open ad-hoc
        prompt) straight away; the same outbox keys make this idempotent."""
        key = self._event.key
        queued = 0
        async with self._uow.transaction():
            checkin = await self._uow.checkins.get(key, user_id)
            if checkin is None:
                return 0
            now = self._clock.now()
            plan = Plan(self._event, await self._uow.agenda.state(key, checkin.site_key), now)
            recipients = [
                r
                for r in await self._uow.agenda.recipients(key, checkin.site_key)
                if r.user_id == user_id
            ]
            if not recipients:
                return 0
            current = plan.current(now)
            if (
                current is not None
                and plan.fired(current.item.key)
                and current.item.kind is not AgendaKind.CLOSE
            ):
                outcomes = await self._uow.agenda.fired_outcomes(key, checkin.site_key)
                if outcomes.get((current.item.key, START)) == SENT:
                    queued += await self._push(plan, current, recipients, now)
            open_prompt = plan.open_prompt(now, checkin.group_key)
            if open_prompt is not None and open_prompt.adhoc_id is not None:
                adhoc = next(a for a in plan.state.adhoc if a.id == open_prompt.adhoc_id)
                queued += await self._enqueue_adhoc(
                    checkin.site_key, adhoc.id, adhoc.text, recipients, now
                )
        if queued:
            self._on_queued()
        return queued

    # -- facilitator controls ------------------------------------------------------------------

    async def delay(
        self, site_key: str, minutes: int, by: int | None
    ) -> Shifted | Advanced | NothingAhead | PausedNow:
        """Move the site's remaining items by `minutes` and tell its participants the new
        time. Moving the next item to now or earlier starts it, as `/next` does."""
        async with self._uow.transaction():
            now = self._clock.now()
            state = await self._uow.agenda.state(self._event.key, site_key)
            if state.paused_at is not None:
                return PausedNow(site_key)
            plan = Plan(self._event, state, now)
            target = plan.first_unpushed()
            if target is None:
                return NothingAhead(site_key)
            new_start = target.start + timedelta(minutes=minutes)
            if new_start > now:
                seconds = minutes * 60
                shift_id = await self._uow.agenda.add_shift(
                    self._event.key,
                    site_key,
                    target.item.key,
                    seconds,
                    ShiftReason.DELAY,
                    by,
                    now,
                )
                recipients = await self._uow.agenda.recipients(self._event.key, site_key)
                # A prompt that is open now closes when the next item starts: its participants
                # last read "open until" the old time, so they are told the new one.
                current = plan.current(now)
                open_prompt = (
                    current.item
                    if current is not None
                    and current.item.kind is AgendaKind.PROMPT
                    and plan.fired(current.item.key)
                    else None
                )
                notified = await self._notify_shift(
                    shift_id,
                    site_key,
                    seconds,
                    target.item,
                    new_start,
                    recipients,
                    now,
                    open_prompt=open_prompt,
                )
        if new_start > now:
            self._on_queued()
            self.wake()
            self._live.publish(AgendaChanged(AgendaChange.DELAYED, site_key))
            return Shifted(site_key, seconds, target.item, new_start, notified)
        return await self.advance(site_key, by)

    async def advance(self, site_key: str, by: int | None) -> Advanced | NothingAhead:
        """Start the site's next item now (the rest of the programme moves with it). During a
        pause this also ends the pause."""
        async with self._uow.transaction():
            now = self._clock.now()
            await self._end_pause(site_key, by, now)
            plan = Plan(self._event, await self._uow.agenda.state(self._event.key, site_key), now)
            target = plan.first_unpushed()
            if target is None:
                return NothingAhead(site_key)
            if target.start > now:
                # Rounded down, so that the item's new start is never after now.
                seconds = math.floor((now - target.start).total_seconds())
                await self._uow.agenda.add_shift(
                    self._event.key,
                    site_key,
                    target.item.key,
                    seconds,
                    ShiftReason.NEXT,
                    by,
                    now,
                )
        report = await self._tick_one(site_key)
        self.wake()
        return Advanced(site_key, target.item, report.pushed.get((site_key, target.item.key), 0))

    async def pause(self, site_key: str, by: int | None) -> PauseChanged:
        async with self._uow.transaction():
            changed = await self._uow.agenda.pause(
                self._event.key, site_key, by, self._clock.now()
            )
        if changed:
            self.wake()
            self._live.publish(AgendaChanged(AgendaChange.PAUSED, site_key))
        return PauseChanged(site_key, paused=True, changed=changed)

    async def resume(self, site_key: str, by: int | None) -> Resumed | PauseChanged:
        """End a pause. An item whose start fell inside the pause starts now, and the rest of
        the programme moves by as much as it was late; if nothing fell due (the current item
        simply went on), every time stays as it was before the pause."""
        async with self._uow.transaction():
            now = self._clock.now()
            lasted = await self._end_pause(site_key, by, now)
        if lasted is None:
            return PauseChanged(site_key, paused=False, changed=False)
        report = await self._tick_one(site_key)
        self.wake()
        self._live.publish(AgendaChanged(AgendaChange.RESUMED, site_key))
        started = next((item for site, item in report.started if site == site_key), None)
        plan = await self.plan(site_key)
        slot = plan.slot(started) if started is not None else None
        upcoming = plan.after(slot) if slot is not None else plan.upcoming(self._clock.now())
        return Resumed(
            site_key,
            lasted,
            started=slot.item if slot is not None else None,
            notified=report.pushed.get((site_key, started), 0) if started else 0,
            next_item=upcoming.item if upcoming is not None else None,
            next_start=upcoming.start if upcoming is not None else None,
        )

    async def _end_pause(self, site_key: str, by: int | None, now: datetime) -> int | None:
        """Inside a transaction: lift the pause; returns how long it lasted in seconds, or
        None when the site was not paused.

        The pause's hold is dropped, not kept: the first item not yet pushed either still lies
        ahead at its time as it was before the pause (nothing changes), or its start fell
        inside the pause, and then it is moved to now, with every later item, by as much as it
        is late. The move is a shift in the database, so a restart sees the same plan."""
        state = await self._uow.agenda.state(self._event.key, site_key)
        if state.paused_at is None:
            return None
        lasted = max(0, math.floor((now - state.paused_at).total_seconds()))
        first = Plan(self._event, replace(state, paused_at=None), now).first_unpushed()
        # Rounded down, so that the item's new start is never after now: it is due at once.
        late = math.floor((now - first.start).total_seconds()) if first is not None else 0
        if first is not None and late > 0:
            await self._uow.agenda.add_shift(
                self._event.key, site_key, first.item.key, late, ShiftReason.RESUME, by, now
            )
        await self._uow.agenda.unpause(self._event.key, site_key)
        return lasted

    async def _tick_one(self, site_key: str) -> TickReport:
        site = self._event.site(site_key)
        if site is None:
            raise LookupError(f"no site {site_key!r} in the event")
        report = TickReport()
        await self._tick_site(site, report)
        if report.queued:
            self._on_queued()
        return report

    async def open_adhoc(
        self, site_key: str, group_key: str | None, text: str, by: int | None
    ) -> AdhocOpened:
        async with self._uow.transaction():
            now = self._clock.now()
            prompt_id = await self._uow.agenda.open_adhoc(
                self._event.key, site_key, group_key, text, by, now
            )
            recipients = await self._uow.agenda.recipients(self._event.key, site_key, group_key)
            notified = await self._enqueue_adhoc(site_key, prompt_id, text, recipients, now)
        self._on_queued()
        self._live.publish(AgendaChanged(AgendaChange.ADHOC, site_key))
        return AdhocOpened(site_key, group_key, prompt_id, notified)

    async def close_adhoc(self, site_key: str) -> int:
        async with self._uow.transaction():
            closed = await self._uow.agenda.close_adhoc(
                self._event.key, site_key, self._clock.now()
            )
        if closed:
            self._live.publish(AgendaChanged(AgendaChange.ADHOC, site_key))
        return closed

    # -- rendering and queueing ----------------------------------------------------------------

    def language(self, recipient: Recipient) -> str:
        return pick_language(
            recipient.language,
            recipient.telegram_language,
            self._texts.languages,
            self._event.default_language,
        )

    def render_item(self, plan: Plan, slot: Slot, lang: str, group_key: str | None) -> str:
        item = slot.item
        default = self._event.default_language
        tz = self._event.tz
        until = slot.end.astimezone(tz) if slot.end else ""
        return self._texts.fit(
            lang,
            f"push.{item.kind.value}",
            time=slot.start.astimezone(tz),
            until=until,
            title=item.title.get(lang, default),
            text=item.text_for(lang, default, plan.site_key, group_key),
        )

    def _push_prefix(self, site_key: str, item: AgendaItem) -> str:
        return f"push:{self._event.key}:{site_key}:{item.key}:"

    async def _to_each(
        self,
        recipients: Sequence[Recipient],
        key: Callable[[Recipient], str],
        kind: str,
        render: Callable[[str, str | None], str],
        now: datetime,
        expires_at: datetime | None = None,
    ) -> int:
        """Queue one message per recipient, keyed for exactly-once by `key`; `render` makes
        the text for a language and table, once each: a site's hundreds of recipients share
        a handful of texts."""
        made: dict[tuple[str, str | None], OutboxMessage] = {}
        deliveries = []
        for r in recipients:
            lang = self.language(r)
            message = made.get((lang, r.group_key))
            if message is None:
                message = made[(lang, r.group_key)] = OutboxMessage(render(lang, r.group_key))
            deliveries.append(
                NewDelivery(
                    key=key(r),
                    event_key=self._event.key,
                    chat_id=r.chat_id,
                    user_id=r.user_id,
                    kind=kind,
                    message=message,
                    expires_at=expires_at,
                )
            )
        return await self._uow.outbox.enqueue(deliveries, now)

    async def _push(
        self, plan: Plan, slot: Slot, recipients: Sequence[Recipient], now: datetime
    ) -> int:
        prefix = self._push_prefix(plan.site_key, slot.item)
        return await self._to_each(
            recipients,
            lambda r: f"{prefix}{r.user_id}",
            "push",
            lambda lang, group: self.render_item(plan, slot, lang, group),
            now,
            # Worth retrying through an outage until the next item starts (as planned now).
            expires_at=slot.end,
        )

    async def _remind(
        self, site_key: str, slot: Slot, recipients: Sequence[Recipient], now: datetime
    ) -> int:
        prefix = f"reminder:{self._event.key}:{site_key}:{slot.item.key}:"
        return await self._to_each(
            recipients,
            lambda r: f"{prefix}{r.user_id}",
            "reminder",
            lambda lang, _: self._texts(
                lang,
                "push.reminder",
                minutes=slot.item.remind_before or 0,
                title=slot.item.title.get(lang, self._event.default_language),
            ),
            now,
            expires_at=slot.end,
        )

    async def _enqueue_adhoc(
        self,
        site_key: str,
        prompt_id: int,
        text: str,
        recipients: Sequence[Recipient],
        now: datetime,
    ) -> int:
        return await self._to_each(
            recipients,
            lambda r: f"adhoc:{self._event.key}:{prompt_id}:{r.user_id}",
            "push",
            lambda lang, _: self._texts.fit(lang, "push.adhoc", text=text),
            now,
        )

    async def _notify_shift(
        self,
        shift_id: int,
        site_key: str,
        seconds: int,
        item: AgendaItem,
        start: datetime,
        recipients: Sequence[Recipient],
        now: datetime,
        *,
        open_prompt: AgendaItem | None = None,
    ) -> int:
        default = self._event.default_language

        def notice(lang: str, _group: str | None) -> str:
            text = self._texts(
                lang,
                "agenda.delayed" if seconds >= 0 else "agenda.brought_forward",
                minutes=round(abs(seconds) / 60),
                title=item.title.get(lang, default),
                time=start.astimezone(self._event.tz),
            )
            if open_prompt is not None:
                text += "\n" + self._texts(
                    lang,
                    "agenda.open_until",
                    title=open_prompt.title.get(lang, default),
                    time=start.astimezone(self._event.tz),
                )
            return text

        return await self._to_each(
            recipients,
            lambda r: f"shift:{self._event.key}:{shift_id}:{r.user_id}",
            "notice",
            notice,
            now,
        )

    async def _report_missed(self, site: Site, slot: Slot, now: datetime) -> int:
        """Tell the site's facilitators that an item passed while the bot was down."""
        targets = await self._facilitators(site)
        deliveries = self._notices(
            f"missed:{self._event.key}:{site.key}:{slot.item.key}",
            targets,
            lambda lang: self._texts(
                lang,
                "agenda.missed",
                title=slot.item.title.get(lang, self._event.default_language),
                time=slot.start.astimezone(self._event.tz),
            ),
        )
        return await self._uow.outbox.enqueue(deliveries, now)

    async def _facilitators(self, site: Site) -> list[tuple[int, str]]:
        """(chat, language) of who hears what is meant for the site's facilitators: once."""
        return await site_facilitator_targets(self._uow, self._event, site, self._texts.languages)

    def _notices(
        self, key: str, targets: list[tuple[int, str]], render: Callable[[str], str]
    ) -> list[NewDelivery]:
        """One notice to each facilitators' chat in its language, keyed so that it is queued
        once."""
        return [
            NewDelivery(
                key=f"{key}:{chat}",
                event_key=self._event.key,
                chat_id=chat,
                user_id=None,
                kind="notice",
                message=OutboxMessage(render(lang)),
                priority=-1,
            )
            for chat, lang in targets
        ]

    async def _report_undelivered(self, site: Site, plan: Plan, now: datetime) -> int:
        """Tell the site's facilitators, once per item, that its push could not be delivered
        to some participants before the next item started (Telegram was unreachable)."""
        missed = await self._uow.agenda.missed_pushes(self._event.key, site.key)
        if not missed:
            return 0
        targets = await self._facilitators(site)
        deliveries = []
        for item_key, count in missed.items():
            slot = plan.slot(item_key)
            if slot is None:
                continue

            def render(lang: str, slot: Slot = slot, count: int = count) -> str:
                return self._texts(
                    lang,
                    "delivery.missed",
                    title=slot.item.title.get(lang, self._event.default_language),
                    time=slot.start.astimezone(self._event.tz),
                    count=count,
                )

            deliveries += self._notices(
                f"undelivered:{self._event.key}:{site.key}:{item_key}", targets, render
            )
        return await self._uow.outbox.enqueue(deliveries, now)
