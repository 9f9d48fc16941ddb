"""The walls' routes: the page, its live stream, the short check-in link, the static files.

Thin: a token is resolved by the service (constant time), the state comes from the service,
the page from the templates. A wrong token is a plain 404, the same for every kind of wrong.
"""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from bot.ports import Clock
from bot.services.walls import ALL_SITES, WallService
from web.live import WallHub
from web.pages import Pages

STATIC = Path(__file__).parent / "static"


class Walls:
    """What the walls' routes need, built once by the composition root."""

    def __init__(self, walls: WallService, pages: Pages, clock: Clock) -> None:
        self.service = walls
        self.pages = pages
        self._clock = clock
        self.hub = WallHub(self.render, walls.tokens)

    async def render(self, wall: str, lang: str) -> str:
        """A wall's live fragment, as the page includes it and the stream sends it."""
        now = self._clock.now()
        if wall == ALL_SITES:
            return self.pages.all_fragment(await self.service.all_wall(lang), now)
        return self.pages.site_fragment(await self.service.site_wall(wall, lang), now)

    def title(self, wall: str, lang: str) -> str:
        event = self.service.event
        site = event.site(wall)
        name = (
            site.name.get(lang, event.default_language)
            if site is not None
            else self.pages.word(lang, "wall.all_sites")
        )
        return self.pages.word(
            lang, "wall.page_title", site=name, event=event.title.get(lang, event.default_language)
        )

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/wall/{token}", self.page, methods=["GET", "HEAD"]),
            Route("/wall/{token}/live", self.live, methods=["GET"]),
            Route("/c/{code}", self.checkin, methods=["GET", "HEAD"]),
            Mount("/static", StaticFiles(directory=STATIC), name="static"),
        ]

    def _not_found(self) -> Response:
        lang = self.service.language(None)
        return HTMLResponse(self.pages.not_found(lang), status_code=404)

    async def page(self, request: Request) -> Response:
        token = request.path_params["token"]
        wall = await self.service.wall_of(token)
        if wall is None:
            return self._not_found()
        lang = self.service.language(request.query_params.get("lang"))
        asked = "lang" in request.query_params
        html = self.pages.page(
            lang=lang,
            title=self.title(wall, lang),
            fragment=await self.render(wall, lang),
            live=f"/wall/{token}/live" + (f"?lang={lang}" if asked else ""),
            kind="all-sites" if wall == ALL_SITES else "site",
        )
        return HTMLResponse(html, headers={"Cache-Control": "no-store"})

    async def live(self, request: Request) -> Response:
        token = request.path_params["token"]
        wall = await self.service.wall_of(token)
        if wall is None:
            return self._not_found()
        lang = self.service.language(request.query_params.get("lang"))
        return StreamingResponse(
            self.hub.stream(wall, lang, token),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    async def checkin(self, request: Request) -> Response:
        """The short link printed on a wall: on to the bot in Telegram, with the code."""
        target = self.service.deep_link(request.path_params["code"])
        if target is None:
            return self._not_found()
        return RedirectResponse(target, status_code=303)
