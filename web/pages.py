"""Templates: Jinja2 with autoescape on, words from `prompts/` (the catalogue), nothing else.

A wall's live part is one fragment (`_site.html` or `_all.html`): the page includes it when
served and the live stream sends it again, rendered once per change for every open page.
"""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import Any

import segno
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from bot.i18n import Catalogue
from bot.services.walls import AllWall, SiteWall

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
        self._env.filters["hhmm"] = self._hhmm
        self._env.filters["iso"] = lambda moment: moment.isoformat() if moment else ""
        self._qr: dict[tuple[str, str], Markup] = {}

    def _hhmm(self, moment: datetime | None) -> str:
        return f"{moment.astimezone(self._tz):%H:%M}" if moment else ""

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
