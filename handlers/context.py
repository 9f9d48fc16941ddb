"""A typed context: handlers reach the services as `context.services`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from telegram.ext import CallbackContext, ExtBot

from bot.services import Services

if TYPE_CHECKING:
    from handlers.updates import RawUpdatesRequest


class BotData:
    """Application-wide data; PTB creates it empty and `bot.app` fills it in `post_init`."""

    def __init__(self) -> None:
        self._services: Services | None = None
        self.webhook_port: int | None = None  # where the webhook server listens, once it does
        self.raw_updates: RawUpdatesRequest | None = None  # getUpdates, keeping the raw JSON

    @property
    def services(self) -> Services:
        if self._services is None:
            raise RuntimeError("services are wired in post_init; no update is handled before")
        return self._services

    @services.setter
    def services(self, value: Services) -> None:
        self._services = value

    @property
    def services_or_none(self) -> Services | None:
        return self._services


class Context(CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], BotData]):
    @property
    def services(self) -> Services:
        return self.bot_data.services
