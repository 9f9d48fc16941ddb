"""Templates: Jinja2 with autoescape on, words from `prompts/` (the catalogue), nothing else.

A wall's live part is one fragment (`_site.html` or `_all.html`): the page includes it when
served and the live stream sends it again, rendered once per change for every open page.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

import segno
from jinja2 import Environment, PackageLoader, pass_context, select_autoescape
from jinja2.runtime import Context
from markupsafe import Markup

from bot.i18n import Catalogue, clock
from bot.services.console import FeedItem
from bot.services.inputs import QuietTables
from bot.services.walls import AllWall, SiteColumn, SiteWall

QR_KEPT = 256  # QR codes kept drawn: one per site's check-in link and language


class Pages:
    def __init__(self, texts: Catalogue, tz: Any) -> None:
        self._texts = texts
        self._tz = tz
        self._env = Environment(
            loader=PackageLoader("web", "templates"),
            autoescape=select_autoescape(default=True, default_for_string=True),
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self._env.filters["local"] = self._local  # a moment for the catalogue to write
        self._env.filters["hhmm"] = self._hhmm  # a clock time standing alone
        self._env.filters["iso"] = lambda moment: moment.isoformat() if moment else ""
        self._qr: dict[tuple[str, str], Markup] = {}

    def _local(self, moment: datetime | None) -> datetime | str:
        """The moment in the event's time zone; the catalogue writes it as the page's language
        writes clock times (12.41 in Danish)."""
        return moment.astimezone(self._tz) if moment else ""

    @pass_context
    def _hhmm(self, context: Context, moment: datetime | None) -> str:
        """A clock time in the event's zone, as the page's language writes it (13.40 in
        Danish, as the chat does)."""
        lang = context.get("lang") or self._texts.default
        return clock(lang, moment.astimezone(self._tz)) if moment else ""

    def word(self, lang: str, key: str, /, **params: object) -> str:
        return self._texts.plain(lang, key, **params)

    def _words(self, lang: str) -> dict[str, Any]:
        return {"t": partial(self._texts.plain, lang), "lang": lang}

    def qr(self, url: str, label: str) -> Markup:
        """The QR code as inline SVG (no image request, nothing for the CSP to allow).

        Drawn once per link and language: a site's wall is rendered again at every change,
        its check-in link stays the same, and drawing it took half of each render."""
        found = self._qr.get((url, label))
        if found is None:
            svg = segno.make(url, error="m").svg_inline(
                scale=1, omitsize=True, border=2, title=label, dark="#000", light="#fff"
            )
            found = Markup(svg.replace("<svg ", '<svg role="img" ', 1))  # noqa: S704 - segno's
            if len(self._qr) >= QR_KEPT:  # a bound, should links ever come from elsewhere
                self._qr.clear()
            self._qr[(url, label)] = found
        return found

    def site_fragment(self, wall: SiteWall, now: datetime) -> str:
        qr = (
            self.qr(
                wall.checkin.url,
                self._texts.plain(wall.lang, "wall.qr_label", site=wall.site.name),
            )
            if wall.checkin.url
            else None
        )
        # A long link may break after a slash, never inside a word.
        short = Markup("/<wbr>").join(wall.checkin.label.split("/"))
        return self._env.get_template("_site.html").render(
            wall=wall, qr=qr, short=short, now=now, minutes=_minutes, **self._words(wall.lang)
        )

    def all_fragment(self, wall: AllWall, now: datetime) -> str:
        return self._env.get_template("_all.html").render(
            wall=wall, now=now, minutes=_minutes, **self._words(wall.lang)
        )

    def page(self, *, lang: str, title: str, fragment: str, live: str, kind: str) -> str:
        return self._env.get_template("wall.html").render(
            title=title,
            fragment=Markup(fragment),  # noqa: S704 - rendered by these templates
            live=live,
            kind=kind,
            **self._words(lang),
        )

    def not_found(self, lang: str) -> str:
        return self._env.get_template("not_found.html").render(**self._words(lang))


def _minutes(until: datetime | None, now: datetime) -> int | None:
    """Whole minutes left, rounded up (a countdown never shows 0 while time remains)."""
    if until is None:
        return None
    seconds = (until - now).total_seconds()
    return max(0, -(-int(seconds) // 60))


@dataclass(frozen=True, slots=True)
class ConsoleData:
    """What a console shows live for one site, read from the services."""

    lang: str
    site: SiteColumn
    feed: Sequence[FeedItem]
    quiet: Sequence[QuietTables]
    checkin: AllWall
    now: datetime
    tables: Mapping[str, str]  # table key → its name, for the quiet tables


PARTS = ("now", "feed", "quiet", "checkin")  # a console's live parts, each in its own place


class ConsolePages:
    """The console's pages, with the walls' environment (one layout, one set of filters)."""

    def __init__(self, pages: Pages) -> None:
        self._pages = pages
        self._env = pages._env

    def word(self, lang: str, key: str, /, **params: object) -> str:
        return self._pages.word(lang, key, **params)

    def _words(self, lang: str) -> dict[str, Any]:
        return self._pages._words(lang)

    def plain_page(self, lang: str, text: str) -> str:
        return self._env.get_template("plain.html").render(
            title=text, text=text, **self._words(lang)
        )

    def parts(
        self, data: ConsoleData, filters: Mapping[str, str] | None = None
    ) -> dict[str, Markup]:
        """Each live part's HTML; `filters` (table, prompt, q) narrow the feed for a page
        without scripts (the script filters in the browser, the stream sends everything)."""
        feed = list(data.feed)
        if filters:
            table, prompt, q = (filters.get(k, "") for k in ("table", "prompt", "q"))
            feed = [
                item
                for item in feed
                if (not table or item.table == table)
                and (not prompt or item.prompt == prompt)
                and (not q or q.casefold() in item.text.casefold())
            ]
        template = self._env.get_template("_console.html")
        module = template.make_module(
            {"data": data, "items": feed, "minutes": _minutes, **self._words(data.lang)}
        )
        # Rendered by these templates, escaped there: Markup, so the page does not escape again.
        return {part: Markup(getattr(module, f"{part}_part")()) for part in PARTS}  # noqa: S704

    def frame(self, parts: Mapping[str, Markup]) -> str:
        """The parts as one fragment for the live stream: the script puts each in its place."""
        return "".join(f'<div data-part="{name}">{html}</div>' for name, html in parts.items())

    def overview(self, wall: AllWall, now: datetime) -> Markup:
        html = self._env.get_template("_console_overview.html").render(
            wall=wall, now=now, minutes=_minutes, **self._words(wall.lang)
        )
        return Markup(html)  # noqa: S704 - rendered and escaped by the template

    def page(self, **context: Any) -> str:
        lang = context["lang"]
        return self._env.get_template("console.html").render({**context, **self._words(lang)})

    def preview(self, **context: Any) -> str:
        lang = context["lang"]
        return self._env.get_template("console_preview.html").render(
            {**context, **self._words(lang)}
        )
