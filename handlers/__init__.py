"""Telegram glue only. `register(app)` is THE ordered list of handlers."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from telegram import Update
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

from handlers import exports, facilitator, gate, inputs, participant, privacy, roles, walls
from handlers.common import stale_button
from handlers.errors import error_handler
from handlers.gate import note_contact

PRIVATE = filters.ChatType.PRIVATE
NEW = filters.UpdateType.MESSAGE  # not edits: those have their own handler
# A GIF arrives with a `document` too (for old clients): it is an animation, not an input.
INPUT = (
    (filters.TEXT & ~filters.COMMAND)
    | filters.PHOTO
    | (filters.Document.ALL & ~filters.ANIMATION)
    | filters.VOICE
)
NOT_AN_INPUT = (
    filters.Sticker.ALL
    | filters.LOCATION
    | filters.VENUE
    | filters.CONTACT
    | filters.POLL
    | filters.Dice.ALL
    | filters.VIDEO
    | filters.VIDEO_NOTE
    | filters.ANIMATION
    | filters.AUDIO
    | filters.GAME
    | filters.STORY
)


def register(
    app: Application[Any, Any, Any, Any, Any, Any], facilitator_chats: Iterable[int] = ()
) -> None:
    # The facilitators' group chats of the event file: the facilitators' commands are typed
    # there too (`/now`, `/now@bot`), and act on that chat's site unless another is named.
    # Rights are still checked per person; any other group the bot is added to gets silence.
    team = PRIVATE | filters.Chat(chat_id=list(facilitator_chats))
    # Group -2 runs first: a command or button press over its sender's pace stops here, before
    # it costs a database write or a reply (`bot.services.pace`). Inputs are not counted: they
    # have their own flood rule in the input service. Edits are neither.
    app.add_handler(MessageHandler(PRIVATE & NEW & filters.COMMAND, gate.pace), group=-2)
    app.add_handler(CallbackQueryHandler(gate.pace), group=-2)
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
            CommandHandler("agenda", participant.agenda_command, filters=team),
            CommandHandler("anonymous", participant.anonymous_command, filters=PRIVATE),
            CommandHandler("privacy", privacy.privacy_command, filters=PRIVATE),
            CommandHandler("withdraw", privacy.withdraw_command, filters=PRIVATE),
            CommandHandler("mydata", privacy.mydata_command, filters=PRIVATE),
            CommandHandler("forget", privacy.forget_command, filters=PRIVATE),
            CommandHandler("mine", inputs.mine_command, filters=PRIVATE),
            CommandHandler("undo", inputs.undo_command, filters=PRIVATE),
            CommandHandler("inputs", inputs.inputs_command, filters=team),
            CommandHandler("quiet", inputs.quiet_command, filters=team),
            CommandHandler("help", participant.help_command, filters=PRIVATE),
            # Facilitators' and organisers' commands: each checks the role itself, at the
            # moment of use, and refuses politely. In a facilitators' group too (`team`);
            # not /export, whose files of people's inputs belong in a private chat.
            CommandHandler("now", facilitator.now_command, filters=team),
            CommandHandler("next", facilitator.next_command, filters=team),
            CommandHandler("delay", facilitator.delay_command, filters=team),
            CommandHandler("pause", facilitator.pause_command, filters=team),
            CommandHandler("resume", facilitator.resume_command, filters=team),
            CommandHandler("prompt", facilitator.prompt_command, filters=team),
            CommandHandler("close", facilitator.close_command, filters=team),
            CommandHandler("broadcast", facilitator.broadcast_command, filters=team),
            CommandHandler("relay", facilitator.relay_command, filters=team),
            CommandHandler("health", participant.health_command, filters=PRIVATE),
            CommandHandler("roles", roles.roles_command, filters=PRIVATE),
            CommandHandler("revoke", roles.revoke_command, filters=PRIVATE),
            CommandHandler("stats", exports.stats_command, filters=team),
            # The walls' links and the console's sign-in links are secrets: only in a private chat.
            CommandHandler("wall", walls.wall_command, filters=PRIVATE),
            CommandHandler("console", walls.console_command, filters=PRIVATE),
            # An export takes seconds: it runs as a task of its own (block=False), so the
            # updates after it are not held up.
            CommandHandler("export", exports.export_command, filters=PRIVATE, block=False),
            # Buttons: each listens to one action of `bot.buttons` (the pattern comes from the
            # action's class); anything else is old or forged and gets a polite "no longer
            # valid". Feed cards may sit in a facilitators' group chat, so no button has a chat
            # filter: the presser's rights are checked in the service.
            participant.consent_button.handler(),
            participant.table_button.handler(),
            participant.move_button.handler(),
            participant.category_button.handler(),
            participant.anonymity_button.handler(),
            participant.language_button.handler(),
            participant.help_more_button.handler(),
            privacy.forget_button.handler(),
            privacy.withdraw_button.handler(),
            facilitator.broadcast_button.handler(),
            participant.resend_unknown_button.handler(),
            inputs.withdraw_button.handler(),
            inputs.vote_button.handler(),
            inputs.relay_reaction_button.handler(),
            inputs.moderate_button.handler(),
            CallbackQueryHandler(stale_button),
            # Someone blocked the bot (or came back): pushes to them stop (or resume) now; the
            # bot left a group (or is back): a facilitator chat is given up (or used again).
            ChatMemberHandler(gate.blocked_or_back, ChatMemberHandler.MY_CHAT_MEMBER),
            # Inputs: what participants write back, and its edits.
            MessageHandler(PRIVATE & filters.UpdateType.EDITED_MESSAGE, inputs.edited_input),
            MessageHandler(PRIVATE & NEW & INPUT, inputs.message_input),
            MessageHandler(PRIVATE & NEW & NOT_AN_INPUT, inputs.unsupported_message),
            # Last: stray commands, then anything else in a private chat.
            MessageHandler(PRIVATE & NEW & filters.COMMAND, participant.unknown_command),
            MessageHandler(PRIVATE & NEW & ~filters.StatusUpdate.ALL, participant.other_message),
        ]
    )
    app.add_error_handler(error_handler)
