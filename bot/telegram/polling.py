"""Long polling through the inbox.

`InboxPoller` is the polling loop: it writes each batch of updates to the inbox before the
next `getUpdates` confirms them to Telegram, so a hard crash loses nothing fetched; at start it
hands on whatever was fetched but not handled. `RawUpdatesRequest` keeps the JSON of each
answer, so that the inbox stores updates as Telegram sent them. The webhook, the other way in,
is `bot.telegram.webhook`.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import TYPE_CHECKING, Any

from telegram import Update
from telegram.error import Conflict, NetworkError, RetryAfter, TelegramError
from telegram.ext import Application
from telegram.request import BaseRequest, RequestData

from bot.services.inbox import InboxService
from bot.telegram.limits import retry_after_seconds

if TYPE_CHECKING:
    from telegram._utils.types import JSONDict, ODVInput

log = logging.getLogger(__name__)


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
                await asyncio.sleep(retry_after_seconds(exc))
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
