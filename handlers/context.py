"""A typed context: handlers reach the services as `context.services`, the person who sent the
update as `context.user` and the language to answer them in as `await context.lang()`."""

from __future__ import annotations

from typing import Any

from telegram import Update
from telegram.ext import Application, CallbackContext, ExtBot

from bot.models import UserRef
from bot.services import Services
from bot.telegram.application import ServicesApplication
from bot.telegram.processor import ChatOrderedProcessor


class Context(CallbackContext[ExtBot[Any], dict[Any, Any], dict[Any, Any], dict[Any, Any]]):
    """PTB makes one context per update and hands the same one to every handler group (the
    gate in group -1, then the handler), and a new one to the error handler. What is worked
    out from the update is kept here for the rest of that update."""

    # Class-level defaults: a context made for a job, or without an update, has none.
    _update: Update | None = None
    _user: UserRef | None = None
    _user_known: bool = False
    _lang: str | None = None

    @classmethod
    def from_update(
        cls, update: object, application: Application[Any, Context, Any, Any, Any, Any]
    ) -> Context:
        context = super().from_update(update, application)
        if isinstance(update, Update):
            context._update = update
        return context

    @property
    def services(self) -> Services:
        app = self.application
        if not isinstance(app, ServicesApplication):
            raise TypeError("handlers run in the application that bot.app builds")
        return app.services

    @property
    def arrived(self) -> float | None:
        """When the update reached the bot (monotonic seconds), if it came through the
        chat-ordered processor (polling, the webhook); None when handed in directly."""
        processor = self.application.update_processor
        if self._update is None or not isinstance(processor, ChatOrderedProcessor):
            return None
        return processor.arrived(self._update.update_id)

    @property
    def user(self) -> UserRef | None:
        """Who sent the update, as the services know people; None for a bot, a channel post or
        an update without a sender."""
        if not self._user_known:
            self._user = user_ref(self._update) if self._update is not None else None
            self._user_known = True
        return self._user

    async def lang(self) -> str:
        """The language to answer the sender in. Looked up in the database the first time a
        handler needs a sentence, then kept for the rest of the update; an update that needs
        none (an input acknowledged with 👍) never asks."""
        if self._lang is None:
            user = self.user
            self._lang = (
                await self.services.access.language(user)
                if user is not None
                else self.services.event.default_language
            )
        return self._lang


def user_ref(update: Update) -> UserRef | None:
    """The sender of an update, if it is a person in a chat (bots and channels are not)."""
    user = update.effective_user
    chat = update.effective_chat
    if user is None or chat is None or user.is_bot:
        return None
    return UserRef(
        user_id=user.id,
        chat_id=chat.id,
        display_name=user.full_name,
        username=user.username,
        telegram_language=user.language_code,
    )
