"""The routes the bot serves over HTTP, listed in one place.

The Telegram webhook is a route of the Telegram adapter (`bot.telegram.webhook`), handed in by
the composition root with any others; this module adds what the web face itself serves.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.health import Snapshot
from web.console import Console, refusals
from web.walls import Walls

log = logging.getLogger(__name__)


# Every response: scripts, styles and streams only from the bot itself, no inline script, no
# framing, forms only to the bot (the console's), no referrer (a wall's token is in its URL),
# no guessing of content types.
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (
        b"content-security-policy",
        b"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        b"connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
)


class SecurityHeaders:
    """Adds `SECURITY_HEADERS` to every HTTP response (pure ASGI: streams pass untouched)."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (k, v)
                    for k, v in message.get("headers", [])
                    if k.lower() not in {name for name, _ in SECURITY_HEADERS}
                ]
                message = {**message, "headers": [*headers, *SECURITY_HEADERS]}
            await send(message)

        await self._app(scope, receive, with_headers)


def build_web_app(
    health: Callable[[], Awaitable[Snapshot]],
    extra: Sequence[BaseRoute] = (),
    walls: Walls | None = None,
    console: Console | None = None,
) -> Starlette:
    """`health` gives the figures of `/healthz`; `extra` are further routes (the webhook);
    `walls` the walls' pages and streams; `console` the facilitators' console."""

    async def healthz(request: Request) -> Response:
        # For a reverse proxy or a monitor: 200 while the bot can store what it is sent, 503
        # when it cannot. Counts only, nothing about anyone.
        try:
            figures = await health()
        except Exception:
            log.exception("health check failed")
            return JSONResponse({"status": "unavailable"}, status_code=503)
        # A database that takes no writes (read-only, or its file deleted) still answers
        # reads, so the figures come too, with the state named.
        body = {"status": "ok" if figures.database is None else "unavailable"} | asdict(figures)
        if figures.last_delivery is not None:
            body["last_delivery"] = figures.last_delivery.isoformat()
        return JSONResponse(body, status_code=200 if figures.database is None else 503)

    routes: list[BaseRoute] = [Route("/healthz", healthz, methods=["GET", "HEAD"])]
    if walls is not None:
        routes.extend(walls.routes())
    handlers = {}
    if console is not None:
        routes.extend(console.routes())
        handlers = refusals(console)
    app = Starlette(routes=[*routes, *extra], exception_handlers=handlers)
    app.add_middleware(SecurityHeaders)
    return app
