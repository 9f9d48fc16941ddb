"""Check-in: from a scanned code to a participant placed at a site and table, with consent.

Every method takes the person as a `UserRef`, runs in one storage transaction and answers with
an outcome record; the Telegram handlers turn outcomes into messages and buttons.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace

from bot.event import Anonymity, Event, Site
from bot.models import CheckIn, Role, UserRef
from bot.ports import Clock, UnitOfWork
from bot.services.live import NOBODY, CheckinsChanged, Publisher
from bot.services.lockout import CodeLockout

# What Telegram accepts as a deep-link payload; anything else cannot have come from a QR code.
_PAYLOAD = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


@dataclass(frozen=True, slots=True)
class NeedCode:
    """Nothing to go on: explain how to check in."""


@dataclass(frozen=True, slots=True)
class UnknownCode:
    malformed: bool


@dataclass(frozen=True, slots=True)
class LockedOut:
    """Too many wrong codes: no code is tried for a while."""

    minutes: int


@dataclass(frozen=True, slots=True)
class RoleGranted:
    role: Role
    site_key: str | None
    new: bool


@dataclass(frozen=True, slots=True)
class NeedConsent:
    site_key: str
    group_key: str | None


@dataclass(frozen=True, slots=True)
class ChooseTable:
    site_key: str
    current_group_key: str | None


@dataclass(frozen=True, slots=True)
class ChooseCategory:
    """Which kind of participant: the event lists roles (politician, civil servant…)."""

    site_key: str


@dataclass(frozen=True, slots=True)
class ChooseAnonymity:
    """Named or anonymous: the event lets each participant choose."""

    site_key: str


@dataclass(frozen=True, slots=True)
class AnonymityToggled:
    """The person's inputs, all of them, are now shown `anonymous` or named.
    `sent_as_before`: messages already sent to others carry some of them as shown before."""

    anonymous: bool
    sent_as_before: bool


@dataclass(frozen=True, slots=True)
class CheckedIn:
    site_key: str
    group_key: str | None
    already: bool = False  # nothing changed: the same code scanned twice
    moved_from: str | None = None


@dataclass(frozen=True, slots=True)
class ConfirmMove:
    from_site_key: str
    to_site_key: str
    to_group_key: str | None


@dataclass(frozen=True, slots=True)
class StayedAt:
    site_key: str
    group_key: str | None


@dataclass(frozen=True, slots=True)
class Declined:
    """Consent refused: nothing about the event is kept."""


@dataclass(frozen=True, slots=True)
class Stale:
    """A button that no longer fits the person's state (pressed twice, or long after)."""


@dataclass(frozen=True, slots=True)
class NotCheckedIn:
    """The action needs a completed check-in. `withdrawn`: the person had one, until they
    withdrew their consent."""

    withdrawn: bool = False


Outcome = (
    NeedCode
    | UnknownCode
    | LockedOut
    | RoleGranted
    | NeedConsent
    | ChooseTable
    | ChooseCategory
    | ChooseAnonymity
    | CheckedIn
    | ConfirmMove
    | StayedAt
    | Declined
    | Stale
    | NotCheckedIn
)


@dataclass(frozen=True, slots=True)
class Whereabouts:
    checkin: CheckIn | None
    consented: bool
    withdrawn: bool = False  # consent was given, then withdrawn with /withdraw

    @property
    def complete(self) -> bool:
        return self.checkin is not None and self.consented


class CheckInService:
    def __init__(
        self,
        event: Event,
        uow: UnitOfWork,
        clock: Clock,
        consent_version: str,
        lockout: CodeLockout | None = None,
        *,
        live: Publisher = NOBODY,
    ) -> None:
        self._event = event
        self._live = live  # told when a site's count of people checked in changed
        self._uow = uow
        self._clock = clock
        self._consent_version = consent_version
        self._lockout = lockout if lockout is not None else CodeLockout(clock)

    def _locked(self, user_id: int) -> LockedOut | None:
        until = self._lockout.locked_until(user_id)
        if until is None:
            return None
        return LockedOut(max(1, -(-int((until - self._clock.now()).total_seconds()) // 60)))

    def _wrong(self, user_id: int, outcome: UnknownCode) -> Outcome:
        if self._lockout.wrong(user_id):
            locked = self._locked(user_id)
            if locked is not None:
                return locked
        return outcome

    @property
    def event(self) -> Event:
        return self._event

    async def start(self, user: UserRef, code: str | None) -> Outcome:
        """`/start [code]` and `/checkin code`."""
        now = self._clock.now()
        key = self._event.key
        async with self._uow.transaction():
            current = await self._uow.checkins.get(key, user.user_id)
            consented = await self._uow.participants.active_consent(user.user_id, key) is not None
            if code is None:
                if current is not None and consented:
                    return CheckedIn(current.site_key, current.group_key, already=True)
                if current is None:
                    # A facilitator or organiser named in the event file (or by an earlier
                    # code) opens the chat with a plain /start: tell them their role, not to
                    # scan a table's QR code.
                    grants = await self._uow.roles.of_user(key, user.user_id)
                    if grants:
                        first = min(grants, key=lambda g: g.role is not Role.ORGANISER)
                        return RoleGranted(first.role, first.site_key, new=False)
                return NeedCode()
            locked = self._locked(user.user_id)
            if locked is not None:
                return locked
            code = code.strip()
            if not _PAYLOAD.match(code):
                return self._wrong(user.user_id, UnknownCode(malformed=True))
            target = self._event.resolve_code(code)
            if target is None:
                return self._wrong(user.user_id, UnknownCode(malformed=False))
            self._lockout.right(user.user_id)
            # Only now is there a reason to remember the person: a valid code. A plain
            # /start or a wrong code stores nothing at all.
            await self._uow.participants.upsert(
                user.user_id, user.chat_id, user.display_name, now, user.telegram_language
            )
            if target.role != "participant":
                role = Role(target.role)
                source = self._event.code_source(target.role, target.site_key) or "code"
                new = await self._uow.roles.grant(
                    key, user.user_id, role, target.site_key, source, now
                )
                return RoleGranted(role, target.site_key, new)
            assert target.site_key is not None  # noqa: S101 - participant codes name a site
            site_key, group_key = target.site_key, target.group_key

            if current is None or not consented or current.site_key == site_key:
                # A first check-in, one not yet confirmed by consent, or a table card of the
                # same site: place the person directly (a table card moves them to its table).
                keep_group = (
                    current.group_key if current and current.site_key == site_key else None
                )
                placed = CheckIn(
                    event_key=key,
                    user_id=user.user_id,
                    site_key=site_key,
                    group_key=group_key or keep_group,
                    checked_in_at=current.checked_in_at if current else now,
                    updated_at=now,
                    category_key=current.category_key if current else None,
                    anonymous=current.anonymous if current else None,
                )
                if not consented:
                    await self._uow.checkins.save(placed)
                    return NeedConsent(site_key, placed.group_key)
                already = current is not None and (
                    current.group_key == placed.group_key and current.pending_site_key is None
                )
                if not already:
                    await self._uow.checkins.save(placed)
                return self._placed(placed, already=already)

            # Checked in elsewhere: moving loses nothing, but ask, since a wrong scan is likelier
            # than a change of city in the middle of a workshop.
            await self._uow.checkins.save(
                replace(
                    current, pending_site_key=site_key, pending_group_key=group_key, updated_at=now
                )
            )
            return ConfirmMove(current.site_key, site_key, group_key)

    async def end_roles_of_old_codes(self) -> int:
        """At start: end every role granted by a code that is no longer the event file's code
        for that role and site, so a changed organiser or facilitator code ends the old
        holders' roles. Returns how many ended."""
        ended = 0
        async with self._uow.transaction():
            for grant in await self._uow.roles.granted_by_codes(self._event.key):
                if grant.via != self._event.code_source(grant.role.value, grant.site_key):
                    await self._uow.roles.revoke(
                        self._event.key, grant.user_id, grant.role, grant.site_key
                    )
                    ended += 1
        return ended

    async def consent(self, user: UserRef) -> Outcome:
        now = self._clock.now()
        key = self._event.key
        async with self._uow.transaction():
            current = await self._uow.checkins.get(key, user.user_id)
            if current is None:
                return NeedCode()
            if await self._uow.participants.active_consent(user.user_id, key) is not None:
                return Stale()
            await self._uow.participants.record_consent(
                user.user_id, key, self._consent_version, now
            )
            placed = self._placed(current, already=False)
        self._live.publish(CheckinsChanged(current.site_key))
        return placed

    async def decline(self, user: UserRef) -> Outcome:
        key = self._event.key
        async with self._uow.transaction():
            current = await self._uow.checkins.get(key, user.user_id)
            if await self._uow.participants.active_consent(user.user_id, key) is not None:
                return Stale()
            if current is not None:
                await self._uow.checkins.delete(key, user.user_id)
            # Nothing of someone who said no outlives the conversation: their profile (id,
            # name, language) goes too, unless they have consented elsewhere or hold a role.
            discarded = await self._uow.privacy.discard_unconsented(user.user_id)
        if discarded:
            await self._uow.checkpoint()
        return Declined()

    async def choose_table(self, user: UserRef, group_key: str) -> Outcome:
        now = self._clock.now()
        key = self._event.key
        async with self._uow.transaction():
            current = await self._uow.checkins.get(key, user.user_id)
            consented = await self._uow.participants.active_consent(user.user_id, key)
            if current is None or consented is None:
                return NotCheckedIn()
            site = self._site(current.site_key)
            if site.group(group_key) is None:
                # A button from another site's keyboard, or forged: never trusted as is.
                return Stale()
            already = current.group_key == group_key
            updated = replace(current, group_key=group_key, updated_at=now)
            if not already:
                await self._uow.checkins.save(updated)
            return self._placed(updated, already=already)

    async def answer_move(self, user: UserRef, *, accept: bool) -> Outcome:
        now = self._clock.now()
        key = self._event.key
        async with self._uow.transaction():
            current = await self._uow.checkins.get(key, user.user_id)
            if current is None or current.pending_site_key is None:
                return Stale()
            if not accept:
                await self._uow.checkins.save(
                    replace(current, pending_site_key=None, pending_group_key=None, updated_at=now)
                )
                return StayedAt(current.site_key, current.group_key)
            moved = CheckIn(
                event_key=key,
                user_id=user.user_id,
                site_key=current.pending_site_key,
                group_key=current.pending_group_key,
                checked_in_at=now,
                updated_at=now,
                category_key=current.category_key,
                anonymous=current.anonymous,
            )
            await self._uow.checkins.save(moved)
            placed = self._placed(moved, already=False)
        self._live.publish(CheckinsChanged(None))  # one site fewer, the other one more
        if isinstance(placed, CheckedIn):
            return replace(placed, moved_from=current.site_key)
        return placed

    async def switch(self, user: UserRef) -> Outcome:
        where = await self.where(user)
        if not where.complete or where.checkin is None:
            return NotCheckedIn(where.withdrawn)
        return ChooseTable(where.checkin.site_key, where.checkin.group_key)

    async def where(self, user: UserRef) -> Whereabouts:
        key = self._event.key
        async with self._uow.transaction():
            current = await self._uow.checkins.get(key, user.user_id)
            consent = await self._uow.participants.active_consent(user.user_id, key)
            withdrawn = consent is None and await self._uow.participants.withdrew_consent(
                user.user_id, key
            )
        return Whereabouts(current, consent is not None, withdrawn)

    async def choose_category(self, user: UserRef, category_key: str) -> Outcome:
        """The participant's kind (politician, civil servant…) from the event's list."""
        if self._event.event.participant_role(category_key) is None:
            return Stale()  # not a role of this event: forged or from another event
        return await self._update_complete(user, lambda c: replace(c, category_key=category_key))

    async def choose_anonymity(self, user: UserRef, *, anonymous: bool) -> Outcome:
        if self._event.event.anonymity != Anonymity.PARTICIPANT_CHOICE:
            return Stale()
        return await self._update_complete(user, lambda c: replace(c, anonymous=anonymous))

    async def toggle_anonymity(self, user: UserRef) -> AnonymityToggled | NotCheckedIn | Stale:
        """`/anonymous`: named (or no choice yet) becomes anonymous, anonymous becomes named.

        The choice covers all the person's inputs, earlier ones too: authorship is read at
        every rendering and export. What was already sent to others stays as it was sent; the
        result says whether there is any such message, so the reply can say so."""
        if self._event.event.anonymity != Anonymity.PARTICIPANT_CHOICE:
            return Stale()
        key = self._event.key
        async with self._uow.transaction():
            current = await self._uow.checkins.get(key, user.user_id)
            consented = await self._uow.participants.active_consent(user.user_id, key)
            if current is None or consented is None:
                return NotCheckedIn()
            # No choice yet becomes anonymous: what the command's name says, and how the
            # inputs were shown already, so nothing already sent was shown otherwise.
            anonymous = current.anonymous is not True
            changed = anonymous != (current.anonymous is not False)
            await self._uow.checkins.save(
                replace(current, anonymous=anonymous, updated_at=self._clock.now())
            )
            sent = changed and bool(await self._uow.privacy.copies_in_telegram(user.user_id))
        return AnonymityToggled(anonymous, sent_as_before=sent)

    async def _update_complete(
        self, user: UserRef, change: Callable[[CheckIn], CheckIn]
    ) -> Outcome:
        key = self._event.key
        async with self._uow.transaction():
            current = await self._uow.checkins.get(key, user.user_id)
            consented = await self._uow.participants.active_consent(user.user_id, key)
            if current is None or consented is None:
                return NotCheckedIn()
            updated = replace(change(current), updated_at=self._clock.now())
            await self._uow.checkins.save(updated)
            return self._placed(updated, already=False)

    def _placed(self, checkin: CheckIn, *, already: bool) -> Outcome:
        """The next question of the check-in, or the confirmation once nothing is missing."""
        site = self._site(checkin.site_key)
        if checkin.group_key is None and site.groups:
            return ChooseTable(site.key, None)
        if checkin.category_key is None and self._event.event.participant_roles:
            return ChooseCategory(site.key)
        if (
            checkin.anonymous is None
            and self._event.event.anonymity == Anonymity.PARTICIPANT_CHOICE
        ):
            return ChooseAnonymity(site.key)
        return CheckedIn(checkin.site_key, checkin.group_key, already=already)

    def _site(self, key: str) -> Site:
        site = self._event.site(key)
        if site is None:
            # Only possible when the event file changed under a running database.
            raise LookupError(f"site {key!r} is not in the event file any more")
        return site
