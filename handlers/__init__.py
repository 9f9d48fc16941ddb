"""Telegram glue only. `register(app)` is THE ordered list of handlers."""

from __future__ import annotations

from typing import Any

from telegram import Update
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

from handlers import facilitator, participant
from handlers.errors import error_handler
from handlers.gate import note_contact

PRIVATE = filters.ChatType.PRIVATE


def register(app: Application[Any, Any, Any, Any, Any, Any]) -> None:
    # Group -1 runs first for every update and never stops the others: it records the
    # facilitator roles that the event file gives, before any command checks rights.
    app.add_handler(TypeHandler(Update, note_contact), group=-1)

    app.add_handlers(
        [
            # Deep link first: `/start aalborg-t2` from a QR code is the usual way in.
            CommandHandler("start", participant.start_command, filters=PRIVATE, has_args=True),
            CommandHandler("start", participant.start_command, filters=PRIVATE),
            CommandHandler("checkin", participant.checkin_command, filters=PRIVATE),
            CommandHandler("where", participant.where_command, filters=PRIVATE),
            CommandHandler("switch", participant.switch_command, filters=PRIVATE),
            CommandHandler("language", participant.language_command, filters=PRIVATE),
            CommandHandler("agenda", participant.agenda_command, filters=PRIVATE),
            CommandHandler("anonymous", participant.anonymous_command, filters=PRIVATE),
            CommandHandler("forget", participant.forget_command, filters=PRIVATE),
            CommandHandler("help", participant.help_command, filters=PRIVATE),
            # Facilitators' and organisers' commands: each checks the role itself, at the
            # moment of use, and refuses politely.
            CommandHandler("now", facilitator.now_command, filters=PRIVATE),
            CommandHandler("next", facilitator.next_command, filters=PRIVATE),
            CommandHandler("delay", facilitator.delay_command, filters=PRIVATE),
            CommandHandler("pause", facilitator.pause_command, filters=PRIVATE),
            CommandHandler("resume", facilitator.resume_command, filters=PRIVATE),
            CommandHandler("prompt", facilitator.prompt_command, filters=PRIVATE),
            CommandHandler("close", facilitator.close_command, filters=PRIVATE),
            CommandHandler("broadcast", facilitator.broadcast_command, filters=PRIVATE),
            # Buttons: each pattern names one action of `handlers.keyboards`; anything else is
            # old or forged and gets a polite "no longer valid".
            CallbackQueryHandler(participant.consent_button, pattern=r"^v1:consent:"),
            CallbackQueryHandler(participant.table_button, pattern=r"^v1:table:"),
            CallbackQueryHandler(participant.move_button, pattern=r"^v1:move:"),
            CallbackQueryHandler(participant.category_button, pattern=r"^v1:cat:"),
            CallbackQueryHandler(participant.anonymity_button, pattern=r"^v1:anon:"),
            CallbackQueryHandler(participant.language_button, pattern=r"^v1:lang:"),
            CallbackQueryHandler(participant.forget_button, pattern=r"^v1:forget:"),
            CallbackQueryHandler(facilitator.broadcast_button, pattern=r"^v1:bcast:"),
            CallbackQueryHandler(participant.unknown_button),
            # Last: stray commands, then everything else in a private chat.
            MessageHandler(filters.COMMAND & PRIVATE, participant.unknown_command),
            MessageHandler(PRIVATE & ~filters.StatusUpdate.ALL, participant.other_message),
        ]
    )
    app.add_error_handler(error_handler)
