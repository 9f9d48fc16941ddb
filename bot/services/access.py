"""Who may do what, and in which language to speak to them.

Rights come from three places: `ORGANIZER_IDS` in the settings, the facilitators listed in the
event file (by id or @username, recorded when they first write), and secret role codes.
They are looked up at the moment of every privileged action, never taken from button data.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from bot.event import Event
from bot.i18n import pick_language
from bot.models import Role, RoleGrant, UserRef
from bot.ports import Clock, UnitOfWork


@dataclass(frozen=True, slots=True)
class Rights:
    organiser: bool
    facilitator_sites: frozenset[str]

    @property
    def role(self) -> Role:
        """The highest role, which decides what /help shows."""
        if self.organiser:
            return Role.ORGANISER
        if self.facilitator_sites:
            return Role.FACILITATOR
        return Role.PARTICIPANT

    def may_facilitate(self, site_key: str) -> bool:
        return self.organiser or site_key in self.facilitator_sites


class AccessService:
    def __init__(
        self,
        event: Event,
        uow: UnitOfWork,
        clock: Clock,
        *,
        organiser_ids: frozenset[int],
        ui_languages: tuple[str, ...],
        wake_agenda: Callable[[], None] = lambda: None,
    ) -> None:
        self._event = event
        self._uow = uow
        self._clock = clock
        self._organiser_ids = organiser_ids
        self._ui_languages = ui_languages
        # Someone reachable again is due the item that is on: the agenda engine's catch-up
        # sends it at its next tick, which this asks for at once.
        self._wake_agenda = wake_agenda
        # People whose listed roles are already recorded; saves a write on every update.
        self._noted: set[int] = set()

    async def note_contact(self, user: UserRef) -> list[Role]:
        """Record the roles the event file gives this person, the first time they write.

        Returns the roles that were new, so the caller can tell the person.
        """
        if user.user_id in self._noted:
            return []
        listed = [
            site.key
            for site in self._event.sites
            if user.user_id in site.facilitator_ids
            or (user.username is not None and user.username.lower() in site.facilitator_usernames)
        ]
        new: list[Role] = []
        if listed:
            now = self._clock.now()
            async with self._uow.transaction():
                await self._uow.participants.upsert(
                    user.user_id, user.chat_id, user.display_name, now, user.telegram_language
                )
                for site_key in listed:
                    if await self._uow.roles.grant(
                        self._event.key,
                        user.user_id,
                        Role.FACILITATOR,
                        site_key,
                        "event_file",
                        now,
                    ):
                        new.append(Role.FACILITATOR)
        self._noted.add(user.user_id)
        return new

    def forget_person(self, user_id: int) -> None:
        """After an erasure: a listed facilitator gets their role again when they next write."""
        self._noted.discard(user_id)

    async def rights(self, user: UserRef) -> Rights:
        async with self._uow.transaction():
            return await self.rights_within(user)

    async def rights_within(self, user: UserRef) -> Rights:
        """`rights`, for a caller already inside a transaction."""
        return self.rights_from(user, await self._uow.roles.of_user(self._event.key, user.user_id))

    def rights_from(self, user: UserRef, grants: Iterable[RoleGrant]) -> Rights:
        """The rights that `grants` (the person's rows of roles) and the settings give."""
        grants = list(grants)
        organiser = user.user_id in self._organiser_ids or any(
            g.role is Role.ORGANISER for g in grants
        )
        sites = frozenset(
            g.site_key for g in grants if g.role is Role.FACILITATOR and g.site_key is not None
        )
        return Rights(organiser=organiser, facilitator_sites=sites)

    async def language(self, user: UserRef) -> str:
        """The person's choice, else their Telegram language if we speak it, else the event's."""
        async with self._uow.transaction():
            participant = await self._uow.participants.get(user.user_id)
        chosen = participant.language if participant is not None else None
        return pick_language(
            chosen, user.telegram_language, self._ui_languages, self._event.default_language
        )

    def fallback_language(self, user: UserRef) -> str:
        return pick_language(
            None, user.telegram_language, self._ui_languages, self._event.default_language
        )

    async def set_reachable(self, user: UserRef, *, reachable: bool) -> None:
        """The person blocked the bot, or unblocked it; nothing is stored for a stranger."""
        async with self._uow.transaction():
            if reachable:
                await self._uow.participants.mark_reachable(user.user_id)
            else:
                await self._uow.participants.mark_unreachable(user.user_id, self._clock.now())
        if reachable:
            self._wake_agenda()

    async def set_language(self, user: UserRef, language: str) -> bool:
        if language not in self._ui_languages:
            return False
        async with self._uow.transaction():
            await self._uow.participants.upsert(
                user.user_id,
                user.chat_id,
                user.display_name,
                self._clock.now(),
                user.telegram_language,
            )
            await self._uow.participants.set_language(user.user_id, language)
        return True
