"""Runs before every other handler (a negative group): records the roles the event file gives."""

from __future__ import annotations

from telegram import Update

from handlers.common import user_ref
from handlers.context import Context


async def note_contact(update: Update, context: Context) -> None:
    user = user_ref(update)
    if user is not None and update.effective_chat and update.effective_chat.type == "private":
        await context.services.access.note_contact(user)
