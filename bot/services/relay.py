"""Relays: the sites work apart, yet inspire each other while they work.

A highlight (an input a facilitator starred, or one that passed the event's vote threshold)
reaches the participants of every other site, labelled with where it came from; a site's
angle is said with its first highlight relayed live to a site, and in every digest's section
for it. `live` events relay as highlights come, at most one relay message per site every few
minutes (the rest wait for the next); `digest` events collect them until the next cross-site
check-in, where each participant receives one digest with a section per other site (split
over several messages only beyond Telegram's length limit): nine messages at once would bury
a phone in a noisy room, and at Telegram's rate nine times as many take nine times as long to
arrive. Every relay is an outbox decision recorded together with
`highlight_relays`, so nothing travels twice, not even across a restart.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from bot.buttons import Buttons, RelayReaction
from bot.event import AgendaKind, Event, RelayMode, Site
from bot.i18n import (
    CAPTION_LIMIT,
    MESSAGE_LIMIT,
    Catalogue,
    Markup,
    pick_language,
    visible_length,
)
from bot.models import Input, InputKind, Media, NewDelivery, OutboxMessage, Recipient, UserRef
from bot.ports import Clock, UnitOfWork
from bot.services.audience import site_facilitator_targets
from bot.services.authors import author_label
from bot.services.plan import Plan, Slot

LIVE_COOLDOWN = timedelta(minutes=3)  # at most one live relay message per site this often
PER_MESSAGE = 5  # highlights in one relay message, and per site in a digest
CARD_LEAD = timedelta(minutes=2)  # the check-in card reaches facilitators this early
PREVIEW = 500  # characters of a highlight in a relay
ANGLE_PREVIEW = 140
SHARED_PREVIEW = 60  # characters of a highlight named in a digest as already shared live
RECEPTION_MILESTONES = frozenset({1, 3, 5, 10, 20, 50, 100})


@dataclass(frozen=True, slots=True)
class Reacted:
    input: Input
    on: bool
    reception: dict[str, int]


@dataclass(frozen=True, slots=True)
class DigestSection:
    """One other site in a cross-site digest: its figures and its highlights, each with its
    number in the digest (the 👍 buttons carry the same numbers)."""

    source: Site
    participants: int
    inputs: int
    highlights: tuple[tuple[int, Input], ...]
    # In a live event: its highlights this site already received live since the last
    # check-in, named briefly so the digest does not say "nothing new" about them.
    shared_live: tuple[Input, ...] = ()


@dataclass(frozen=True, slots=True)
class NotRelayedHere:
    """The highlight was not relayed to the person's site (or they are not checked in)."""


def _short(text: str, limit: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


class RelayService:
    def __init__(
        self,
        event: Event,
        uow: UnitOfWork,
        clock: Clock,
        texts: Catalogue,
        *,
        on_queued: Callable[[], None] = lambda: None,
    ) -> None:
        self._event = event
        self._uow = uow
        self._clock = clock
        self._texts = texts
        # Called after a reaction queued a report to the facilitators (wakes the worker).
        # Relays themselves are queued by the agenda engine's tick, which wakes it already.
        self._on_queued = on_queued

    @property
    def mode(self) -> RelayMode:
        return self._event.event.relay.mode

    def receives(self, site_key: str) -> bool:
        return site_key not in self._event.event.relay.exclude_sites

    def others(self, site_key: str) -> list[Site]:
        return [s for s in self._event.sites if s.key != site_key]

    # -- called by the agenda engine inside its transaction for each site --------------------

    async def tick_site(self, plan: Plan, now: datetime) -> int:
        """Live relays due to this site, and the check-in card before a cross-site check-in."""
        queued = await self._card(plan, now)
        if self.mode == RelayMode.LIVE and self.receives(plan.site_key):
            queued += await self._live(plan.site_key, now)
        return queued

    async def crosscheck_started(self, plan: Plan, slot: Slot, now: datetime) -> int:
        """At a cross-site check-in each participant of the site receives one digest: a section
        per other site with its figures and its highlights since the last check-in."""
        if not self.receives(plan.site_key):
            return 0
        key = self._event.key
        sections: list[DigestSection] = []
        number = 1
        since = max(
            (
                s.start
                for s in plan.slots
                if s.item.kind is AgendaKind.CROSSCHECK and s.start < slot.start
            ),
            default=None,
        )
        for source in self.others(plan.site_key):
            found = await self._uow.relay.pending(key, source.key, plan.site_key, PER_MESSAGE)
            participants, inputs = await self._uow.relay.site_figures(key, source.key)
            numbered = tuple(enumerate(found, number))
            live: tuple[Input, ...] = ()
            if self.mode == RelayMode.LIVE:
                live = tuple(
                    await self._uow.relay.relayed_live(
                        key, source.key, plan.site_key, since, PER_MESSAGE
                    )
                )
            sections.append(DigestSection(source, participants, inputs, numbered, live))
            number += len(numbered)
        if not sections:
            return 0
        recipients = await self._uow.agenda.recipients(key, plan.site_key)
        languages = sorted({self._language(r) for r in recipients}) or [
            self._event.default_language
        ]
        parts = self.pack_digest(languages, sections)
        queued = 0
        for index, part in enumerate(parts, 1):
            # The key names the check-in and the part, not what it holds: a check-in decided
            # again after a restart finds the same keys and queues nothing twice.
            decision = f"digest:{key}:{plan.site_key}:{slot.item.key}:{index}"
            rows = [section.highlights for section in part if section.highlights]

            def render(lang: str, part: list[DigestSection] = part, index: int = index) -> str:
                return self.render_digest(lang, part, index, len(parts))

            queued += await self._enqueue(
                decision,
                recipients,
                now,
                render,
                _reaction_buttons(rows),
                [pair for row in rows for pair in row],
            )
            await self._uow.relay.mark_relayed(
                [item.id for row in rows for _, item in row],
                plan.site_key,
                "digest",
                decision,
                now,
            )
        return queued

    def pack_digest(
        self, languages: Sequence[str], sections: Sequence[DigestSection]
    ) -> list[list[DigestSection]]:
        """The digest's sections grouped into messages that each fit Telegram's limit in every
        language (so a highlight travels in the same part for everyone). A section too long for
        one message on its own is cut between highlights, its heading repeated."""

        def fits(part: list[DigestSection], index: int) -> bool:
            # A later part's "(n/m)" is measured at its widest, as m is not known yet.
            return all(
                visible_length(self.render_digest(lang, part, index, 99)) <= MESSAGE_LIMIT
                for lang in languages
            )

        parts: list[list[DigestSection]] = [[]]
        for whole in sections:
            section, rest = whole, whole.highlights
            while True:
                current = parts[-1]
                take = len(rest)  # the most of the remaining highlights that fit in `current`
                while take > 0 and not fits([*current, _cut(section, rest[:take])], len(parts)):
                    take -= 1
                if take == len(rest) and fits([*current, _cut(section, rest)], len(parts)):
                    current.append(_cut(section, rest))
                    break
                if current and (take == 0 or fits([_cut(section, rest)], len(parts) + 1)):
                    parts.append([])  # the section starts in a message of its own
                    continue
                # Cut between highlights; at least one per message, so that this ends even
                # if an absurd event file makes a single highlight too long (never seen: the
                # texts in it are cut short when rendered).
                take = max(take, 1)
                current.append(_cut(section, rest[:take]))
                rest = rest[take:]
                if not rest:
                    break
                # What was shared live is said in the section's first message only.
                section = replace(section, shared_live=())
                parts.append([])
        return parts

    async def next_card_at(self, plan: Plan, now: datetime) -> datetime | None:
        moments = [
            s.start - CARD_LEAD
            for s in plan.slots
            if s.item.kind is AgendaKind.CROSSCHECK and s.start - CARD_LEAD > now
        ]
        return min(moments) if moments else None

    async def _live(self, to_site: str, now: datetime) -> int:
        key = self._event.key
        last = await self._uow.relay.last_live_relay(key, to_site)
        if last is not None and now - last < LIVE_COOLDOWN:
            return 0  # the rest are collected for the next relay message
        highlights: list[Input] = []
        for source in self.others(to_site):
            room = PER_MESSAGE - len(highlights)
            if room <= 0:
                break
            highlights += await self._uow.relay.pending(key, source.key, to_site, room)
        if not highlights:
            return 0
        recipients = await self._uow.agenda.recipients(key, to_site)
        # A site's angle travels with its first highlight to this site, not under every one.
        introduced = await self._uow.relay.sources_relayed_to(key, to_site)
        angles = {h.site_key for h in highlights} - introduced
        decision = f"relay:{key}:{to_site}:{min(h.id for h in highlights)}"
        queued = await self._enqueue(
            decision,
            recipients,
            now,
            lambda lang: self._render_live(lang, highlights, angles),
            _reaction_buttons([tuple(enumerate(highlights, 1))]),
            list(enumerate(highlights, 1)),
        )
        await self._uow.relay.mark_relayed(
            [h.id for h in highlights], to_site, "live", decision, now
        )
        return queued

    async def _card(self, plan: Plan, now: datetime) -> int:
        """Two minutes before a check-in, the facilitators' card: their own site's top
        highlights and figures, so whoever speaks on the video link has something to say."""
        slot = next(
            (
                s
                for s in plan.slots
                if s.item.kind is AgendaKind.CROSSCHECK
                and s.start - CARD_LEAD <= now < s.start
                and not plan.fired(s.item.key)
            ),
            None,
        )
        if slot is None:
            return 0
        key = self._event.key
        site = self._event.site(plan.site_key)
        if site is None:
            return 0
        targets = await self._facilitators(site)
        if not targets:
            return 0
        top = list(await self._uow.relay.top(key, site.key, 3))
        participants, inputs = await self._uow.relay.site_figures(key, site.key)
        texts = {
            lang: self._render_card(lang, site, slot, top, participants, inputs)
            for lang in {lang for _, lang in targets}
        }
        return await self._uow.outbox.enqueue(
            [
                NewDelivery(
                    key=f"card:{key}:{site.key}:{slot.item.key}:{chat}",
                    event_key=key,
                    chat_id=chat,
                    user_id=None,
                    kind="notice",
                    message=OutboxMessage(texts[lang]),
                    priority=-1,
                )
                for chat, lang in targets
            ],
            now,
        )

    async def _facilitators(self, site: Site) -> list[tuple[int, str]]:
        """(chat, language) of who hears what is meant for the site's facilitators: once."""
        return await site_facilitator_targets(self._uow, self._event, site, self._texts.languages)

    # -- reactions across sites ------------------------------------------------------------

    async def react(self, user: UserRef, input_id: int) -> Reacted | NotRelayedHere:
        key = self._event.key
        async with self._uow.transaction():
            checkin = await self._uow.checkins.get(key, user.user_id)
            consent = await self._uow.participants.active_consent(user.user_id, key)
            found = await self._uow.inputs.get(input_id)
            if (
                checkin is None
                or consent is None
                or found is None
                or found.event_key != key
                or not await self._uow.relay.was_relayed_to(input_id, checkin.site_key)
            ):
                return NotRelayedHere()
            now = self._clock.now()
            on = await self._uow.relay.toggle_reaction(
                input_id, user.user_id, checkin.site_key, now
            )
            reception = await self._uow.relay.reception(input_id)
            reported = on and sum(reception.values()) in RECEPTION_MILESTONES
            if reported:
                await self._report_reception(found, reception, now)
        if reported:
            self._on_queued()
        return Reacted(found, on, reception)

    async def _report_reception(
        self, item: Input, reception: dict[str, int], now: datetime
    ) -> None:
        """Tell the originating site's facilitators how their highlight was received."""
        key = self._event.key
        site = self._event.site(item.site_key)
        if site is None:
            return
        targets = await self._facilitators(site)
        total = sum(reception.values())

        def render(lang: str) -> str:
            per_site = ", ".join(
                f"{self._site_name(s, lang)} {n}" for s, n in sorted(reception.items())
            )
            return self._texts(
                lang, "relay.reception", total=total, sites=per_site, text=_short(item.text, 120)
            )

        texts = {lang: render(lang) for lang in {lang for _, lang in targets}}
        await self._uow.outbox.enqueue(
            [
                NewDelivery(
                    key=f"reception:{key}:{item.id}:{total}:{chat}",
                    event_key=key,
                    chat_id=chat,
                    user_id=None,
                    kind="feed",
                    message=OutboxMessage(texts[lang], silent=True),
                    priority=1,
                )
                for chat, lang in targets
            ],
            now,
        )

    # -- rendering -------------------------------------------------------------------------

    def _site_name(self, site_key: str, lang: str) -> str:
        site = self._event.site(site_key)
        return site.name.get(lang, self._event.default_language) if site else site_key

    def provenance(self, lang: str, item: Input, *, with_site: bool = True) -> Markup:
        """Where a highlight comes from, as HTML ready to go into another sentence; without
        the site under a digest's heading for that site."""
        default = self._event.default_language
        site = self._event.site(item.site_key)
        group = site.group(item.group_key) if site and item.group_key else None
        prompt = self._event.item(item.item_key) if item.item_key else None
        author = author_label(self._event, self._texts, lang, item, with_site=False)
        if with_site:
            where = self._texts(
                lang,
                "relay.from_table" if group else "relay.from_site",
                site=site.name.get(lang, default) if site else item.site_key,
                table=group.name.get(lang, default) if group else "",
                author=author,
            )
        elif group:
            where = self._texts(
                lang, "relay.at_table", table=group.name.get(lang, default), author=author
            )
        else:
            where = self._texts(lang, "relay.by_author", author=author)
        if prompt is None:
            return Markup(where)
        answered = self._texts(lang, "relay.to_prompt", prompt=prompt.title.get(lang, default))
        return Markup(f"{where} {answered}")

    def _highlight_lines(
        self, lang: str, highlights: Sequence[Input], angles: Collection[str] = ()
    ) -> list[str]:
        """The highlights, numbered; the angle of each site in `angles` under the first of
        its highlights only (said once, it is read; said under each, it is skipped)."""
        default = self._event.default_language
        lines = []
        told: set[str] = set()
        for n, item in enumerate(highlights, 1):
            site = self._event.site(item.site_key)
            provenance, text = self.provenance(lang, item), self._body(lang, item)
            if site is not None and item.site_key in angles and item.site_key not in told:
                told.add(item.site_key)
                angle = _short(site.angle.get(lang, default), ANGLE_PREVIEW)
                lines.append(
                    self._texts(
                        lang,
                        "relay.highlight",
                        n=n,
                        provenance=provenance,
                        text=text,
                        angle=angle,
                    )
                )
            else:
                # The same lines as a digest's highlight: no angle.
                lines.append(
                    self._texts(
                        lang, "relay.digest_highlight", n=n, provenance=provenance, text=text
                    )
                )
        return lines

    def without_erased(self, lang: str, remaining: Sequence[Input]) -> OutboxMessage:
        """A relay or digest again, after one of the highlights it carried was erased: a line
        saying so, then the others it carried, with their 👍 buttons."""
        angles = {item.site_key for item in remaining}
        lines = [
            self._texts(lang, "erasure.relay_kept"),
            *self._highlight_lines(lang, remaining, angles),
        ]
        return OutboxMessage(
            "\n\n".join(lines), buttons=_reaction_buttons([tuple(enumerate(remaining, 1))])
        )

    def _shared_name(self, lang: str, item: Input) -> str:
        """A highlight shared live, named briefly: its first words quoted, or, for a photo,
        file or voice note without a caption, what it is ("et foto"), not quoted as if someone
        had written the word."""
        if item.text or item.kind is InputKind.TEXT:
            return self._texts(
                lang,
                "relay.digest_shared_item",
                text=_short(self._body(lang, item), SHARED_PREVIEW),
            )
        return self._texts(lang, f"relay.digest_shared_{item.kind.value}")

    def _body(self, lang: str, item: Input) -> str:
        return _short(
            item.text or self._texts.plain(lang, f"feed.kind_{item.kind.value}"), PREVIEW
        )

    def _render_live(self, lang: str, highlights: Sequence[Input], angles: Collection[str]) -> str:
        return "\n\n".join(
            [
                self._texts(lang, "relay.live_heading"),
                *self._highlight_lines(lang, highlights, angles),
            ]
        )

    def render_digest(
        self, lang: str, sections: Sequence[DigestSection], part: int = 1, parts: int = 1
    ) -> str:
        """One message of a digest: the heading (on a later part, a line saying it continues),
        then each site's figures and angle, and its highlights (the angle is said once per
        site, not under each highlight); in a live event, first what of that site was already
        shared live since the last check-in, in a line, instead of "nothing new"."""
        default = self._event.default_language
        blocks = [
            self._texts(lang, "relay.digest_heading")
            if part == 1
            else self._texts(lang, "relay.digest_continued", part=part, parts=parts)
        ]
        for section in sections:
            source = section.source
            blocks.append(
                self._texts(
                    lang,
                    "relay.digest_site",
                    site=source.name.get(lang, default),
                    participants=section.participants,
                    inputs=section.inputs,
                    angle=_short(source.angle.get(lang, default), ANGLE_PREVIEW),
                )
            )
            if section.shared_live:
                shared = ", ".join(self._shared_name(lang, item) for item in section.shared_live)
                blocks.append(
                    self._texts(lang, "relay.digest_shared_live", highlights=Markup(shared))
                )
            elif not section.highlights:
                blocks.append(self._texts(lang, "relay.digest_empty"))
            blocks += [
                self._texts(
                    lang,
                    "relay.digest_highlight",
                    n=n,
                    provenance=self.provenance(lang, item, with_site=False),
                    text=self._body(lang, item),
                )
                for n, item in section.highlights
            ]
        return "\n\n".join(blocks)

    def _render_card(
        self,
        lang: str,
        site: Site,
        slot: Slot,
        top: Sequence[Input],
        participants: int,
        inputs: int,
    ) -> str:
        default = self._event.default_language
        lines = [
            self._texts(
                lang,
                "relay.card_heading",
                title=slot.item.title.get(lang, default),
                time=slot.start.astimezone(self._event.tz),
                participants=participants,
                inputs=inputs,
            )
        ]
        lines += (
            self._highlight_lines(lang, top) if top else [self._texts(lang, "relay.card_empty")]
        )
        return "\n\n".join(lines)

    def _language(self, recipient: Recipient) -> str:
        return pick_language(
            recipient.language,
            recipient.telegram_language,
            self._texts.languages,
            self._event.default_language,
        )

    async def _enqueue(
        self,
        decision: str,
        recipients: Sequence[Recipient],
        now: datetime,
        render: Callable[[str], str],
        buttons: Buttons,
        carried: Sequence[tuple[int, Input]] = (),
    ) -> int:
        """The relay message to each recipient, and after it, in the same chat, each photo,
        document or voice note it carries, shown itself (by its Telegram file id) under the
        highlight's number and provenance, with its own 👍."""
        rendered: dict[str, str] = {}
        shown: dict[tuple[str, int], OutboxMessage] = {}
        media = [(n, item) for n, item in carried if item.kind is not InputKind.TEXT]
        deliveries = []
        for r in recipients:
            lang = self._language(r)
            if lang not in rendered:
                rendered[lang] = render(lang)
            deliveries.append(
                NewDelivery(
                    key=f"{decision}:{r.user_id}",
                    event_key=self._event.key,
                    chat_id=r.chat_id,
                    user_id=r.user_id,
                    kind="relay",
                    message=OutboxMessage(rendered[lang], buttons=buttons),
                )
            )
            for n, item in media:
                if item.file_id is None:
                    continue
                if (lang, item.id) not in shown:
                    shown[lang, item.id] = self.media_message(lang, n, item)
                deliveries.append(
                    NewDelivery(
                        # Apart from the relay's own rows (`{decision}:{user}`): /forget finds
                        # them by the input they show.
                        key=f"{decision}:media{item.id}:{r.user_id}",
                        event_key=self._event.key,
                        chat_id=r.chat_id,
                        user_id=r.user_id,
                        kind="relay",
                        message=shown[lang, item.id],
                    )
                )
        return await self._uow.outbox.enqueue(deliveries, now)

    def media_message(self, lang: str, n: int, item: Input) -> OutboxMessage:
        """A relayed photo, document or voice note itself, captioned with its number in the
        relay message above and where it comes from (the caption, within Telegram's 1,024
        characters, and a 👍 of its own)."""
        assert item.file_id is not None  # noqa: S101 - only media with a file id
        caption = self._texts.fit(
            lang,
            "relay.digest_highlight",
            budget="text",
            limit=CAPTION_LIMIT,
            n=n,
            provenance=self.provenance(lang, item),
            text=item.text,
        )
        return OutboxMessage(
            caption,
            buttons=_reaction_buttons([((n, item),)]),
            media=Media(item.kind, item.file_id),
        )


def _cut(section: DigestSection, highlights: tuple[tuple[int, Input], ...]) -> DigestSection:
    return replace(section, highlights=highlights)


def _reaction_buttons(rows: Sequence[Sequence[tuple[int, Input]]]) -> Buttons:
    """A 👍 per highlight, labelled with its number in the message; a row per site in a
    digest. The callback names the input: a reaction counts only where it was relayed."""
    return tuple(
        tuple((f"👍 {n}", RelayReaction(item.id)) for n, item in row) for row in rows if row
    )
