"""Broadcasts: a facilitator's message to their site, an organiser's to one site or all.

Drafted first and shown as a preview; only a confirmation by the same person, whose rights
are checked again at that moment, queues the copies in the outbox.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bot.event import Event
from bot.i18n import Catalogue, pick_language, telegram_length
from bot.models import Broadcast, NewDelivery, OutboxMessage
from bot.ports import Clock, UnitOfWork
from bot.services.access import Rights

# Room for the header within Telegram's 4096 characters.
MAX_TEXT = 3800


@dataclass(frozen=True, slots=True)
class Drafted:
    broadcast: Broadcast
    recipients: int


@dataclass(frozen=True, slots=True)
class Queued:
    broadcast: Broadcast
    recipients: int


@dataclass(frozen=True, slots=True)
class Cancelled:
    broadcast: Broadcast


@dataclass(frozen=True, slots=True)
class NotAllowed:
    """The person may not broadcast there (any more)."""


@dataclass(frozen=True, slots=True)
class AlreadyDone:
    """Confirmed or cancelled before: a second press changes nothing."""


@dataclass(frozen=True, slots=True)
class TooLong:
    length: int
    limit: int = MAX_TEXT


class BroadcastService:
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
        self._on_queued = on_queued  # wakes the delivery worker

    def _allowed(self, rights: Rights, site_key: str | None) -> bool:
        return rights.organiser if site_key is None else rights.may_facilitate(site_key)

    def _sites(self, site_key: str | None, kind: str = "broadcast") -> list[str]:
        """Who receives it: a broadcast its site (or every site); a greeting every other
        site that receives relays."""
        if kind == "greeting":
            excluded = set(self._event.event.relay.exclude_sites)
            return [
                s.key for s in self._event.sites if s.key != site_key and s.key not in excluded
            ]
        return [site.key for site in self._event.sites] if site_key is None else [site_key]

    async def draft(
        self,
        user_id: int,
        rights: Rights,
        site_key: str | None,
        text: str,
        kind: str = "broadcast",
    ) -> Drafted | NotAllowed | TooLong:
        if not self._allowed(rights, site_key) or (kind == "greeting" and site_key is None):
            return NotAllowed()
        if telegram_length(text) > MAX_TEXT:
            return TooLong(telegram_length(text))
        async with self._uow.transaction():
            broadcast = await self._uow.broadcasts.draft(
                self._event.key, site_key, text, user_id, self._clock.now(), kind
            )
            # People, counted as /now counts them: everyone checked in who consented, those
            # who blocked the bot included (the report says how many of them it could reach).
            count = 0
            for key in self._sites(site_key, kind):
                count += len(
                    await self._uow.agenda.recipients(self._event.key, key, unreachable_too=True)
                )
        return Drafted(broadcast, count)

    async def confirm(
        self, user_id: int, rights: Rights, broadcast_id: int
    ) -> Queued | NotAllowed | AlreadyDone:
        async with self._uow.transaction():
            now = self._clock.now()
            broadcast = await self._uow.broadcasts.get(broadcast_id)
            if (
                broadcast is None
                or broadcast.event_key != self._event.key
                or broadcast.created_by != user_id
                or not self._allowed(rights, broadcast.site_key)
            ):
                return NotAllowed()
            if broadcast.sent_at is not None or broadcast.cancelled_at is not None:
                return AlreadyDone()
            deliveries: list[NewDelivery] = []
            sender = self._event.site(broadcast.site_key) if broadcast.site_key else None
            for site_key in self._sites(broadcast.site_key, broadcast.kind):
                site = sender if broadcast.kind == "greeting" else self._event.site(site_key)
                assert site is not None  # noqa: S101 - sites come from the event
                # Those who blocked the bot get a row too, settled as unreachable without a
                # try: the report's "N cannot be reached" is the figure /now shows.
                recipients = await self._uow.agenda.recipients(
                    self._event.key, site_key, unreachable_too=True
                )
                for r in recipients:
                    lang = pick_language(
                        r.language,
                        r.telegram_language,
                        self._texts.languages,
                        self._event.default_language,
                    )
                    header = (
                        "broadcast.greeting"
                        if broadcast.kind == "greeting"
                        else "broadcast.from_organisers"
                        if broadcast.site_key is None
                        else "broadcast.from_site"
                    )
                    text = self._texts.fit(
                        lang,
                        header,
                        site=site.name.get(lang, self._event.default_language),
                        text=broadcast.text,
                    )
                    deliveries.append(
                        NewDelivery(
                            key=f"broadcast:{self._event.key}:{broadcast.id}:{r.user_id}",
                            event_key=self._event.key,
                            chat_id=r.chat_id,
                            user_id=r.user_id,
                            kind="relay" if broadcast.kind == "greeting" else "broadcast",
                            message=OutboxMessage(text),
                        )
                    )
            queued = await self._uow.outbox.enqueue(deliveries, now)
            await self._uow.broadcasts.mark_sent(broadcast.id, queued, now)
        self._on_queued()
        return Queued(broadcast, queued)

    async def cancel(
        self, user_id: int, broadcast_id: int
    ) -> Cancelled | NotAllowed | AlreadyDone:
        async with self._uow.transaction():
            broadcast = await self._uow.broadcasts.get(broadcast_id)
            if broadcast is None or broadcast.created_by != user_id:
                return NotAllowed()
            if not await self._uow.broadcasts.mark_cancelled(broadcast_id, self._clock.now()):
                return AlreadyDone()
        return Cancelled(broadcast)

    async def progress(self, broadcast_id: int) -> dict[str, int]:
        """Outbox states of the broadcast's copies: how many were sent, are pending, failed."""
        async with self._uow.transaction():
            return await self._uow.agenda.delivery_counts(
                f"broadcast:{self._event.key}:{broadcast_id}:"
            )
