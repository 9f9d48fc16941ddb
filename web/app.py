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

from bot.health import Snapshot

log = logging.getLogger(__name__)


def build_web_app(
    health: Callable[[], Awaitable[Snapshot]], extra: Sequence[BaseRoute] = ()
) -> Starlette:
    """`health` gives the figures of `/healthz`; `extra` are further routes (the webhook)."""

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
    return Starlette(routes=[*routes, *extra])
