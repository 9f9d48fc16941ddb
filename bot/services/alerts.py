"""Alerts: when a handler fails, the organisers hear of it, not only the log.

An alert names the kind of error (the exception's class) and where it happened (the handler,
or the kind of update or job), never what anyone wrote, their name or the token: it says
nothing an exception's message or an update could carry. At most one alert a minute goes out;
the failures in between are counted and the next alert says how many there were, so a broken
database does not flood the organisers' chats (nor the outbox that would have to send it all).
Alerts travel through the outbox like every message the bot sends on its own initiative.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta

from bot.event import Event
from bot.i18n import Catalogue, clock
from bot.models import NewDelivery, OutboxMessage
from bot.ports import Clock, UnitOfWork
from bot.services.access import AccessService

INTERVAL = timedelta(minutes=1)  # at most one alert this often
# `where` comes from the code (module and function names, Telegram's update kinds, job names):
# anything else is not shown, so that no text from an update can reach an alert.
_WHERE = re.compile(r"[A-Za-z0-9_.:()/ -]{1,120}")


def error_name(error: BaseException) -> str:
    """The exception's class, with the class of its cause: `StorageUnavailableError (from
    sqlite3.OperationalError)`. Never its message, which may quote what someone wrote."""

    def name(kind: type[BaseException]) -> str:
        module = kind.__module__
        return kind.__qualname__ if module == "builtins" else f"{module}.{kind.__qualname__}"

    cause = error.__cause__
    if cause is None:
        return name(type(error))
    return f"{name(type(error))} (from {name(type(cause))})"


class AlertService:
    def __init__(
        self,
        event: Event,
        uow: UnitOfWork,
        clock: Clock,
        texts: Catalogue,
        access: AccessService,
        interval: timedelta = INTERVAL,
        *,
        on_queued: Callable[[], None] = lambda: None,
    ) -> None:
        self._event = event
        self._uow = uow
        self._clock = clock
        self._texts = texts
        self._access = access
        self._interval = interval
        self._last: datetime | None = None
        self._held = 0  # failures since the last alert that had none of their own
        self._on_queued = on_queued  # wakes the delivery worker

    def _claim(self) -> bool:
        """Whether an alert may go out now. The minute counts from the attempt, not from a
        delivery: with the database down, the outbox fails too, and is tried once a minute."""
        now = self._clock.now()
        if self._last is not None and now - self._last < self._interval:
            self._held += 1
            return False
        self._last = now
        return True

    def _render(self, error: BaseException, where: str, lang: str, held: int) -> str:
        now = self._clock.now()
        text = self._texts(
            lang,
            "alerts.handler_failed",
            time=clock(lang, now.astimezone(self._event.tz), seconds=True),
            error=error_name(error),
            where=where if _WHERE.fullmatch(where) else "?",
        )
        if held:
            text += "\n" + self._texts(lang, "alerts.held", count=held)
        return text

    async def handler_failed(self, error: BaseException, where: str) -> int:
        """Queue an alert to every organiser of the settings, unless one went out less than a
        minute ago; how many were queued. `where` names the handler or the kind of update."""
        organisers = sorted(self._access.organiser_ids)
        if not organisers or not self._claim():
            return 0
        now = self._clock.now()
        held, self._held = self._held, 0
        message = OutboxMessage(self._render(error, where, self._event.default_language, held))
        try:
            queued = await self._enqueue(message, organisers, now)
        except BaseException:
            self._held = held + 1  # the next alert counts this one too
            raise
        if queued:
            self._on_queued()
        return queued

    async def _enqueue(self, message: OutboxMessage, organisers: list[int], now: datetime) -> int:
        async with self._uow.transaction():
            return await self._uow.outbox.enqueue(
                [
                    NewDelivery(
                        key=f"alert:{self._event.key}:{now.isoformat()}:{chat}",
                        event_key=self._event.key,
                        chat_id=chat,  # an organiser's private chat has their user id
                        user_id=None,
                        kind="notice",
                        message=message,
                        priority=-1,  # a handful of messages, worth having at once
                    )
                    for chat in organisers
                ],
                now,
            )

    async def answer_given_up(self, chat_id: int, lang: str, update_id: int) -> int:
        """Queue an apology for an answer Telegram refused (429) until it was given up: it
        waits in the outbox, which keeps retrying, rather than meeting the same refusal now.
        One per update. It says nothing about the person, so it is not tied to them (the
        one who wrote may not have checked in)."""
        now = self._clock.now()
        async with self._uow.transaction():
            queued = await self._uow.outbox.enqueue(
                [
                    NewDelivery(
                        key=f"apology:{self._event.key}:{chat_id}:{update_id}",
                        event_key=self._event.key,
                        chat_id=chat_id,
                        user_id=None,
                        kind="notice",
                        message=OutboxMessage(self._texts(lang, "errors.answer_lost")),
                        priority=-1,
                    )
                ],
                now,
            )
        if queued:
            self._on_queued()
        return queued
