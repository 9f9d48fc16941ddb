"""Inputs: what participants write back, captured with where it came from.

A message is stored only from a checked-in participant who consented, tagged with site, table,
role and the prompt open at their site at that moment; the caller acknowledges it only after
`receive` returned (the transaction has committed), so an acknowledged input is never lost.
Facilitators see each new input in their feed (through the outbox), star, hide and show it;
participants vote.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from bot.buttons import Moderate, Moderation
from bot.event import AgendaItem, AgendaKind, Event, OutsidePrompt, RelayMode
from bot.i18n import CAPTION_LIMIT, MESSAGE_LIMIT, Catalogue, Markup
from bot.models import (
    DeliveryStatus,
    FacilitatorChat,
    HighlightReview,
    IncomingMessage,
    Input,
    InputKind,
    InputState,
    Media,
    NewDelivery,
    OutboxMessage,
    Role,
    UserRef,
)
from bot.ports import Clock, UnitOfWork
from bot.services.access import AccessService, Rights
from bot.services.audience import facilitator_targets, site_facilitator_targets
from bot.services.authors import author_label
from bot.services.live import NOBODY, InputChange, InputChanged, Publisher
from bot.services.lostchats import facilitator_group
from bot.services.plan import OpenPrompt, Plan

FLOOD_LIMIT = 20  # messages …
FLOOD_WINDOW = 10.0  # … in this many seconds, then a participant is slowed down


@dataclass(frozen=True, slots=True)
class Stored:
    input: Input
    general: bool  # no prompt was open: kept as a general input


@dataclass(frozen=True, slots=True)
class Duplicate:
    input_id: int


@dataclass(frozen=True, slots=True)
class NotCheckedIn:
    pass


@dataclass(frozen=True, slots=True)
class NoOpenPrompt:
    """Not stored: the event wants messages only while a prompt is open."""

    next_item: AgendaItem | None
    next_start: datetime | None


@dataclass(frozen=True, slots=True)
class Flooded:
    """Not stored: too many messages too fast. `warn` is True once per window."""

    warn: bool


@dataclass(frozen=True, slots=True)
class Edited:
    input: Input
    review: HighlightReview | None  # it was a highlight: now held until starred again


@dataclass(frozen=True, slots=True)
class Unknown:
    """Not one of this person's inputs (or withdrawn): nothing to do."""


@dataclass(frozen=True, slots=True)
class Withdrawn:
    input: Input


@dataclass(frozen=True, slots=True)
class NotAllowed:
    pass


@dataclass(frozen=True, slots=True)
class Moderated:
    input: Input
    starred_by_me: bool
    review: HighlightReview | None = None  # an edited highlight: where it stands


@dataclass(frozen=True, slots=True)
class Voted:
    input: Input
    on: bool


@dataclass(frozen=True, slots=True)
class PromptView:
    """The latest inputs of a site for the prompt open now, with counts per table."""

    site_key: str
    prompt: OpenPrompt | None
    title: str
    items: list[Input]
    counts: dict[str | None, int]
    my_votes: set[int] = field(default_factory=set)
    quiet: list[str] = field(default_factory=list)  # tables with no input yet


@dataclass(frozen=True, slots=True)
class QuietTables:
    """One question open at a site now, and which of the tables it is put to have no input."""

    title: str
    tables: list[str]  # the tables the question is put to, in the event's order
    quiet: list[str]  # of those, the tables with no input to it yet


class FloodGate:
    """A sliding window per person, in memory: a burst is absorbed, a flood slowed."""

    def __init__(
        self,
        limit: int = FLOOD_LIMIT,
        window: float = FLOOD_WINDOW,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._limit, self._window, self._monotonic = limit, window, monotonic
        self._seen: dict[int, deque[float]] = {}
        self._warned: dict[int, float] = {}

    def admit(self, user_id: int) -> Flooded | None:
        now = self._monotonic()
        seen = self._seen.setdefault(user_id, deque())
        while seen and now - seen[0] > self._window:
            seen.popleft()
        if len(seen) < self._limit:
            seen.append(now)
            if len(self._seen) > 10_000:  # keep memory bounded over a long day
                self._forget(now)
            return None
        warn = now - self._warned.get(user_id, float("-inf")) > self._window
        if warn:
            self._warned[user_id] = now
        return Flooded(warn)

    def _forget(self, now: float) -> None:
        for user_id in [u for u, s in self._seen.items() if not s or now - s[-1] > self._window]:
            del self._seen[user_id]


class InputService:
    def __init__(
        self,
        event: Event,
        uow: UnitOfWork,
        clock: Clock,
        texts: Catalogue,
        access: AccessService,
        gate: FloodGate | None = None,
        *,
        on_queued: Callable[[], None] = lambda: None,
        wake_agenda: Callable[[], None] = lambda: None,
        live: Publisher = NOBODY,
    ) -> None:
        self._event = event
        self._access = access
        self._live = live  # told of each committed change (the walls)
        self._uow = uow
        self._clock = clock
        self._texts = texts
        self._gate = gate or FloodGate()
        self._on_queued = on_queued  # feed cards were queued: wakes the delivery worker
        # A new highlight in a live event is due to travel now: the agenda engine, which
        # relays, is told at once instead of finding it at its next heartbeat.
        self._wake_agenda = wake_agenda

    # -- intake --------------------------------------------------------------------------------

    async def receive(
        self, user: UserRef, message: IncomingMessage
    ) -> Stored | Duplicate | NotCheckedIn | NoOpenPrompt | Flooded:
        """Store the message as an input, all in one transaction."""
        key = self._event.key
        async with self._uow.transaction():
            admission = await self._uow.inputs.admission(
                key, user.user_id, message.chat_id, message.message_id
            )
            if admission.existing_input_id is not None:
                return Duplicate(admission.existing_input_id)
            flooded = self._gate.admit(user.user_id)
            if flooded is not None:
                return flooded
            checkin = admission.checkin
            site = self._event.site(checkin.site_key) if checkin else None
            if checkin is None or not admission.consented or site is None:
                return NotCheckedIn()
            if checkin.group_key is None and site.groups:
                return NotCheckedIn()
            now = self._clock.now()
            plan = Plan(self._event, await self._uow.agenda.state(key, site.key), now)
            prompt = plan.open_prompt(now, checkin.group_key)
            if prompt is None and self._event.event.outside_prompt == OutsidePrompt.REDIRECT:
                upcoming = next(
                    (s for s in plan.slots if s.start > now and s.item.kind is AgendaKind.PROMPT),
                    None,
                )
                return NoOpenPrompt(
                    upcoming.item if upcoming else None, upcoming.start if upcoming else None
                )
            rights = self._access.rights_from(user, admission.grants)
            # A facilitator of another site writes here as a participant.
            role = (
                Role.ORGANISER
                if rights.organiser
                else Role.FACILITATOR
                if site.key in rights.facilitator_sites
                else Role.PARTICIPANT
            )
            stored = await self._uow.inputs.add(
                event_key=key,
                user_id=user.user_id,
                site_key=site.key,
                group_key=checkin.group_key,
                role=role.value,
                category_key=checkin.category_key,
                # A record of the choice when written; how the input is shown follows the
                # author's choice as it is now (see storage.inputs.CHOSEN_ANONYMITY).
                anonymous=bool(checkin.anonymous),
                item_key=prompt.item_key if prompt else None,
                adhoc_id=prompt.adhoc_id if prompt else None,
                message=message,
                now=now,
            )
            if stored is None:  # the same update, delivered again
                return Duplicate(0)
            carded = await self._feed(stored, admission.facilitators, now)
        if carded:
            self._on_queued()  # a wake-up without a card would cost the worker a transaction
        self._live.publish(InputChanged(InputChange.ADDED, stored.site_key, stored.id))
        return Stored(stored, general=prompt is None)

    async def edit(
        self, user: UserRef, chat_id: int, message_id: int, text: str
    ) -> Edited | Unknown:
        async with self._uow.transaction():
            found = await self._uow.inputs.by_message(chat_id, message_id)
            if found is None or found.user_id != user.user_id:
                return Unknown()
            if found.state is InputState.WITHDRAWN or found.text == text:
                return Unknown()
            # After /withdraw nothing new is stored, an edit of an earlier input included.
            if await self._uow.participants.active_consent(user.user_id, found.event_key) is None:
                return Unknown()
            now = self._clock.now()
            await self._uow.inputs.edit(found.id, text, now)
            # A highlight carries the text that was approved: edited, it is held back from
            # the sites it has not reached yet until a facilitator stars it again.
            held = await self._uow.relay.hold_highlight(found.id, now)
            review = await self._uow.relay.review(found.id) if held else None
            edited = await self._uow.inputs.get(found.id)
            assert edited is not None  # noqa: S101 - just edited
            queued = await self._update_cards(edited, review, now)
        if queued:
            self._on_queued()
        self._live.publish(InputChanged(InputChange.EDITED, edited.site_key, edited.id))
        return Edited(edited, review)

    async def _update_cards(
        self,
        item: Input,
        review: HighlightReview | None,
        now: datetime,
        *,
        change: str | None = None,
    ) -> int:
        """The input's feed cards show it as it is now: a card not sent yet is rewritten in
        the outbox; a sent one is edited through the outbox (so the rate limits hold and a
        restart loses nothing), superseding an edit of it still waiting there. `change` names
        an update that is not a text edit (the text edits are numbered)."""
        prefix = f"feed:{self._event.key}:{item.id}:"
        rows = await self._uow.outbox.with_prefix(prefix)
        cards = [row for row in rows if row.key == f"{prefix}{row.chat_id}"]
        superseded = [
            row.id for row in rows if row not in cards and row.status is DeliveryStatus.PENDING
        ]
        await self._uow.outbox.drop_pending(superseded)
        # Each card again in the language it was drawn in: its chat's, as for a new card.
        languages = await self._card_languages(item)
        drawn: dict[str, OutboxMessage] = {}
        edits = change or str(len(await self._uow.inputs.history(item.id)))
        deliveries = []
        for row in cards:
            lang = languages.get(row.chat_id, self._event.default_language)
            if lang not in drawn:
                drawn[lang] = self.feed_card(item, lang, review)
            card = drawn[lang]
            if row.status is DeliveryStatus.PENDING:
                await self._uow.outbox.replace_pending(row.id, card)
            elif row.status is DeliveryStatus.SENT and row.telegram_message_id is not None:
                deliveries.append(
                    NewDelivery(
                        key=f"{row.key}:edit:{edits}",
                        event_key=self._event.key,
                        chat_id=row.chat_id,
                        user_id=None,
                        kind="feed",
                        message=replace(
                            card,
                            edit_of=row.telegram_message_id,
                            media=card.media and Media(card.media.kind, None),
                        ),
                        priority=1,
                    )
                )
        return await self._uow.outbox.enqueue(deliveries, now)

    async def _card_languages(self, item: Input) -> dict[int, str]:
        """The language of each chat that receives the site's feed cards."""
        site = self._event.site(item.site_key)
        if site is None:
            return {}
        targets = await site_facilitator_targets(
            self._uow, self._event, site, self._texts.languages
        )
        return dict(targets)

    # -- the author's own inputs -----------------------------------------------------------------

    async def mine(self, user: UserRef, limit: int = 20) -> tuple[list[Input], int]:
        """The newest `limit` of the person's inputs, and how many there are in all."""
        async with self._uow.transaction():
            items = list(await self._uow.inputs.of_user(self._event.key, user.user_id, limit))
            total = await self._uow.inputs.count_of_user(self._event.key, user.user_id)
        return items, total

    async def withdraw(self, user: UserRef, input_id: int | None = None) -> Withdrawn | Unknown:
        """Withdraw one input, or (None) the person's latest: it leaves every export, and its
        feed cards say so and can no longer be starred."""
        async with self._uow.transaction():
            if input_id is None:
                latest = await self._uow.inputs.of_user(self._event.key, user.user_id, 1)
                found = latest[0] if latest else None
            else:
                found = await self._uow.inputs.get(input_id)
            if (
                found is None
                or found.user_id != user.user_id
                or found.state is InputState.WITHDRAWN
            ):
                return Unknown()
            now = self._clock.now()
            await self._uow.inputs.set_state(found.id, InputState.WITHDRAWN, user.user_id, now)
            withdrawn = await self._uow.inputs.get(found.id)
            assert withdrawn is not None  # noqa: S101 - just withdrawn
            queued = await self._update_cards(withdrawn, None, now, change="withdrawn")
        if queued:
            self._on_queued()
        self._live.publish(InputChanged(InputChange.WITHDRAWN, found.site_key, found.id))
        return Withdrawn(found)

    # -- facilitators ----------------------------------------------------------------------------

    async def moderate(
        self, user: UserRef, rights: Rights, input_id: int, action: Moderation
    ) -> Moderated | NotAllowed | Unknown:
        """Star, hide or show an input of a site the person facilitates, or approve the edited
        text of a highlight held since its edit."""
        async with self._uow.transaction():
            found = await self._uow.inputs.get(input_id)
            if found is None or found.event_key != self._event.key:
                return Unknown()
            if not rights.may_facilitate(found.site_key):
                return NotAllowed()
            if found.state is InputState.WITHDRAWN:
                return Unknown()
            now = self._clock.now()
            starred = False
            if action in (Moderation.STAR, Moderation.APPROVE) and (
                await self._uow.participants.get(user.user_id) is None
            ):
                # An organiser from the settings may never have written to the bot; a star
                # names its giver. A private chat's id is its user's id.
                await self._uow.participants.upsert(
                    user.user_id, user.user_id, user.display_name, now, user.telegram_language
                )
            if action is Moderation.APPROVE:
                # "Star again" under a card that showed the edited text: that text is approved
                # and travels on. Only this button releases a held highlight; a plain star
                # pressed on a card not yet updated must not approve words its presser has
                # not seen. On an input no longer held it changes nothing.
                if await self._uow.relay.release_highlight(found.id):
                    await self._uow.inputs.add_star(found.id, user.user_id, now)
                    starred = True
            elif action is Moderation.STAR:
                starred = await self._uow.inputs.toggle_star(found.id, user.user_id, now)
                # A starred input is a highlight: the agenda engine relays it to the other
                # sites. Unstarred by everyone, it stops being one unless it has travelled.
                if starred:
                    await self._uow.relay.add_highlight(
                        found.id, found.event_key, found.site_key, "star", now
                    )
                elif not (await self._uow.inputs.get(found.id) or found).stars:
                    await self._uow.relay.drop_highlight_if_unrelayed(found.id)
            else:
                state = InputState.HIDDEN if action is Moderation.HIDE else InputState.VISIBLE
                await self._uow.inputs.set_state(found.id, state, user.user_id, now)
            updated = await self._uow.inputs.get(found.id)
            review = await self._uow.relay.review(found.id)
        assert updated is not None  # noqa: S101 - just read
        if starred:
            self._highlighted()
        change = {
            Moderation.STAR: InputChange.STARRED,
            Moderation.APPROVE: InputChange.STARRED,
            Moderation.HIDE: InputChange.HIDDEN,
            Moderation.SHOW: InputChange.SHOWN,
        }[action]
        self._live.publish(InputChanged(change, updated.site_key, updated.id))
        return Moderated(updated, starred, review)

    async def view(self, user: UserRef, site_key: str, lang: str, limit: int = 10) -> PromptView:
        """The latest visible inputs of the site for the prompt open now, its title in `lang`."""
        key = self._event.key
        async with self._uow.transaction():
            now = self._clock.now()
            plan = Plan(self._event, await self._uow.agenda.state(key, site_key), now)
            checkin = await self._uow.checkins.get(key, user.user_id)
            group = checkin.group_key if checkin and checkin.site_key == site_key else None
            prompt = plan.open_prompt(now, group)
            if prompt is None:
                return PromptView(site_key, None, "", [], {})
            item_key, adhoc_id = prompt.item_key, prompt.adhoc_id
            items = list(
                await self._uow.inputs.for_prompt(key, site_key, item_key, adhoc_id, limit)
            )
            counts = await self._uow.inputs.counts_by_group(key, site_key, item_key, adhoc_id)
            votes = await self._uow.inputs.voted_by(user.user_id, [i.id for i in items])
        site = self._event.site(site_key)
        quiet = [g.key for g in site.groups if not counts.get(g.key)] if site else []
        title = self._title(plan, prompt, lang)
        return PromptView(site_key, prompt, title, items, counts, votes, quiet)

    async def quiet(self, site_key: str, lang: str) -> list[QuietTables]:
        """Every question open at the site now (titled in `lang`), with the tables that have
        not answered it.

        Each table answers one question at a time (its own ad-hoc question, else the site's
        ad-hoc question, else the agenda's prompt), so the tables are grouped by the question
        they answer: a table's ad-hoc question is counted for that table only."""
        key = self._event.key
        site = self._event.site(site_key)
        tables = [g.key for g in site.groups] if site is not None and site.groups else [None]
        found: list[QuietTables] = []
        async with self._uow.transaction():
            now = self._clock.now()
            plan = Plan(self._event, await self._uow.agenda.state(key, site_key), now)
            asked: dict[tuple[str | None, int | None], tuple[OpenPrompt, list[str | None]]] = {}
            for table in tables:
                prompt = plan.open_prompt(now, table)
                if prompt is not None:
                    entry = asked.setdefault((prompt.item_key, prompt.adhoc_id), (prompt, []))
                    entry[1].append(table)
            for (item_key, adhoc_id), (prompt, put_to) in asked.items():
                counts = await self._uow.inputs.counts_by_group(key, site_key, item_key, adhoc_id)
                found.append(
                    QuietTables(
                        self._title(plan, prompt, lang),
                        [t for t in put_to if t is not None],
                        [t for t in put_to if t is not None and not counts.get(t)],
                    )
                )
        return found

    def _title(self, plan: Plan, prompt: OpenPrompt, lang: str) -> str:
        default = self._event.default_language
        if prompt.item_key is not None:
            item = self._event.item(prompt.item_key)
            return item.title.get(lang, default) if item else prompt.item_key
        adhoc = next((a for a in plan.state.adhoc if a.id == prompt.adhoc_id), None)
        return adhoc.text if adhoc else ""

    # -- votes -----------------------------------------------------------------------------------

    async def vote(self, user: UserRef, input_id: int) -> Voted | NotAllowed | Unknown:
        """A 👍 on an input of the voter's own site, toggled by pressing again."""
        key = self._event.key
        async with self._uow.transaction():
            found = await self._uow.inputs.get(input_id)
            if found is None or found.event_key != key or found.state is not InputState.VISIBLE:
                return Unknown()
            checkin = await self._uow.checkins.get(key, user.user_id)
            consent = await self._uow.participants.active_consent(user.user_id, key)
            if checkin is None or consent is None or checkin.site_key != found.site_key:
                return NotAllowed()
            if found.user_id == user.user_id:
                return NotAllowed()
            now = self._clock.now()
            on = await self._uow.inputs.toggle_vote(found.id, user.user_id, now)
            updated = await self._uow.inputs.get(found.id)
            threshold = self._event.event.relay.vote_threshold
            highlighted = bool(threshold and updated is not None and updated.votes >= threshold)
            if highlighted:
                await self._uow.relay.add_highlight(found.id, key, found.site_key, "votes", now)
        assert updated is not None  # noqa: S101 - just read
        if highlighted:
            self._highlighted()
        self._live.publish(InputChanged(InputChange.VOTED, updated.site_key, updated.id))
        return Voted(updated, on)

    def _highlighted(self) -> None:
        """After the commit of a new highlight."""
        if self._event.event.relay.mode is RelayMode.LIVE:
            self._wake_agenda()

    # -- the facilitators' feed ------------------------------------------------------------------

    def feed_card(
        self, item: Input, lang: str, review: HighlightReview | None = None
    ) -> OutboxMessage:
        """The card a facilitator sees for an input, with its moderation buttons; an edited
        input says so, and an edited highlight whether it waits for a star again."""
        texts, event = self._texts, self._event
        default = event.default_language
        site = event.site(item.site_key)
        group = site.group(item.group_key) if site and item.group_key else None
        prompt = event.item(item.item_key) if item.item_key else None
        where = (
            group.name.get(lang, default)
            if group
            else (site.name.get(lang, default) if site else "")
        )
        about = (
            prompt.title.get(lang, default)
            if prompt
            else texts.plain(lang, "feed.adhoc" if item.adhoc_id else "feed.general")
        )
        body, media, limit = item.text, None, MESSAGE_LIMIT
        if item.kind is not InputKind.TEXT and item.file_id:
            # The photo, document or voice note itself, the card as its caption: facilitators
            # star what they have seen and heard.
            media, limit = Media(item.kind, item.file_id), CAPTION_LIMIT
        elif item.kind is not InputKind.TEXT:
            body = f"[{texts.plain(lang, f'feed.kind_{item.kind.value}')}] {body}".strip()
        state = {
            InputState.VISIBLE: "",
            InputState.HIDDEN: texts.plain(lang, "feed.hidden"),
            InputState.WITHDRAWN: texts.plain(lang, "feed.withdrawn"),
        }[item.state]
        note = ""
        held = review is not None and review.held
        if item.edited_at is not None:
            time = item.edited_at.astimezone(event.tz)
            if held and review is not None and review.relayed_sites:
                note = texts(lang, "feed.edited_relayed", time=time)
            elif held:
                note = texts(lang, "feed.edited_held", time=time)
            else:
                note = texts(lang, "feed.edited", time=time)
        text = texts.fit(
            lang,
            "feed.card",
            where=where,
            about=about,
            author=author_label(event, texts, lang, item),
            text=body,
            stars=item.stars,
            votes=item.votes,
            state=state,
            note=Markup(note),
            limit=limit,
        )
        if item.state is InputState.WITHDRAWN:
            # Nothing left to moderate: the author took it back.
            return OutboxMessage(text, silent=True, media=media)
        toggle, label = (
            (Moderation.HIDE, "feed.hide")
            if item.state is InputState.VISIBLE
            else (Moderation.SHOW, "feed.show")
        )
        buttons = (
            (
                (
                    texts.plain(
                        lang, "feed.star_again" if held else "feed.star", stars=item.stars
                    ),
                    Moderate(Moderation.APPROVE if held else Moderation.STAR, item.id),
                ),
                (texts.plain(lang, label), Moderate(toggle, item.id)),
            ),
        )
        return OutboxMessage(text, buttons=buttons, silent=True, media=media)

    async def _feed(
        self, item: Input, facilitators: Sequence[FacilitatorChat], now: datetime
    ) -> int:
        """Queue the new input's card to the site's facilitators (their group chat, or else
        each facilitator's private chat in their language); how many were queued."""
        site = self._event.site(item.site_key)
        if site is None:
            return 0
        targets = [
            (chat, lang)
            for chat, lang in facilitator_targets(
                self._event,
                await facilitator_group(self._uow, site),
                facilitators,
                self._texts.languages,
            )
            if chat != item.chat_id
        ]
        if not targets:
            return 0
        cards: dict[str, OutboxMessage] = {}
        for _, lang in targets:
            if lang not in cards:
                cards[lang] = self.feed_card(item, lang)
        return await self._uow.outbox.enqueue(
            [
                NewDelivery(
                    key=f"feed:{self._event.key}:{item.id}:{chat}",
                    event_key=self._event.key,
                    chat_id=chat,
                    user_id=None,
                    kind="feed",
                    message=cards[lang],
                    priority=1,  # after pushes: a prompt reaching a room matters more
                )
                for chat, lang in targets
            ],
            now,
        )
