"""The walls: what a site's projector (or the all-sites screen) shows, and who may open it.

A wall is opened by an unguessable link: a token per site and one for the all-sites wall,
kept in the database (created at the first start, replaced by `rotate`), compared in constant
time. The state of a wall is read here, from the same repositories and with the same author
rule as the chat (`author_label`): the web face only fills templates with it.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote

from bot.event import AgendaKind, Event, Site, WallInputs
from bot.i18n import Catalogue
from bot.models import Input, InputKind
from bot.ports import Clock, UnitOfWork
from bot.services.access import Rights
from bot.services.authors import author_label
from bot.services.live import NOBODY, Publisher, WallsRotated
from bot.services.plan import Plan

ALL_SITES = "*"  # the all-sites wall's key beside the sites' keys
TOKEN_BYTES = 24  # 32 characters of URL-safe base64: 192 bits, not guessable
LATEST = 6  # a site's own inputs on its wall
HIGHLIGHTS = 4  # highlights from the other sites on a site's wall
TOP = 3  # highlights per site in the check-in view and on the all-sites wall


@dataclass(frozen=True, slots=True)
class WallCard:
    input_id: int
    text: str
    author: str  # as the event's anonymity and the author's choice allow
    site_name: str  # where it was written (the provenance of a highlight)
    stars: int


@dataclass(frozen=True, slots=True)
class NowOn:
    """The item on at a site now."""

    title: str
    text: str
    kind: AgendaKind
    prompt: bool  # a question is open: its answers are counted
    ends_at: datetime | None
    paused: bool
    next_title: str | None
    next_at: datetime | None


@dataclass(frozen=True, slots=True)
class SiteColumn:
    key: str
    name: str
    now: NowOn | None
    checked_in: int
    answered: int | None  # people who answered the open question; None: none is open
    highlights: tuple[WallCard, ...]


@dataclass(frozen=True, slots=True)
class CheckInLink:
    url: str | None  # what the QR code holds; None when there is only the code to type
    label: str  # the short form printed beside it


@dataclass(frozen=True, slots=True)
class SiteWall:
    lang: str
    event_title: str
    question: str
    site: SiteColumn
    checkin: CheckInLink
    inputs_shown: WallInputs
    inputs: tuple[WallCard, ...]  # the site's own, newest first
    arriving: tuple[WallCard, ...]  # highlights from the other sites
    crosscheck: tuple[SiteColumn, ...]  # every site, during a cross-site check-in; else ()


@dataclass(frozen=True, slots=True)
class AllWall:
    lang: str
    event_title: str
    question: str
    sites: tuple[SiteColumn, ...]


@dataclass(frozen=True, slots=True)
class WallLink:
    wall: str  # a site key or ALL_SITES
    name: str
    url: str | None  # None while PUBLIC_URL is not set
    token: str


class WallService:
    def __init__(
        self,
        event: Event,
        uow: UnitOfWork,
        clock: Clock,
        texts: Catalogue,
        *,
        public_url: str | None = None,
        bot_username: str | None = None,
        live: Publisher = NOBODY,
    ) -> None:
        self._event = event
        self._uow = uow
        self._clock = clock
        self._texts = texts
        self.public_url = public_url.rstrip("/") if public_url else None
        self.bot_username = bot_username
        self._live = live

    @property
    def event(self) -> Event:
        return self._event

    # -- tokens --------------------------------------------------------------------------------

    def walls(self) -> list[str]:
        return [*(site.key for site in self._event.sites), ALL_SITES]

    async def tokens(self) -> dict[str, str]:
        """Every wall's token; the missing ones are made now (the first start)."""
        key = self._event.key
        async with self._uow.transaction():
            tokens = await self._uow.walls.tokens(key)
            for wall in self.walls():
                if wall not in tokens:
                    tokens[wall] = secrets.token_urlsafe(TOKEN_BYTES)
                    await self._uow.walls.set_token(key, wall, tokens[wall], self._clock.now())
        return {wall: tokens[wall] for wall in self.walls()}

    async def wall_of(self, token: str) -> str | None:
        """The wall a token opens, or None. Every token is compared, in constant time, so
        the answer's timing tells a guesser nothing."""
        given = token.encode("utf-8", "surrogatepass")
        found = None
        for wall, known in (await self.tokens()).items():
            if hmac.compare_digest(given, known.encode("ascii")):
                found = wall
        return found

    async def rotate(self, walls: Sequence[str]) -> dict[str, str]:
        """New tokens for these walls: their old links stop working, open pages close."""
        unknown = [wall for wall in walls if wall not in self.walls()]
        if unknown:
            raise LookupError(f"no wall {', '.join(unknown)}")
        await self.tokens()
        async with self._uow.transaction():
            for wall in walls:
                token = secrets.token_urlsafe(TOKEN_BYTES)
                await self._uow.walls.set_token(self._event.key, wall, token, self._clock.now())
        for wall in walls:
            self._live.publish(WallsRotated(None if wall == ALL_SITES else wall))
        return await self.tokens()

    def url(self, token: str) -> str | None:
        return f"{self.public_url}/wall/{token}" if self.public_url else None

    async def links(self, rights: Rights | None = None, lang: str | None = None) -> list[WallLink]:
        """The walls a person may open (None: every wall, for the command line): a
        facilitator their sites', an organiser every site's and the all-sites wall."""
        lang = lang or self._event.default_language
        tokens = await self.tokens()
        found = []
        for wall, token in tokens.items():
            if rights is not None and not (
                rights.organiser or (wall != ALL_SITES and wall in rights.facilitator_sites)
            ):
                continue
            found.append(WallLink(wall, self._wall_name(wall, lang), self.url(token), token))
        return found

    def _wall_name(self, wall: str, lang: str) -> str:
        site = self._event.site(wall)
        if site is None:
            return self._texts.plain(lang, "wall.all_sites")
        return site.name.get(lang, self._event.default_language)

    # -- what a wall shows ---------------------------------------------------------------------

    def language(self, wanted: str | None) -> str:
        languages = self._event.event.languages
        return wanted if wanted in languages else self._event.default_language

    def checkin_link(self, site: Site) -> CheckInLink:
        """PUBLIC_URL's short link when set, else Telegram's deep link when the bot's name is
        known, else only the code to type after /start."""
        code = quote(site.code, safe="")
        if self.public_url:
            url = f"{self.public_url}/c/{code}"
            return CheckInLink(url, url.split("://", 1)[1])
        if self.bot_username:
            url = f"https://t.me/{self.bot_username}?start={code}"
            return CheckInLink(url, url.split("://", 1)[1])
        return CheckInLink(None, site.code)

    def deep_link(self, code: str) -> str | None:
        """Where a short check-in link leads: the bot, with the code (None: unknown code)."""
        target = self._event.resolve_code(code)
        if target is None or target.role != "participant" or not self.bot_username:
            return None
        return f"https://t.me/{self.bot_username}?start={quote(code, safe='')}"

    async def site_wall(self, site_key: str, lang: str) -> SiteWall:
        event, key = self._event, self._event.key
        site = event.site(site_key)
        if site is None:
            raise LookupError(f"no site {site_key!r}")
        mode = event.event.wall.inputs
        async with self._uow.transaction():
            now = self._clock.now()
            column = await self._column(site, lang, now, own_highlights=False)
            inputs: Sequence[Input] = ()
            if mode is not WallInputs.NONE:
                inputs = await self._uow.walls.latest(
                    key, site.key, LATEST, starred_only=mode is WallInputs.STARRED
                )
            arriving: list[Input] = []
            if site.key not in event.event.relay.exclude_sites:
                for other in event.sites:
                    if other.key != site.key:
                        arriving.extend(
                            await self._uow.relay.top(
                                key, other.key, HIGHLIGHTS, approved_only=True
                            )
                        )
            crosscheck: list[SiteColumn] = []
            if column.now is not None and column.now.kind is AgendaKind.CROSSCHECK:
                for other in event.sites:
                    crosscheck.append(await self._column(other, lang, now, own_highlights=True))
        arriving.sort(key=lambda item: item.id, reverse=True)
        return SiteWall(
            lang=lang,
            event_title=event.event.title.get(lang, event.default_language),
            question=event.event.question.get(lang, event.default_language),
            site=column,
            checkin=self.checkin_link(site),
            inputs_shown=mode,
            inputs=tuple(self._card(item, lang) for item in inputs),
            arriving=tuple(self._card(item, lang) for item in arriving[:HIGHLIGHTS]),
            crosscheck=tuple(crosscheck),
        )

    async def all_wall(self, lang: str) -> AllWall:
        event = self._event
        async with self._uow.transaction():
            now = self._clock.now()
            columns = [
                await self._column(site, lang, now, own_highlights=True) for site in event.sites
            ]
        return AllWall(
            lang=lang,
            event_title=event.event.title.get(lang, event.default_language),
            question=event.event.question.get(lang, event.default_language),
            sites=tuple(columns),
        )

    async def _column(
        self, site: Site, lang: str, now: datetime, *, own_highlights: bool
    ) -> SiteColumn:
        """Inside a transaction: a site's item, figures and (if asked) top highlights."""
        key, default = self._event.key, self._event.default_language
        plan = Plan(self._event, await self._uow.agenda.state(key, site.key), now)
        checked_in, _ = await self._uow.relay.site_figures(key, site.key)
        prompt = plan.open_prompt(now, None)
        answered = (
            await self._uow.walls.answered(key, site.key, prompt.item_key, prompt.adhoc_id)
            if prompt is not None
            else None
        )
        current = plan.current(now)
        upcoming = plan.after(current) if current is not None else plan.upcoming(now)
        now_on = None
        if current is not None or prompt is not None:
            adhoc = (
                next((a for a in plan.state.adhoc if a.id == prompt.adhoc_id), None)
                if prompt is not None and prompt.adhoc_id is not None
                else None
            )
            if adhoc is not None:
                title = self._texts.plain(lang, "wall.adhoc")
                text, kind = adhoc.text, AgendaKind.PROMPT
                ends_at = prompt.closes_at if prompt is not None else None
            else:
                assert current is not None  # noqa: S101 - no ad-hoc question: an item is on
                item = current.item
                title = item.title.get(lang, default)
                text = item.text_for(lang, default, site.key)
                kind, ends_at = item.kind, current.end
            now_on = NowOn(
                title=title,
                text=text,
                kind=kind,
                prompt=prompt is not None,
                ends_at=ends_at,
                paused=plan.paused,
                next_title=upcoming.item.title.get(lang, default) if upcoming else None,
                next_at=upcoming.start if upcoming else None,
            )
        highlights: Sequence[Input] = ()
        if own_highlights:
            highlights = await self._uow.relay.top(key, site.key, TOP, approved_only=True)
        return SiteColumn(
            key=site.key,
            name=site.name.get(lang, default),
            now=now_on,
            checked_in=checked_in,
            answered=answered,
            highlights=tuple(self._card(item, lang) for item in highlights),
        )

    def _card(self, item: Input, lang: str) -> WallCard:
        site = self._event.site(item.site_key)
        text = item.text
        if item.kind is not InputKind.TEXT:
            kind = self._texts.plain(lang, f"feed.kind_{item.kind.value}")
            text = f"[{kind}] {text}".strip()
        return WallCard(
            input_id=item.id,
            text=text,
            author=author_label(self._event, self._texts, lang, item, with_site=False),
            site_name=site.name.get(lang, self._event.default_language) if site else "",
            stars=item.stars,
        )
