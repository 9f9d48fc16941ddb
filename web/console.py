"""The facilitators' console: sign-in by a one-time link, the page, its live stream, actions.

Thin, like the walls' routes: who is signed in and with which rights comes from
`ConsoleService.open` (the chat's `AccessService`, at every request); every action is the
chat's own service call (`InputService.moderate`, the `AgendaEngine`, `BroadcastService`,
`ExportService`) with the site checked by `AccessService.site_for`, as a chat command's is.

Every change is a POST carrying the session's CSRF token (a hidden field, or the
`X-CSRF-Token` header from the script), compared in constant time, from a page of this
origin (`Origin` and `Sec-Fetch-Site`, when the browser sends them). Without scripts each
form posts and is redirected back (303) with a notice; with the script the same POST answers
JSON and the page stays. The live part is one stream per page from the walls' hub.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from markupsafe import Markup
from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import (
    HTMLResponse,
    JSONResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import BaseRoute, Route

from bot.buttons import Moderation
from bot.event import AgendaKind
from bot.export import CHAT_FORMATS, Format, file_name
from bot.services import Services
from bot.services.access import OnSite, Purpose
from bot.services.agenda import Advanced, NothingAhead, PausedNow, Resumed, Shifted
from bot.services.broadcast import AlreadyDone, Cancelled, Drafted, Queued, TooLong
from bot.services.console import LinkRefused, Signed
from bot.services.export import ExportsUnavailableError
from bot.services.inputs import Moderated
from bot.services.walls import ALL_SITES
from web.live import WallHub
from web.pages import ConsoleData, ConsolePages

COOKIE = "samtidig_console"
SECURE_COOKIE = "__Host-samtidig_console"  # HTTPS only: no subdomain can set or read it
PREFIX = "console:"  # the hub's key of a console stream: PREFIX + site key (or ALL_SITES)
MAX_DELAY_MINUTES = 180
MAX_PROMPT = 3500
_ACTIONS = {"star": Moderation.STAR, "hide": Moderation.HIDE, "show": Moderation.SHOW}
_NOTICES = {  # what may be named in `?done=` after a redirect: catalogue keys, nothing else
    "moderated", "next", "nothing_ahead", "delayed", "delay_paused", "delay_usage", "paused",
    "already_paused", "resumed", "not_paused", "prompt", "closed", "nothing_to_close", "empty",
    "too_long", "sent", "cancelled", "stale", "not_allowed",
}  # fmt: skip
_COUNTED = {"moderated", "prompt", "sent"}  # plurals: filled with `n`


class Refused(Exception):  # noqa: N818 - a response, not an error
    """Ends a request with a plain page (`status`, the catalogue key `key`)."""

    def __init__(self, status: int, key: str = "console.refused") -> None:
        self.status, self.key = status, key


class Console:
    """What the console's routes need, built once by the composition root."""

    def __init__(
        self, services: Services, pages: ConsolePages, hub: WallHub, *, rehearsal: bool = False
    ) -> None:
        self.rehearsal = rehearsal  # its links are printed, not sent: no /console to ask
        self.services = services
        self.service = services.console
        self.pages = pages
        self.hub = hub
        hub.add_view(PREFIX, self.render, self._still_open)

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/console", self.page, methods=["GET", "HEAD"]),
            Route("/console/login/{token}", self.login, methods=["GET"]),
            Route("/console/live", self.live, methods=["GET"]),
            Route("/console/moderate", self.moderate, methods=["POST"]),
            Route("/console/agenda", self.agenda, methods=["POST"]),
            Route("/console/prompt", self.prompt, methods=["POST"]),
            Route("/console/broadcast", self.broadcast, methods=["POST"]),
            Route("/console/broadcast/{id:int}", self.broadcast_choice, methods=["POST"]),
            Route("/console/export/{fmt}", self.export, methods=["GET"]),
            Route("/console/signout", self.sign_out, methods=["POST"]),
        ]

    # -- who is asking -------------------------------------------------------------------------

    @property
    def cookie(self) -> str:
        return SECURE_COOKIE if self.service.secure else COOKIE

    def _plain(self, lang: str, key: str, status: int) -> Response:
        refused = key == "console.refused"
        if self.rehearsal and key in ("console.refused", "console.signed_out"):
            key += "_rehearsal"
        html = self.pages.plain_page(lang, self.pages.word(lang, key))
        response = HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store"})
        if status in (401, 403) and refused:
            response.delete_cookie(self.cookie, path="/")
        return response

    def _guess_language(self, request: Request) -> str:
        """For a refusal to someone unknown: the browser's first language the event speaks."""
        languages = self.services.texts.languages
        for part in request.headers.get("accept-language", "").split(","):
            code = part.split(";")[0].strip().lower()[:2]
            if code in languages:
                return code
        return self.services.event.default_language

    async def _signed(self, request: Request) -> tuple[Signed, str]:
        signed = await self.service.open(request.cookies.get(self.cookie))
        if signed is None:
            raise Refused(401)
        return signed, await self.services.access.language(signed.user)

    def _same_origin(self, request: Request) -> bool:
        fetch_site = request.headers.get("sec-fetch-site")
        if fetch_site is not None and fetch_site not in ("same-origin", "none"):
            return False
        origin = request.headers.get("origin")
        if origin is None:
            return True  # an old browser or a plain client: the token decides
        allowed = {request.headers.get("host", "")}
        if self.service.public_url:
            allowed.add(urlsplit(self.service.public_url).netloc)
        return urlsplit(origin).netloc in allowed

    async def _change(self, request: Request) -> tuple[Signed, str, FormData]:
        """A state-changing request: signed in, same origin, the session's CSRF token."""
        signed, lang = await self._signed(request)
        form = await _form(request)
        token = request.headers.get("x-csrf-token") or form.get("csrf")
        if not self._same_origin(request) or not signed.csrf_ok(
            token if isinstance(token, str) else None
        ):
            raise Refused(403, "console.forbidden")
        return signed, lang, form

    async def _site(self, signed: Signed, wanted: object) -> str:
        """The site an action names, if the person may act there now (as /now … checks)."""
        place = await self.services.access.site_for(
            signed.user, [wanted] if isinstance(wanted, str) else [], Purpose.FACILITATE
        )
        if not isinstance(place, OnSite) or not isinstance(wanted, str):
            raise Refused(403, "console.done_not_allowed")
        return place.site_key

    def _done(
        self, request: Request, lang: str, site: str | None, key: str, n: int | None = None
    ) -> Response:
        """The answer to an action: JSON for the script, else back to the console."""
        if request.headers.get("accept", "").startswith("application/json"):
            return JSONResponse({"notice": self._notice(lang, key, n)})
        query = {"site": site or "", "done": key} | ({"n": str(n)} if n is not None else {})
        return RedirectResponse(f"/console?{urlencode(query)}", status_code=303)

    def _notice(self, lang: str, key: str | None, n: int | None) -> str | None:
        if key not in _NOTICES:
            return None
        if key in _COUNTED:
            return self.pages.word(lang, f"console.done_{key}", count=n or 0)
        if key == "delayed":  # `n`: the minutes the programme moved (signed)
            return self.pages.word(lang, "console.done_delayed", minutes=n or 0)
        return self.pages.word(lang, f"console.done_{key}")

    # -- signing in and out --------------------------------------------------------------------

    async def login(self, request: Request) -> Response:
        lang = self._guess_language(request)
        address = request.client.host if request.client else "?"
        if not self.service.limiter.admit(address):
            return self._plain(lang, "console.too_many", 429)
        signed_in = await self.service.sign_in(request.path_params["token"])
        if isinstance(signed_in, LinkRefused):
            return self._plain(signed_in.language or lang, "console.refused", 403)
        response = RedirectResponse("/console", status_code=303)
        max_age = int((signed_in.expires_at - self.services.clock.now()).total_seconds())
        # Lax, not Strict: the link is opened from Telegram, another site, and a Strict cookie
        # set on that navigation is not sent with its redirect to /console. Lax keeps it off
        # every cross-site POST, and each POST needs the CSRF token besides.
        response.set_cookie(
            self.cookie,
            signed_in.session_id,
            max_age=max(max_age, 0),
            path="/",
            secure=self.service.secure,
            httponly=True,
            samesite="lax",
        )
        response.headers["Cache-Control"] = "no-store"
        return response

    async def sign_out(self, request: Request) -> Response:
        signed, lang, _ = await self._change(request)
        await self.service.sign_out(signed)
        response = self._plain(lang, "console.signed_out", 200)
        response.delete_cookie(self.cookie, path="/")
        return response

    # -- the page and its stream ---------------------------------------------------------------

    def _view(self, signed: Signed, wanted: str | None) -> str:
        """The site shown (or ALL_SITES for an organiser's overview)."""
        sites = self.service.sites(signed.rights)
        if wanted == ALL_SITES and signed.rights.organiser:
            return ALL_SITES
        if wanted in sites:
            return wanted
        if not sites:
            raise Refused(403)
        return sites[0]

    async def parts(
        self, view: str, lang: str, filters: dict[str, str] | None = None
    ) -> dict[str, Markup]:
        """A console's live parts, read from the same services as the chat and the walls."""
        now = self.services.clock.now()
        walls = self.services.walls
        if view == ALL_SITES:
            return {"overview": self.pages.overview(await walls.all_wall(lang), now)}
        data = ConsoleData(
            lang=lang,
            site=(await walls.site_wall(view, lang)).site,
            feed=await self.service.feed(view, lang),
            quiet=await self.services.inputs.quiet(view, lang),
            checkin=await walls.all_wall(lang),
            now=now,
            tables=self._tables(view, lang),
        )
        return self.pages.parts(data, filters)

    def _tables(self, site_key: str, lang: str) -> dict[str, str]:
        site, default = self.services.event.site(site_key), self.services.event.default_language
        return {g.key: g.name.get(lang, default) for g in site.groups} if site else {}

    async def render(self, key: str, lang: str) -> str:
        """The hub's renderer for PREFIX + site: every part, unfiltered, in one fragment."""
        return self.pages.frame(await self.parts(key.removeprefix(PREFIX), lang))

    def _prompts(self, site_key: str, lang: str) -> list[tuple[str, str]]:
        """The questions the feed can be filtered by: the site's prompts, and ad-hoc ones."""
        event, default = self.services.event, self.services.event.default_language
        found = [
            (item.key, item.title.get(lang, default))
            for item in event.agenda
            if item.kind is AgendaKind.PROMPT and item.applies_to(site_key)
        ]
        return [*found, ("adhoc", self.pages.word(lang, "wall.adhoc"))]

    async def _still_open(self, session_hash: str) -> bool:
        return await self.service.still_open(session_hash)

    async def page(self, request: Request) -> Response:
        signed, lang = await self._signed(request)
        q = request.query_params
        view = self._view(signed, q.get("site"))
        event = self.services.event
        default = event.default_language
        site = event.site(view)
        name = site.name.get(lang, default) if site else self.pages.word(lang, "console.overview")
        title = self.pages.word(
            lang,
            "console.page_title" if site else "console.overview_title",
            site=name,
            event=event.title.get(lang, default),
        )
        n = q.get("n")
        filters = {k: q.get(k, "") for k in ("table", "prompt", "q")}
        html = self.pages.page(
            lang=lang,
            title=title,
            view=view,
            site=site,
            sites=[event.site(key) for key in self.service.sites(signed.rights)],
            organiser=signed.rights.organiser,
            name=signed.user.display_name,
            csrf=signed.csrf,
            parts=await self.parts(view, lang, filters),
            filters=filters,
            prompts=self._prompts(view, lang) if site else [],
            default=default,
            notice=self._notice(
                lang, q.get("done"), int(n) if n and n.lstrip("-").isdigit() else None
            ),
            formats=[fmt.value for fmt in CHAT_FORMATS],
            live=f"/console/live?{urlencode({'site': view})}",
        )
        return HTMLResponse(html, headers={"Cache-Control": "no-store"})

    async def live(self, request: Request) -> Response:
        signed, lang = await self._signed(request)
        view = self._view(signed, request.query_params.get("site"))
        return StreamingResponse(
            self.hub.stream(PREFIX + view, lang, signed.session_hash),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    # -- actions -------------------------------------------------------------------------------

    async def moderate(self, request: Request) -> Response:
        """Star, hide or show one input (`one` = "star:12") or the selected (`action`, `input`)."""
        signed, lang, form = await self._change(request)
        one = form.get("one")
        if isinstance(one, str) and ":" in one:
            action, ids = one.split(":", 1)[0], [one.split(":", 1)[1]]
        else:
            action = str(form.get("action", ""))
            ids = [str(value) for value in form.getlist("input")]
        what = _ACTIONS.get(action)
        # Each input once: a star given twice would be taken back.
        numbers = list(dict.fromkeys(int(i) for i in ids if i.isdigit()))[:200]
        if what is None:
            raise Refused(400, "console.forbidden")
        done = 0
        for input_id in numbers:
            outcome = await self.services.inputs.moderate(
                signed.user, signed.rights, input_id, what
            )
            done += isinstance(outcome, Moderated)
        site = form.get("site")
        key = "moderated" if done or not numbers else "not_allowed"
        return self._done(request, lang, site if isinstance(site, str) else None, key, done)

    async def agenda(self, request: Request) -> Response:
        signed, lang, form = await self._change(request)
        site = await self._site(signed, form.get("site"))
        agenda, by = self.services.agenda, signed.user.user_id
        match form.get("action"):
            case "next":
                advanced = await agenda.advance(site, by)
                key = "next" if isinstance(advanced, Advanced) else "nothing_ahead"
            case "delay":
                minutes = str(form.get("minutes", "")).strip()
                number = int(minutes) if minutes.lstrip("+-").isdigit() else 0
                if not 0 < abs(number) <= MAX_DELAY_MINUTES:
                    return self._done(request, lang, site, "delay_usage")
                outcome = await agenda.delay(site, number, by)
                key = {
                    NothingAhead: "nothing_ahead",
                    PausedNow: "delay_paused",
                    Advanced: "next",
                    Shifted: "delayed",
                }[type(outcome)]
                if isinstance(outcome, Shifted):
                    return self._done_delayed(request, lang, site, round(outcome.seconds / 60))
            case "pause":
                key = "paused" if (await agenda.pause(site, by)).changed else "already_paused"
            case "resume":
                resumed = await agenda.resume(site, by)
                key = "resumed" if isinstance(resumed, Resumed) else "not_paused"
            case "close":
                key = "closed" if await agenda.close_adhoc(site) else "nothing_to_close"
            case _:
                raise Refused(400, "console.forbidden")
        return self._done(request, lang, site, key)

    def _done_delayed(self, request: Request, lang: str, site: str, minutes: int) -> Response:
        if request.headers.get("accept", "").startswith("application/json"):
            text = self.pages.word(lang, "console.done_delayed", minutes=minutes)
            return JSONResponse({"notice": text})
        return self._done(request, lang, site, "delayed", minutes)

    async def prompt(self, request: Request) -> Response:
        """An ad-hoc question to the site or one of its tables (as /prompt)."""
        signed, lang, form = await self._change(request)
        site_key = await self._site(signed, form.get("site"))
        site = self.services.event.site(site_key)
        assert site is not None  # noqa: S101 - the access service returned a site of the event
        text = str(form.get("text", "")).strip()
        table = str(form.get("table", "")).strip() or None
        if table is not None and site.group(table) is None:
            raise Refused(400, "console.forbidden")
        if not text:
            return self._done(request, lang, site_key, "empty")
        if len(text) > MAX_PROMPT:
            return self._done(request, lang, site_key, "too_long")
        opened = await self.services.agenda.open_adhoc(site_key, table, text, signed.user.user_id)
        return self._done(request, lang, site_key, "prompt", opened.notified)

    async def broadcast(self, request: Request) -> Response:
        """A message to the site: drafted, then shown as a preview with Send and Cancel."""
        signed, lang, form = await self._change(request)
        site_key = await self._site(signed, form.get("site"))
        text = str(form.get("text", "")).strip()
        if not text:
            return self._done(request, lang, site_key, "empty")
        outcome = await self.services.broadcast.draft(
            signed.user.user_id, signed.rights, site_key, text
        )
        if isinstance(outcome, TooLong):
            return self._done(request, lang, site_key, "too_long")
        if not isinstance(outcome, Drafted):
            return self._done(request, lang, site_key, "not_allowed")
        site = self.services.event.site(site_key)
        where = site.name.get(lang, self.services.event.default_language) if site else ""
        html = self.pages.preview(
            lang=lang,
            site_key=site_key,
            where=where,
            count=outcome.recipients,
            text=outcome.broadcast.text,
            broadcast_id=outcome.broadcast.id,
            csrf=signed.csrf,
        )
        return HTMLResponse(html, headers={"Cache-Control": "no-store"})

    async def broadcast_choice(self, request: Request) -> Response:
        signed, lang, form = await self._change(request)
        broadcast_id = int(request.path_params["id"])
        site = form.get("site")
        site_key = site if isinstance(site, str) else None
        # Rights are looked up again now, as for the chat's Send button.
        if form.get("action") == "send":
            sent = await self.services.broadcast.confirm(
                signed.user.user_id, signed.rights, broadcast_id
            )
            if isinstance(sent, Queued):
                return self._done(request, lang, site_key, "sent", sent.recipients)
            key = "stale" if isinstance(sent, AlreadyDone) else "not_allowed"
            return self._done(request, lang, site_key, key)
        cancelled = await self.services.broadcast.cancel(signed.user.user_id, broadcast_id)
        key = "cancelled" if isinstance(cancelled, Cancelled) else "stale"
        return self._done(request, lang, site_key, key)

    # -- exports -------------------------------------------------------------------------------

    async def export(self, request: Request) -> Response:
        """One file of the site's exports, as /export makes it: off the loop, streamed."""
        signed, lang = await self._signed(request)
        try:
            fmt = Format(request.path_params["fmt"])
        except ValueError:
            raise Refused(404, "wall.not_found") from None
        if fmt not in CHAT_FORMATS:
            raise Refused(404, "wall.not_found")
        wanted = request.query_params.get("site")
        only: tuple[str, ...] | None = None  # an organiser's every site
        if not (wanted == ALL_SITES and signed.rights.organiser):
            only = (await self._site(signed, wanted),)
        export = self.services.export
        if export.busy:
            return self._plain(lang, "console.export_busy", 503)
        name = file_name(self.services.event.key, fmt, only)
        return StreamingResponse(
            _exported(self.services, only, fmt),
            media_type=_MEDIA[fmt],
            headers={
                "Content-Disposition": f'attachment; filename="{name}"',
                "Cache-Control": "no-store",
            },
        )


MAX_FORM = 64 * 1024  # bytes: a question or a message is a few kilobytes at most


async def _form(request: Request) -> FormData:
    """A form as the console's pages post it (URL-encoded, small); anything else is empty."""
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        return FormData()
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM:
            raise Refused(413, "console.forbidden")
    pairs: list[tuple[str, str | UploadFile]] = list(
        parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
    )
    return FormData(pairs)


_MEDIA = {
    Format.CSV: "text/csv; charset=utf-8",
    Format.XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    Format.JSON: "application/json",
    Format.HTML: "text/html; charset=utf-8",
    Format.MD: "text/markdown; charset=utf-8",
}
CHUNK = 64 * 1024


async def _exported(
    services: Services, only: tuple[str, ...] | None, fmt: Format
) -> AsyncIterator[bytes]:
    """The file, written off the loop by the export service, read in chunks off the loop."""
    try:
        async with services.export.files(only, [fmt]) as written:
            for item in written:
                with await asyncio.to_thread(item.path.open, "rb") as handle:
                    while chunk := await asyncio.to_thread(handle.read, CHUNK):
                        yield chunk
    except ExportsUnavailableError:
        return


def refusals(console: Console) -> dict[Any, Any]:
    """Starlette's exception handlers: a `Refused` becomes its plain page."""

    async def refused(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, Refused)  # noqa: S101 - registered for Refused only
        lang = console._guess_language(request)
        signed = await console.service.open(request.cookies.get(console.cookie))
        if signed is not None:
            lang = await console.services.access.language(signed.user)
        return console._plain(lang, exc.key, exc.status)

    return {Refused: refused}
