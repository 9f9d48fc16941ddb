"""How updates reach the handlers: through the inbox, concurrently across chats, in order
within each chat.

- `InboxPoller` is the polling loop: it writes each batch of updates to the inbox before the
  next `getUpdates` confirms them to Telegram, so a hard crash loses nothing fetched; at start
  it hands on whatever was fetched but not handled.
- `WebhookServer` is the alternative for production behind HTTPS: it checks Telegram's
  secret token on every request (403 otherwise) and writes the inbox row before answering 200.
- `ChatOrderedProcessor` replaces PTB's one-update-at-a-time processing: updates of different
  chats run concurrently, updates of one chat one after another, and each is marked done in
  the inbox when its handlers have finished (or retried when the database failed).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any

from telegram import Update
from telegram.error import Conflict, NetworkError, RetryAfter, TelegramError
from telegram.ext import Application, BaseUpdateProcessor
from telegram.request import BaseRequest, RequestData

from bot.services.inbox import InboxService

if TYPE_CHECKING:
    from telegram._utils.types import JSONDict, ODVInput

log = logging.getLogger(__name__)

RETRY_DELAY = 5.0  # seconds before an update whose storage failed is handled again


def domain_key(update: Update) -> str | None:
    """What the update is about, so that the same message or button press arriving again
    under a new update id is recognised."""
    if update.message is not None:
        return f"m:{update.message.chat.id}:{update.message.message_id}"
    if update.edited_message is not None:
        edited = update.edited_message
        stamp = int(edited.edit_date.timestamp()) if edited.edit_date else 0
        return f"e:{edited.chat.id}:{edited.message_id}:{stamp}"
    if update.callback_query is not None:
        return f"cb:{update.callback_query.id}"
    return None


def as_row(update: Update, raw: object = None) -> tuple[int, str | None, str]:
    """The inbox row of an update: `raw` is the update as Telegram sent it (a dict), if the
    caller has it; serialising PTB's object back costs ten times as much."""
    if not isinstance(raw, dict) or raw.get("update_id") != update.update_id:
        raw = update.to_dict()
    return update.update_id, domain_key(update), json.dumps(raw, ensure_ascii=False)


class RawUpdatesRequest(BaseRequest):
    """The transport of `getUpdates`, passing everything to `inner` and keeping the JSON of
    the last answer, so that the inbox stores updates as Telegram sent them. Only the
    polling loop uses it, one call at a time, so the last answer is the one just returned."""

    def __init__(self, inner: BaseRequest) -> None:
        self._inner = inner
        self.last_result: object = None

    @property
    def read_timeout(self) -> float | None:
        return self._inner.read_timeout

    async def initialize(self) -> None:
        await self._inner.initialize()

    async def shutdown(self) -> None:
        await self._inner.shutdown()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        return await self._inner.do_request(
            url, method, request_data, read_timeout, write_timeout, connect_timeout, pool_timeout
        )

    def parse_json_payload(self, payload: bytes) -> JSONDict:  # type: ignore[override]
        # PTB's documented hook for the JSON of every answer (see BaseRequest); the
        # result of a failed call is kept as None.
        data = BaseRequest.parse_json_payload(payload)
        self.last_result = data.get("result") if isinstance(data, dict) else None
        return data


class ChatOrderedProcessor(BaseUpdateProcessor):
    def __init__(self, max_concurrent_updates: int = 64, retry_delay: float = RETRY_DELAY) -> None:
        super().__init__(max_concurrent_updates)
        self.retry_delay = retry_delay
        self.running = 0
        self.peak = 0  # the most updates handled at once: the concurrency actually reached
        self._locks: dict[int, asyncio.Lock] = {}
        self._users: Counter[int] = Counter()
        self.inbox: InboxService | None = None
        self.failures: dict[
            int, bool
        ] = {}  # update id → worth retrying (set by the error handler)
        self.requeue: Callable[[Update], Coroutine[Any, Any, None]] | None = None

    async def initialize(self) -> None:
        """Nothing to open: the inbox is attached once the database is."""

    async def shutdown(self) -> None:
        """Nothing to close."""

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        self.running += 1
        self.peak = max(self.peak, self.running)
        try:
            await self._in_chat_order(update, coroutine)
        finally:
            self.running -= 1
        if isinstance(update, Update):
            await self._finish(update)

    async def _in_chat_order(self, update: object, coroutine: Awaitable[Any]) -> None:
        key = self._key(update)
        if key is None:
            await coroutine
        else:
            self._users[key] += 1
            lock = self._locks.setdefault(key, asyncio.Lock())
            try:
                async with lock:
                    await coroutine
            finally:
                self._users[key] -= 1
                if self._users[key] <= 0:
                    del self._users[key]
                    self._locks.pop(key, None)

    @staticmethod
    def _key(update: object) -> int | None:
        if not isinstance(update, Update):
            return None
        if update.effective_chat is not None:
            return update.effective_chat.id
        return update.effective_user.id if update.effective_user else None

    async def _finish(self, update: Update) -> None:
        if self.inbox is None:
            return
        retryable = self.failures.pop(update.update_id, None)
        try:
            if retryable is None:
                await self.inbox.done(update.update_id)
                return
            again = await self.inbox.failed(update.update_id, "handler failed")
            if again and retryable and self.requeue is not None:
                requeue = self.requeue
                loop = asyncio.get_running_loop()
                loop.call_later(self.retry_delay, lambda: loop.create_task(requeue(update)))
        except Exception:
            # The inbox row stays pending and is handled again at the next start.
            log.exception("could not record update %s in the inbox", update.update_id)


class InboxPoller:
    """`getUpdates` in a loop, every batch written to the inbox before it is confirmed."""

    def __init__(
        self,
        app: Application[Any, Any, Any, Any, Any, Any],
        inbox: InboxService,
        *,
        timeout: int = 30,
        raw: RawUpdatesRequest | None = None,
    ) -> None:
        self._app = app
        self._inbox = inbox
        self._timeout = timeout
        self._raw = raw  # the getUpdates transport, if it keeps the answers' JSON

    async def resume(self) -> int:
        """Hand on the updates a crash left unhandled; returns how many."""
        pending = await self._inbox.unfinished()
        for _, payload in pending:
            await self._app.update_queue.put(Update.de_json(json.loads(payload), self._app.bot))
        if pending:
            log.warning("resuming %d updates fetched before the last stop", len(pending))
        return len(pending)

    async def run(self, stop: asyncio.Event) -> None:
        offset = await self._inbox.next_offset()
        backoff = 1.0
        while not stop.is_set():
            try:
                updates = await self._app.bot.get_updates(
                    offset=offset, timeout=self._timeout, allowed_updates=Update.ALL_TYPES
                )
                sent = self._raw.last_result if self._raw is not None else None
                if not isinstance(sent, list) or len(sent) != len(updates):
                    sent = [None] * len(updates)
                fresh = set(
                    await self._inbox.store(
                        [as_row(u, d) for u, d in zip(updates, sent, strict=True)]
                    )
                )
            except RetryAfter as exc:
                await asyncio.sleep(_seconds(exc.retry_after))
                continue
            except (NetworkError, Conflict, TelegramError) as exc:
                log.warning(
                    "getUpdates failed (%s); trying again in %.0f s", type(exc).__name__, backoff
                )
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 30.0)
                continue
            except Exception:
                # Most likely the database: the updates stay unconfirmed at Telegram and come
                # again with the next call.
                log.exception("could not store updates; trying again")
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 30.0)
                continue
            backoff = 1.0
            if updates:
                offset = max(u.update_id for u in updates) + 1
            for update in updates:
                if update.update_id in fresh:
                    await self._app.update_queue.put(update)


def _seconds(value: object) -> float:
    total = getattr(value, "total_seconds", None)
    return float(total()) if callable(total) else float(value)  # type: ignore[arg-type]


class WebhookServer:
    """A minimal HTTP/1.1 endpoint for Telegram's webhook, on the address a reverse proxy
    with TLS forwards to. Answers 200 only after the update is in the inbox."""

    def __init__(
        self,
        app: Application[Any, Any, Any, Any, Any, Any],
        inbox: InboxService,
        *,
        path: str,
        secret_token: str,
        host: str = "127.0.0.1",
        port: int = 8443,
    ) -> None:
        self._app = app
        self._inbox = inbox
        self._path = path
        self._secret = secret_token.encode()
        self._host = host
        self._port = port
        self._server: asyncio.base_events.Server | None = None

    @property
    def port(self) -> int:
        if self._server is None or not self._server.sockets:
            return self._port
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self._host, self._port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                status = await self._one_request(reader)
                if status is None:
                    break
                body = b'{"ok":true}' if status == 200 else b""
                writer.write(
                    f"HTTP/1.1 {status} {_REASONS[status]}\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(body)}\r\n\r\n".encode()
                    + body
                )
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def _one_request(self, reader: asyncio.StreamReader) -> int | None:
        head = await reader.readuntil(b"\r\n\r\n") if not reader.at_eof() else b""
        if not head:
            return None
        lines = head.decode("latin-1").split("\r\n")
        method, _, rest = lines[0].partition(" ")
        path = rest.split(" ")[0]
        headers = {
            name.strip().lower(): value.strip()
            for name, _, value in (line.partition(":") for line in lines[1:] if line)
        }
        length = int(headers.get("content-length", "0") or 0)
        if length > 10_000_000:
            return 413
        body = await reader.readexactly(length) if length else b""
        if method != "POST" or path != self._path:
            return 404
        token = headers.get("x-telegram-bot-api-secret-token", "").encode()
        if not hmac.compare_digest(token, self._secret):
            return 403
        try:
            raw = json.loads(body)
            update = Update.de_json(raw, self._app.bot)
            fresh = await self._inbox.store([as_row(update, raw)])
        except (ValueError, TypeError, KeyError):
            return 400
        except Exception:
            # Not stored: a 5xx makes Telegram deliver the update again later.
            log.exception("could not store a webhook update")
            return 500
        if update.update_id in fresh:
            await self._app.update_queue.put(update)
        return 200


_REASONS = {
    200: "OK",
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    413: "Payload Too Large",
    500: "Internal Server Error",
}
