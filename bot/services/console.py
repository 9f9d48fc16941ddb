"""The facilitators' console: who may open it, for how long, and what its feed shows.

`/console` gives a facilitator or an organiser a one-time link (`issue_link`): single use,
valid for `LINK_TTL` (the rehearsal's: until it ends), bound to that person. Opening it
(`sign_in`) starts a session whose random id travels in a cookie; the database keeps only
SHA-256 hashes of both secrets, and
finds them by those hashes (a guesser cannot steer a hash, so a lookup's timing tells them
nothing). A session ends on sign-out, at the end of the event (`session_end`), and whenever
the person no longer has a role: `open` asks the same `AccessService` as the chat at every
request, so `/revoke` ends the console's rights at the next click.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.event import Event
from bot.i18n import Catalogue, pick_language
from bot.models import Input, InputKind, InputState, UserRef
from bot.ports import Clock, UnitOfWork
from bot.services.access import AccessService, Rights
from bot.services.authors import author_label

LINK_TTL = timedelta(minutes=10)
TOKEN_BYTES = 32  # 43 characters of URL-safe base64: 256 bits
EVENT_MARGIN = timedelta(hours=2)  # after the last item starts: the close, the delays
LATE_SESSION = timedelta(hours=1)  # a session opened after the event (for the exports)
FEED = 200  # inputs in the console's feed


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True, slots=True)
class ConsoleLink:
    url: str | None  # None while PUBLIC_URL is not set


@dataclass(frozen=True, slots=True)
class SignedIn:
    session_id: str  # for the cookie; only its hash is stored
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class LinkRefused:
    """A link that opens nothing (unknown, used, expired, or its person has no role now);
    `language` is its person's, when the link was one of ours."""

    language: str | None


@dataclass(frozen=True, slots=True)
class Signed:
    """A request's open session: who, with which rights now, and its form token."""

    user: UserRef
    rights: Rights
    csrf: str
    session_hash: str
    expires_at: datetime

    def csrf_ok(self, given: str | None) -> bool:
        return given is not None and hmac.compare_digest(
            given.encode("utf-8", "surrogatepass"), self.csrf.encode("ascii")
        )


@dataclass(frozen=True, slots=True)
class FeedItem:
    input_id: int
    text: str
    author: str  # as the event's anonymity allows, like the chat's feed card
    table: str | None  # the table's key
    table_name: str
    prompt: str  # the agenda item's key, or `adhoc`
    prompt_title: str
    hidden: bool
    stars: int
    at: datetime


class SignInLimiter:
    """At most `limit` sign-in attempts per client address in a sliding `window` (seconds),
    in memory: a guesser is slowed, the facilitators of a venue behind one address are not."""

    def __init__(self, limit: int = 20, window: float = 60.0) -> None:
        self._limit, self._window = limit, window
        self._seen: dict[str, deque[float]] = {}

    def admit(self, address: str, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        if len(self._seen) > 10_000:  # forget the quiet ones; never grows without bound
            for key in [k for k, q in self._seen.items() if q[-1] < now - self._window]:
                del self._seen[key]
        seen = self._seen.setdefault(address, deque())
        while seen and seen[0] <= now - self._window:
            seen.popleft()
        if len(seen) >= self._limit:
            return False
        seen.append(now)
        return True


class ConsoleService:
    def __init__(
        self,
        event: Event,
        uow: UnitOfWork,
        clock: Clock,
        texts: Catalogue,
        access: AccessService,
        *,
        public_url: str | None = None,
    ) -> None:
        self._event = event
        self._uow = uow
        self._clock = clock
        self._texts = texts
        self._access = access
        self.public_url = public_url.rstrip("/") if public_url else None
        self.limiter = SignInLimiter()

    @property
    def secure(self) -> bool:
        """The cookie is Secure when the console is reached over HTTPS."""
        return bool(self.public_url and self.public_url.startswith("https://"))

    def session_end(self, now: datetime) -> datetime:
        """When a session opened now ends: with the event (its last item + a margin), or an
        hour after it opened if the event is over by then (the exports, the day after)."""
        event = self._event
        last = max((event.start_of(item) for item in event.agenda), default=now)
        return max(last + EVENT_MARGIN, now + LATE_SESSION)

    async def issue_link(
        self, user: UserRef, *, valid_until: datetime | None = None, base: str | None = None
    ) -> ConsoleLink:
        """A one-time link for a facilitator or an organiser (the caller checked the role),
        valid for `LINK_TTL`. The rehearsal, whose clock runs an afternoon in minutes, gives
        `valid_until` (its end) and, without PUBLIC_URL, the `base` it listens on."""
        root = self.public_url or (base.rstrip("/") if base else None)
        if root is None:
            return ConsoleLink(None)
        token = secrets.token_urlsafe(TOKEN_BYTES)
        now = self._clock.now()
        async with self._uow.transaction():
            await self._uow.console.add_link(
                _hash(token), self._event.key, user.user_id, now, valid_until or now + LINK_TTL
            )
        return ConsoleLink(f"{root}/console/login/{token}")

    async def sign_in(self, token: str) -> SignedIn | LinkRefused:
        """Use a link (once) and open a session for its person."""
        now = self._clock.now()
        session_id = secrets.token_urlsafe(TOKEN_BYTES)
        expires = self.session_end(now)
        async with self._uow.transaction():
            user_id = await self._uow.console.use_link(_hash(token), self._event.key, now)
            if user_id is None:
                owner = await self._uow.console.link_owner(_hash(token), self._event.key)
                return LinkRefused(await self._language_of(owner))
            rights = await self._access.rights_within(self._user(user_id))
            if not rights.any:
                return LinkRefused(await self._language_of(user_id))
            await self._uow.console.add_session(
                _hash(session_id),
                self._event.key,
                user_id,
                secrets.token_urlsafe(TOKEN_BYTES),
                now,
                expires,
            )
        return SignedIn(session_id, expires)

    async def open(self, session_id: str | None) -> Signed | None:
        """The session of a request's cookie, with the person's rights at this moment; None:
        no cookie, a forged or ended one, or a person without a role now."""
        if not session_id:
            return None
        return await self._open(_hash(session_id))

    async def still_open(self, session_hash: str) -> bool:
        """Whether a session (by its hash: an open live stream's) is still open and its
        person still has a role."""
        return await self._open(session_hash) is not None

    async def _open(self, hashed: str) -> Signed | None:
        async with self._uow.transaction():
            found = await self._uow.console.session(hashed, self._event.key, self._clock.now())
            if found is None:
                return None
            participant = await self._uow.participants.get(found.user_id)
            user = self._user(
                found.user_id,
                participant.display_name if participant else "",
                participant.telegram_language if participant else None,
            )
            rights = await self._access.rights_within(user)
        if not rights.any:
            return None
        return Signed(user, rights, found.csrf, hashed, found.expires_at)

    async def _language_of(self, user_id: int | None) -> str | None:
        """Inside a transaction: the person's language, as the chat speaks to them."""
        if user_id is None:
            return None
        participant = await self._uow.participants.get(user_id)
        if participant is None:
            return None
        return pick_language(
            participant.language,
            participant.telegram_language,
            self._texts.languages,
            self._event.default_language,
        )

    async def sign_out(self, signed: Signed) -> None:
        async with self._uow.transaction():
            await self._uow.console.end_session(signed.session_hash, self._clock.now())

    @staticmethod
    def _user(user_id: int, name: str = "", lang: str | None = None) -> UserRef:
        # A private chat's id is its user's id in Telegram.
        return UserRef(user_id, user_id, name, telegram_language=lang)

    def sites(self, rights: Rights) -> list[str]:
        """The sites a person may run from the console, in the event's order."""
        return [s.key for s in self._event.sites if rights.may_facilitate(s.key)]

    async def feed(self, site_key: str, lang: str) -> list[FeedItem]:
        """The site's inputs, newest first, hidden ones too (marked)."""
        async with self._uow.transaction():
            items: Sequence[Input] = await self._uow.console.feed(self._event.key, site_key, FEED)
        return [self._item(item, lang) for item in items]

    def _item(self, item: Input, lang: str) -> FeedItem:
        event, default = self._event, self._event.default_language
        site = event.site(item.site_key)
        group = site.group(item.group_key) if site and item.group_key else None
        if item.item_key is not None:
            agenda_item = event.item(item.item_key)
            title = agenda_item.title.get(lang, default) if agenda_item else item.item_key
            prompt = item.item_key
        else:
            title = self._texts.plain(lang, "wall.adhoc")
            prompt = "adhoc"  # every ad-hoc question under one filter
        text = item.text
        if item.kind is not InputKind.TEXT:
            kind = self._texts.plain(lang, f"feed.kind_{item.kind.value}")
            text = f"[{kind}] {text}".strip()
        return FeedItem(
            input_id=item.id,
            text=text,
            author=author_label(event, self._texts, lang, item),
            table=item.group_key,
            table_name=group.name.get(lang, default) if group else "",
            prompt=prompt,
            prompt_title=title,
            hidden=item.state is InputState.HIDDEN,
            stars=item.stars,
            at=item.created_at,
        )
