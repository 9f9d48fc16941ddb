"""Privacy: consent that is as easy to withdraw as to give, a person's own data on request,
erasure from every table, and retention.

Participants' inputs reveal political opinions, a special category of personal data under
GDPR Art. 9: what is kept is what the workshop needs, and no longer than the event says.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import date, datetime, timedelta

from bot.event import Event
from bot.i18n import Catalogue
from bot.models import (
    CarriedCopy,
    Input,
    InputState,
    Media,
    NewDelivery,
    OutboxMessage,
    UserRef,
)
from bot.ports import Clock, UnitOfWork

SCHEMA = "samtidig-mydata/1"


class PrivacyService:
    def __init__(
        self,
        uow: UnitOfWork,
        clock: Clock | None = None,
        event: Event | None = None,
        *,
        on_erased: Callable[[int], None] = lambda user_id: None,
        texts: Catalogue | None = None,
        on_queued: Callable[[], None] = lambda: None,
        rerender: Callable[[str, Sequence[Input]], OutboxMessage] | None = None,
    ):
        self._uow = uow
        self._clock = clock
        self._event = event
        # Without texts (the command line's purge) the copies in Telegram are not touched:
        # nothing runs there to send the edits.
        self._texts = texts
        self._on_queued = on_queued
        # Renders a relay or digest again from the highlights left in it (RelayService).
        self._rerender = rerender
        # Told the user id after an erasure, so in-memory caches forget the person too.
        self._on_erased = on_erased

    def _now(self) -> datetime:
        if self._clock is None:
            raise RuntimeError("PrivacyService needs a clock for this")
        return self._clock.now()

    async def forget(self, user: UserRef) -> bool:
        """Erase the person from every table; True when there was anything to erase."""
        now = self._now()
        async with self._uow.transaction():
            queued = await self._retract_copies(user.user_id, now)
            erased = await self._uow.privacy.erase(user.user_id, "request", now)
        await self._uow.checkpoint()
        if queued:
            self._on_queued()
        if erased is not None:
            self._on_erased(user.user_id)
        return erased is not None

    async def _retract_copies(self, user_id: int, now: datetime) -> int:
        """Queue, through the delivery worker (so the rate limits hold), the edits and deletions
        of the messages sent to others that carry the person's name or words: a feed card
        becomes a line saying it was withdrawn; a relay or digest that carried only their
        highlights is deleted (edited to that line where Telegram no longer allows deleting),
        one that carried others' too is edited to say a highlight was withdrawn. In the same
        transaction as the erasure, before it drops the rows that know the message ids."""
        if self._texts is None:
            return 0
        copies = await self._uow.privacy.copies_in_telegram(user_id)
        if not copies:
            return 0
        lang = self._texts.default if self._event is None else self._event.default_language
        deliveries = [await self._retraction(copy, lang) for copy in copies]
        return await self._uow.outbox.enqueue(deliveries, now)

    async def _retraction(self, copy: CarriedCopy, lang: str) -> NewDelivery:
        assert self._texts is not None  # noqa: S101 - checked by the caller
        remaining: list[Input] = []
        if copy.others and self._rerender is not None:
            for input_id in copy.others:
                other = await self._uow.inputs.get(input_id)
                if other is not None and other.state is InputState.VISIBLE:
                    remaining.append(other)
        if copy.media is not None:
            # A feed card or relayed copy that shows their photo, document or voice note: it
            # goes; where Telegram no longer lets the bot delete it, its caption is cleared
            # and its buttons go.
            message = OutboxMessage(
                self._texts(lang, "erasure.feed_card"),
                silent=True,
                delete_of=copy.message_id,
                media=Media(copy.media, None),
            )
        elif copy.kind == "feed":
            message = OutboxMessage(
                self._texts(lang, "erasure.feed_card"), silent=True, edit_of=copy.message_id
            )
        elif remaining and self._rerender is not None:
            message = replace(self._rerender(lang, remaining), edit_of=copy.message_id)
        elif copy.only_theirs:
            message = OutboxMessage(
                self._texts(lang, "erasure.relay_removed"), delete_of=copy.message_id
            )
        else:
            message = OutboxMessage(
                self._texts(lang, "erasure.relay_part"), edit_of=copy.message_id
            )
        return NewDelivery(
            key=f"erase:{copy.chat_id}:{copy.message_id}",
            event_key=None if self._event is None else self._event.key,
            chat_id=copy.chat_id,
            user_id=None,
            kind="erasure",
            message=message,
            priority=-1,  # before new messages: words taken back should not linger
        )

    async def withdraw(self, user: UserRef) -> bool:
        """Withdraw consent for the event: collection and pushes stop at once."""
        if self._event is None:
            raise RuntimeError("PrivacyService needs the event for this")
        async with self._uow.transaction():
            return await self._uow.privacy.withdraw_consent(
                user.user_id, self._event.key, self._now()
            )

    async def my_data(self, user: UserRef) -> bytes:
        """Everything stored about the person, as UTF-8 JSON."""
        async with self._uow.transaction():
            data = await self._uow.privacy.data_of(user.user_id)
        document = {"schema": SCHEMA, "exported_at": self._now().isoformat(), **data}
        return json.dumps(document, ensure_ascii=False, indent=2, default=str).encode("utf-8")

    async def purge_event(self, before: date | None = None) -> int | None:
        """Erase the personal data of everyone in the event, if it ended before `before` (or,
        without it, if its retention period has passed). Returns how many people were erased,
        None when the event is still within its time."""
        if self._event is None:
            raise RuntimeError("PrivacyService needs the event for this")
        held_until = before
        if held_until is None:
            days = self._event.event.retention_days
            if days is None:
                return None
            if self._event.event.date + timedelta(days=days) > self._now().date():
                return None
        elif self._event.event.date >= held_until:
            return None
        erased = 0
        now = self._now()
        async with self._uow.transaction():
            for user_id in await self._uow.privacy.people_of_event(self._event.key):
                await self._retract_copies(user_id, now)
                if await self._uow.privacy.erase(user_id, "retention", now) is not None:
                    erased += 1
        await self._uow.checkpoint()
        self._on_queued()
        return erased
