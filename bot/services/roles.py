"""Roles taken back: an organiser's `/revoke` and `/roles`.

Rights are looked up at every privileged action (`AccessService`), so a role ended here is
gone at the person's next command. The person is told, through the outbox like any message
the bot sends on its own initiative.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bot.event import Event
from bot.i18n import Catalogue, pick_language
from bot.models import NewDelivery, OutboxMessage, Role, RoleGrant
from bot.ports import Clock, UnitOfWork
from bot.services.access import AccessService


@dataclass(frozen=True, slots=True)
class Revoked:
    ended: tuple[RoleGrant, ...]  # empty: the person held no such role
    from_settings: bool  # an organiser of ORGANIZER_IDS, which only the settings can end


class RoleService:
    def __init__(
        self,
        event: Event,
        uow: UnitOfWork,
        clock: Clock,
        texts: Catalogue,
        access: AccessService,
        *,
        on_queued: Callable[[], None] = lambda: None,
    ) -> None:
        self._event = event
        self._uow = uow
        self._clock = clock
        self._texts = texts
        self._access = access
        self._on_queued = on_queued

    async def holders(self) -> Sequence[RoleGrant]:
        async with self._uow.transaction():
            return await self._uow.roles.holders(self._event.key)

    async def revoke(self, user_id: int, site_key: str | None) -> Revoked:
        """End the person's facilitator role at `site_key`, or every role they hold (organiser
        included) when no site is named. Only for callers who checked the organiser right."""
        now = self._clock.now()
        key = self._event.key
        async with self._uow.transaction():
            grants = [
                g
                for g in await self._uow.roles.of_user(key, user_id)
                if site_key is None or (g.role is Role.FACILITATOR and g.site_key == site_key)
            ]
            for g in grants:
                await self._uow.roles.revoke(key, user_id, g.role, g.site_key)
            person = await self._uow.participants.get(user_id) if grants else None
            if person is not None:
                lang = pick_language(
                    person.language, None, self._texts.languages, self._event.default_language
                )
                await self._uow.outbox.enqueue(
                    [
                        NewDelivery(
                            key=f"revoked:{key}:{user_id}:{now.isoformat()}",
                            event_key=key,
                            chat_id=person.chat_id,
                            user_id=user_id,
                            kind="notice",
                            message=OutboxMessage(self._texts(lang, "roles.revoked_notice")),
                            priority=-1,
                        )
                    ],
                    now,
                )
        # A facilitator listed in the event file is not given the role again in this run.
        self._access.keep_revoked(user_id)
        if grants:
            self._on_queued()
        return Revoked(tuple(grants), user_id in self._access.organiser_ids)
