"""Telegram's webhook: one route of the bot's HTTP server (`web.server`).

Every request must carry the secret token the bot gave Telegram in `setWebhook`; it is
compared in constant time before a byte of the body is read, and a wrong or missing one gets
403 with nothing stored. A body over `MAX_BODY` is refused (413) from its Content-Length, or
as soon as it grows past the cap when it comes chunked. The update is written to the inbox
before Telegram gets its 200, so a crash after the answer loses nothing; a database that
cannot take it answers 500, and Telegram delivers the update again later.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from telegram import Bot, Update

from bot.ports import StorageStoppedError
from bot.services.inbox import InboxService
from bot.telegram.polling import parse_entry

log = logging.getLogger(__name__)

# A Telegram update is a few kilobytes (a 4,096-character text with its entities, a photo's
# sizes); a megabyte leaves room for anything Telegram sends and refuses anything else.
MAX_BODY = 1024 * 1024
SECRET_HEADER = b"x-telegram-bot-api-secret-token"


class TooLarge(Exception):  # noqa: N818 - names the request, not an error of ours
    """The body is over the cap."""


class TelegramWebhook:
    def __init__(
        self,
        bot: Bot,
        inbox: InboxService,
        hand_on: Callable[[Update], Awaitable[None]],
        *,
        secret_token: str,
        max_body: int = MAX_BODY,
    ) -> None:
        self._bot = bot
        self._inbox = inbox
        self._hand_on = hand_on  # the application's update queue
        self._secret = secret_token.encode()
        self._max_body = max_body

    def route(self, path: str) -> Route:
        return Route(path, self.receive, methods=["POST"], name="telegram-webhook")

    async def receive(self, request: Request) -> Response:
        if not self._secret_matches(request):
            return Response(status_code=403)
        try:
            body = await self._body(request)
        except TooLarge:
            return Response(status_code=413)
        try:
            raw = json.loads(body)
        except ValueError:
            return Response(status_code=400)
        # An update that cannot be parsed or stored is set aside and answered 200, so that
        # Telegram moves on instead of delivering it again and again.
        good, poisoned = parse_entry(raw, self._bot)
        try:
            fresh = await self._inbox.store(
                [good[1]] if good else [], [poisoned] if poisoned else []
            )
        except StorageStoppedError:
            # Read-only or deleted: the storage said so once in the log. Telegram delivers
            # the update again later, by when the file may be writable again.
            return Response(status_code=503)
        except Exception:
            # Not stored: a 5xx makes Telegram deliver the update again later.
            log.exception("could not store a webhook update")
            return Response(status_code=500)
        if good is not None and good[0].update_id in fresh:
            await self._hand_on(good[0])
        return Response(status_code=200)

    def _secret_matches(self, request: Request) -> bool:
        given = b""
        for name, value in request.scope["headers"]:
            if name == SECRET_HEADER:
                given = value
                break
        return hmac.compare_digest(given, self._secret)

    async def _body(self, request: Request) -> bytes:
        declared = request.headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self._max_body):
            raise TooLarge
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > self._max_body:
                raise TooLarge
            chunks.append(chunk)
        return b"".join(chunks)
