"""Privacy: consent that is as easy to withdraw as to give, a person's own data on request,
erasure from every table, and retention.

Participants' inputs reveal political opinions, a special category of personal data under
GDPR Art. 9: what is kept is what the workshop needs, and no longer than the event says.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, datetime, timedelta

from bot.event import Event
from bot.models import UserRef
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
    ):
        self._uow = uow
        self._clock = clock
        self._event = event
        # Told the user id after an erasure, so in-memory caches forget the person too.
        self._on_erased = on_erased

    def _now(self) -> datetime:
        if self._clock is None:
            raise RuntimeError("PrivacyService needs a clock for this")
        return self._clock.now()

    async def forget(self, user: UserRef) -> bool:
        """Erase the person from every table; True when there was anything to erase."""
        async with self._uow.transaction():
            erased = await self._uow.privacy.erase(user.user_id, "request", self._now())
        if erased is not None:
            self._on_erased(user.user_id)
        return erased is not None

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
        async with self._uow.transaction():
            for user_id in await self._uow.privacy.people_of_event(self._event.key):
                if await self._uow.privacy.erase(user_id, "retention", self._now()) is not None:
                    erased += 1
        return erased
