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
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from telegram import Bot, Update
from telegram.error import Conflict, NetworkError, RetryAfter, TelegramError
from telegram.ext import Application
from telegram.request import BaseRequest, RequestData
from telegram.request._requestparameter import RequestParameter

from bot.ports import StorageStoppedError
from bot.services.inbox import InboxService
from bot.telegram.limits import retry_after_seconds

if TYPE_CHECKING:
    from telegram._utils.types import JSONDict, ODVInput

log = logging.getLogger(__name__)

# The update types the handlers use (`handlers/__init__.py`), asked for by polling and by
# `setWebhook` alike: Telegram keeps the others to itself.
ALLOWED_UPDATES: tuple[str, ...] = (
    "message",
    "edited_message",
    "callback_query",
    "my_chat_member",
)

_KEY = re.compile(r"^[a-z_]{1,40}$")

Poisoned = tuple[int | None, str, str]  # update id, the error's class, the top-level keys


def parse_entry(
    entry: object, bot: Bot
) -> tuple[tuple[Update, tuple[int, str | None, str]] | None, Poisoned | None]:
    """One entry of a `getUpdates` answer (or a webhook body) as (update, inbox row), or as
    what is kept of it in quarantine when it cannot be parsed or stored: never its text."""
    update_id = entry.get("update_id") if isinstance(entry, dict) else None
    if not isinstance(update_id, int) or isinstance(update_id, bool):
        update_id = None
    keys = (
        ",".join(sorted(k if _KEY.match(k) else "?" for k in entry if isinstance(k, str))[:20])
        if isinstance(entry, dict)
        else ""
    )
    try:
        if not isinstance(entry, dict) or update_id is None:
            raise TypeError("not an update")  # noqa: TRY301 - quarantined like the rest
        update = Update.de_json(entry, bot)
        if not any(getattr(update, kind, None) is not None for kind in ALLOWED_UPDATES):
            return None, (update_id, "UnknownUpdateType", keys)
        row = as_row(update, entry)
        row[2].encode("utf-8")  # a lone surrogate cannot be stored: found here, not in SQLite
    except Exception as exc:  # whatever PTB's parse of a shape it does not know raises
        return None, (update_id, type(exc).__name__, keys)
    return (update, row), None


def parse_batch(
    entries: object, bot: Bot
) -> tuple[list[tuple[Update, tuple[int, str | None, str]]], list[Poisoned], int | None]:
    """Every entry of a batch parsed on its own: (updates with their rows, the poisoned, the
    highest update id seen, to move the offset past even a poisoned one)."""
    parsed: list[tuple[Update, tuple[int, str | None, str]]] = []
    poisoned: list[Poisoned] = []
    highest: int | None = None
    for entry in entries if isinstance(entries, list) else [entries]:
        good, bad = parse_entry(entry, bot)
        update_id = good[0].update_id if good else bad[0] if bad else None
        if update_id is not None:
            highest = update_id if highest is None else max(highest, update_id)
        if good is not None:
            parsed.append(good)
        if bad is not None:
            poisoned.append(bad)
    return parsed, poisoned, highest


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
        raw: BaseRequest,
        allowed_updates: Sequence[str] = ALLOWED_UPDATES,
    ) -> None:
        self._app = app
        self._inbox = inbox
        self._timeout = timeout
        self._raw = raw  # the getUpdates transport
        self._allowed = list(allowed_updates)

    async def _get_updates(self, offset: int) -> object:
        """`getUpdates` at the request level: PTB's `Bot.get_updates` parses the batch as a
        whole, so one update it cannot parse fails them all (and PTB logs the whole batch,
        texts and names, at CRITICAL); here each update is parsed on its own."""
        data = RequestData(
            parameters=[
                RequestParameter.from_input("offset", offset),
                RequestParameter.from_input("timeout", self._timeout),
                RequestParameter.from_input("allowed_updates", self._allowed),
            ]
        )
        return await self._raw.post(
            url=f"{self._app.bot.base_url}/getUpdates",
            request_data=data,
            read_timeout=(self._raw.read_timeout or 0) + self._timeout,
        )

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
            parsed: list[tuple[Update, tuple[int, str | None, str]]] = []
            highest: int | None = None
            try:
                parsed, poisoned, highest = parse_batch(
                    await self._get_updates(offset), self._app.bot
                )
                fresh = set(await self._inbox.store([row for _, row in parsed], poisoned))
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
            except StorageStoppedError:
                # The database file is gone or read-only (the storage logged it once):
                # nothing can be stored, so nothing is acknowledged; each update is handed on
                # unstored, so that its handler fails and the person gets the storage
                # apology, instead of silence.
                if highest is not None:
                    offset = max(offset, highest + 1)
                for update, _ in parsed:
                    await self._app.update_queue.put(update)
                await asyncio.sleep(backoff)
                continue
            except Exception:
                # Most likely the database: the updates stay unconfirmed at Telegram and come
                # again with the next call.
                log.exception("could not store updates; trying again")
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 30.0)
                continue
            backoff = 1.0
            if highest is not None:
                offset = max(offset, highest + 1)
            for update, _ in parsed:
                if update.update_id in fresh:
                    await self._app.update_queue.put(update)
