"""Who may do what, on which site, and in which language to speak to them.

Rights come from three places: `ORGANIZER_IDS` in the settings, the facilitators listed in the
event file (by id or @username, recorded when they first write), and secret role codes.
They are looked up at the moment of every privileged action, never taken from button data.
Which site a command acts on is decided in one place, `AccessService.site_for`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from enum import Enum
from typing import Literal, overload

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

    @property
    def any(self) -> bool:
        """A facilitator somewhere, or an organiser."""
        return self.organiser or bool(self.facilitator_sites)


class Purpose(Enum):
    """What a person asks to do on a site, which decides who may name which site."""

    PROGRAMME = "programme"  # /agenda: anyone with a place at the event, any site by name
    INPUTS = "inputs"  # /inputs: one's own site, or a site one facilitates
    FACILITATE = "facilitate"  # /now … /relay, /quiet: facilitators of the site, organisers
    BROADCAST = "broadcast"  # as FACILITATE, and `all` for organisers
    REPORT = "report"  # /stats, /export: as FACILITATE, several sites at once

    @property
    def needs_role(self) -> bool:
        return self not in {Purpose.PROGRAMME, Purpose.INPUTS}


@dataclass(frozen=True, slots=True)
class OnSite:
    """The site the person acts on, and whether as its facilitator (or an organiser) or as a
    participant checked in there."""

    site_key: str
    facilitator: bool
    named: bool  # the first word named the site; what the command says follows it
    rights: Rights


@dataclass(frozen=True, slots=True)
class OnSites:
    """Several sites: an organiser's `/broadcast all`, or a report (/stats, /export)."""

    site_keys: tuple[str, ...] | None  # in the event's order; None: every site
    named: tuple[str, ...]  # the words that named sites (or `all`)
    rights: Rights


@dataclass(frozen=True, slots=True)
class NotFacilitator:
    """The command is for facilitators and organisers."""


@dataclass(frozen=True, slots=True)
class NotYourSite:
    """The person named a site they may not act on."""


@dataclass(frozen=True, slots=True)
class AllOnlyForOrganisers:
    """`all` sites at once is for organisers."""


@dataclass(frozen=True, slots=True)
class WhichSite:
    """More than one site would do: the person has to name one."""

    site_keys: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class NotCheckedIn:
    """The person has no place at the event: not checked in, and no role. `withdrawn`: they
    were, until they withdrew their consent (they are told what that means, not to check in
    as if they never had)."""

    withdrawn: bool = False


Refusal = NotFacilitator | NotYourSite | AllOnlyForOrganisers | WhichSite | NotCheckedIn


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
        # The same, from a facilitators' group chat: their private chat still to be noted.
        self._noted_in_group: set[int] = set()

    async def note_contact(self, user: UserRef, *, in_group: bool = False) -> list[Role]:
        """Record the roles the event file gives this person, the first time they write.

        `in_group`: they wrote in a site's facilitators' group chat, perhaps before ever
        writing to the bot: their roles count there too. A group message says nothing about
        their private chat, so a person already known is left as they are, and one not yet
        known is recorded with their private chat (whose id is their user id in Telegram);
        their first private message records them as usual.

        Returns the roles that were new, so the caller can tell the person.
        """
        if user.user_id in self._noted or (in_group and user.user_id in self._noted_in_group):
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
                if not in_group:
                    await self._uow.participants.upsert(
                        user.user_id, user.chat_id, user.display_name, now, user.telegram_language
                    )
                elif await self._uow.participants.get(user.user_id) is None:
                    await self._uow.participants.upsert(
                        user.user_id, user.user_id, user.display_name, now, user.telegram_language
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
        if in_group:
            self._noted_in_group.add(user.user_id)
        else:
            self._noted.add(user.user_id)
        return new

    @property
    def organiser_ids(self) -> frozenset[int]:
        """The organisers of the settings: organisers whether or not they ever wrote."""
        return self._organiser_ids

    def keep_revoked(self, user_id: int) -> None:
        """After `/revoke`: a listed facilitator is not given the role again in this run (a
        restart reads the event file afresh; remove them there too)."""
        self._noted.add(user_id)

    def forget_person(self, user_id: int) -> None:
        """After an erasure: a listed facilitator gets their role again when they next write."""
        self._noted.discard(user_id)
        self._noted_in_group.discard(user_id)

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

    @overload
    async def site_for(
        self,
        user: UserRef,
        words: Sequence[str],
        purpose: Literal[Purpose.REPORT],
        *,
        chat_site: str | None = None,
    ) -> OnSites | Refusal: ...

    @overload
    async def site_for(
        self,
        user: UserRef,
        words: Sequence[str],
        purpose: Literal[Purpose.BROADCAST],
        *,
        chat_site: str | None = None,
    ) -> OnSite | OnSites | Refusal: ...

    @overload
    async def site_for(
        self,
        user: UserRef,
        words: Sequence[str],
        purpose: Literal[Purpose.PROGRAMME, Purpose.INPUTS, Purpose.FACILITATE],
        *,
        chat_site: str | None = None,
    ) -> OnSite | Refusal: ...

    @overload
    async def site_for(
        self,
        user: UserRef,
        words: Sequence[str],
        purpose: Purpose,
        *,
        chat_site: str | None = None,
    ) -> OnSite | OnSites | Refusal: ...

    async def site_for(
        self,
        user: UserRef,
        words: Sequence[str],
        purpose: Purpose,
        *,
        chat_site: str | None = None,
    ) -> OnSite | OnSites | Refusal:
        """The site a command acts on, after the person's rights at this moment. `words` are
        the command's arguments: the first may name a site (for a report, any of them).

        One precedence for every command, so that a person sees the same site in /agenda,
        /inputs and /now:

        1. A site named in the command (`all`: every site, for organisers, where the command
           takes it) — if the person may act there for this purpose: any site's programme for
           anyone with a place at the event; a site's inputs for its facilitators and the
           participants checked in there; anything else for its facilitators.
        2. The site the person facilitates; of several, the one they are checked in at, else
           they are asked which.
        3. The site the person is checked in at.
        4. For an organiser, the event's only site; with several, they are asked which.

        A facilitator's site comes before their check-in: the role is given on purpose, for
        the day, by the event file or a secret code, while a check-in is a scan of a table's
        QR code (to see what participants see, say). The facilitator's commands can only act
        on the site they facilitate, so the views follow it rather than differ from it: a
        facilitator of Aalborg checked in at København sees Aalborg in /agenda, /inputs and
        /now alike, and names København to see its programme or its inputs.

        A report (/stats, /export) without a site covers everything the person facilitates:
        every site for an organiser, all their sites for a facilitator.

        In a site's facilitators' group chat (`chat_site`), a command that names no site acts
        on that site, as if it had named it: with the rights of the person who wrote it.
        """
        event = self._event
        lowered = [word.lower() for word in words]
        async with self._uow.transaction():
            rights = await self.rights_within(user)
            if purpose.needs_role and not rights.any:
                return NotFacilitator()
            if purpose is Purpose.REPORT:
                if chat_site is not None and not any(event.site(w) for w in lowered):
                    return self._report(rights, [chat_site])
                return self._report(rights, lowered)
            first = lowered[0] if lowered else ""
            if purpose is Purpose.BROADCAST and first == "all":
                if not rights.organiser:
                    return AllOnlyForOrganisers()
                return OnSites(None, (first,), rights)
            if event.site(first) is not None:
                return await self._named(user, rights, first, purpose)
            if chat_site is not None:
                place = await self._named(user, rights, chat_site, purpose)
                return replace(place, named=False) if isinstance(place, OnSite) else place
            facilitated = tuple(s.key for s in event.sites if s.key in rights.facilitator_sites)
            if len(facilitated) == 1:
                return OnSite(facilitated[0], facilitator=True, named=False, rights=rights)
            here = await self._checked_in_at(user)
            if facilitated:
                if here in facilitated:
                    return OnSite(here, facilitator=True, named=False, rights=rights)
                return WhichSite(facilitated)
            if here is not None:
                return OnSite(here, facilitator=rights.organiser, named=False, rights=rights)
            if rights.organiser:
                if len(event.sites) == 1:
                    return OnSite(event.sites[0].key, facilitator=True, named=False, rights=rights)
                # An organiser's message may go everywhere: the choice is shown with the sites.
                every = ("all",) if purpose is Purpose.BROADCAST else ()
                return WhichSite((*(s.key for s in event.sites), *every))
            return await self._not_checked_in(user)

    async def _named(
        self, user: UserRef, rights: Rights, site_key: str, purpose: Purpose
    ) -> OnSite | Refusal:
        if rights.may_facilitate(site_key):
            return OnSite(site_key, facilitator=True, named=True, rights=rights)
        if purpose.needs_role:
            return NotYourSite()
        here = await self._checked_in_at(user)
        if here is None and not rights.any:
            return await self._not_checked_in(user)
        if purpose is Purpose.PROGRAMME or here == site_key:
            return OnSite(site_key, facilitator=False, named=True, rights=rights)
        return NotYourSite()

    def _report(self, rights: Rights, words: Sequence[str]) -> OnSites | NotYourSite:
        named = tuple(dict.fromkeys(w for w in words if self._event.site(w) is not None))
        if not all(rights.may_facilitate(key) for key in named):
            return NotYourSite()
        if named:
            wanted: frozenset[str] | None = frozenset(named)
        elif rights.organiser:
            wanted = None
        else:
            wanted = rights.facilitator_sites
        keys = (
            None if wanted is None else tuple(s.key for s in self._event.sites if s.key in wanted)
        )
        return OnSites(keys, named, rights)

    async def _not_checked_in(self, user: UserRef) -> NotCheckedIn:
        """The refusal for a person without a place (inside a transaction)."""
        key = self._event.key
        return NotCheckedIn(await self._uow.participants.withdrew_consent(user.user_id, key))

    async def _checked_in_at(self, user: UserRef) -> str | None:
        """The site of the person's check-in, once they consented (inside a transaction)."""
        key = self._event.key
        checkin = await self._uow.checkins.get(key, user.user_id)
        if (
            checkin is None
            or await self._uow.participants.active_consent(user.user_id, key) is None
        ):
            return None
        return checkin.site_key

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
