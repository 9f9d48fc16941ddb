"""A typed context: handlers reach the services as `context.services`."""

from __future__ import annotations

from typing import Any

from telegram.ext import CallbackContext, ExtBot

from bot.services import Services
from bot.telegram.application import ServicesApplication


class Context(CallbackContext[ExtBot[Any], dict[Any, Any], dict[Any, Any], dict[Any, Any]]):
    @property
    def services(self) -> Services:
        app = self.application
        if not isinstance(app, ServicesApplication):
            raise TypeError("handlers run in the application that bot.app builds")
        return app.services
