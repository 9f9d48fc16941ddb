"""PTB's `Application` holding the services it was built with.

The composition root builds the services first and hands them to the application's
constructor (PTB's `ApplicationBuilder.application_class`), so a handler's context reaches
them as `context.services` (`handlers.context.Context`) with nothing wired in afterwards.
"""

from __future__ import annotations

from typing import Any

from telegram.ext import Application

from bot.services import Services


class ServicesApplication(Application[Any, Any, Any, Any, Any, Any]):
    def __init__(self, *, services: Services, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.services = services
