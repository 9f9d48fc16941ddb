"""Domain records the services and repositories exchange: frozen, Telegram-free, SQL-free."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from bot.buttons import ButtonData, Buttons
from bot.buttons import parse as parse_button


class Role(StrEnum):
    PARTICIPANT = "participant"
    FACILITATOR = "facilitator"
    ORGANISER = "organiser"


@dataclass(frozen=True, slots=True)
class UserRef:
    """Who sent an update, as far as the services need to know (nothing is stored from it
    except the user id, the private chat id, the display name and a chosen language)."""

    user_id: int
    chat_id: int
    display_name: str
    username: str | None = None
    telegram_language: str | None = None


@dataclass(frozen=True, slots=True)
class Participant:
    user_id: int
    chat_id: int
    display_name: str
    language: str | None  # set only when the person chose one with /language
    created_at: datetime
    # Telegram answered Forbidden (they blocked the bot): messages to them are not attempted.
    unreachable_at: datetime | None = None
    telegram_language: str | None = None  # as Telegram last said, for messages not answers


@dataclass(frozen=True, slots=True)
class Consent:
    user_id: int
    event_key: str
    version: str
    given_at: datetime
    withdrawn_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.withdrawn_at is None


@dataclass(frozen=True, slots=True)
class CheckIn:
    """Where a person takes part. A row exists from the first valid code on; the person counts
    as checked in only once they have consented and (for sites with tables) chosen a table."""

    event_key: str
    user_id: int
    site_key: str
    group_key: str | None
    checked_in_at: datetime
    updated_at: datetime
    pending_site_key: str | None = None  # a move to another site waiting for confirmation
    pending_group_key: str | None = None
    category_key: str | None = None  # the event's participant role (politician …)
    anonymous: bool | None = None  # their choice, where the event lets them choose


@dataclass(frozen=True, slots=True)
class Admission:
    """What decides whether a message becomes an input, read in one query: the input it
    already is (a message delivered again), the author's check-in, consent and roles, and
    who at their site receives its card."""

    existing_input_id: int | None
    checkin: CheckIn | None
    consented: bool
    grants: tuple[RoleGrant, ...] = ()  # the author's roles
    facilitators: tuple[FacilitatorChat, ...] = ()  # of the check-in's site, for the feed

    @property
    def facilitator_chats(self) -> tuple[int, ...]:
        return tuple(f.chat_id for f in self.facilitators)


@dataclass(frozen=True, slots=True)
class FacilitatorChat:
    """A facilitator's private chat, with what choosing their language needs."""

    chat_id: int
    language: str | None = None  # chosen with /language
    telegram_language: str | None = None


@dataclass(frozen=True, slots=True)
class RoleGrant:
    event_key: str
    user_id: int
    role: Role
    site_key: str | None  # None for organisers: they act on every site
    granted_at: datetime
    via: str  # "code", "event_file" or "settings"


class DeliveryStatus(StrEnum):
    """Where an outbox row stands. Only PENDING rows are ever sent."""

    PENDING = "pending"
    SENDING = "sending"  # handed to Telegram; if a crash leaves it here, the outcome is unknown
    SENT = "sent"
    FAILED = "failed"  # Telegram refused it for good, or retries ran out
    UNREACHABLE = "unreachable"  # the person blocked the bot, or the chat is gone
    UNKNOWN = "unknown"  # Telegram may or may not have it; reported, never sent again
    MISSED = "missed"  # Telegram could not be reached until the message was no longer relevant


@dataclass(frozen=True, slots=True)
class LostChat:
    """A chat the bot can no longer write to (see `bot.services.lostchats`): gone for good
    until the bot is back in it, or, with `moved_to`, a group that became a supergroup."""

    chat_id: int
    reason: str
    moved_to: int | None
    since: datetime


# "erasure": an edit or deletion of a message sent earlier, queued by /forget (see privacy).
DELIVERY_KINDS = frozenset({"push", "reminder", "broadcast", "notice", "relay", "feed", "erasure"})


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    """What one outbox row sends: HTML already rendered and escaped, and inline buttons as
    rows of (label, action); stored with each action packed as its callback data."""

    text: str
    buttons: Buttons = ()
    silent: bool = False
    # Set on an erasure's rows: not a new message but an edit (to `text`) or a deletion of a
    # message the bot sent earlier in the same chat, whose Telegram id this is.
    edit_of: int | None = None
    delete_of: int | None = None
    # A participant's photo, document or voice note shown by its Telegram file id, `text` as
    # its caption (at most CAPTION_LIMIT characters); with `edit_of`, only the caption changes.
    media: Media | None = None

    def to_json(self) -> str:
        data: dict[str, Any] = {"text": self.text}
        if self.media is not None:
            data["media"] = [self.media.kind.value, self.media.file_id]
        if self.edit_of is not None:
            data["edit_of"] = self.edit_of
        if self.delete_of is not None:
            data["delete_of"] = self.delete_of
        if self.buttons:
            data["buttons"] = [
                [[label, pressed.pack()] for label, pressed in row] for row in self.buttons
            ]
        if self.silent:
            data["silent"] = True
        return json.dumps(data, ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, raw: str) -> OutboxMessage:
        data = json.loads(raw)
        if not isinstance(data, dict) or not isinstance(data.get("text"), str):
            raise TypeError("an outbox payload is a JSON object with a text")
        buttons = tuple(
            tuple((str(label), _button(callback)) for label, callback in row)
            for row in data.get("buttons", ())
        )
        edit_of, delete_of = data.get("edit_of"), data.get("delete_of")
        media = data.get("media")
        return cls(
            media=Media(InputKind(media[0]), media[1] and str(media[1])) if media else None,
            text=data["text"],
            buttons=buttons,
            silent=bool(data.get("silent", False)),
            edit_of=edit_of if isinstance(edit_of, int) else None,
            delete_of=delete_of if isinstance(delete_of, int) else None,
        )


def _button(callback: object) -> ButtonData:
    pressed = parse_button(callback if isinstance(callback, str) else None)
    if pressed is None:
        raise TypeError("an outbox button holds callback data that this version makes")
    return pressed


@dataclass(frozen=True, slots=True)
class Media:
    """A file Telegram already holds, sent again by its id (no download, no upload)."""

    kind: InputKind  # photo, document or voice; never text
    # None in an edit or a deletion of a message that shows it: only its caption changes.
    file_id: str | None


@dataclass(frozen=True, slots=True)
class HighlightReview:
    """Where a highlight stands after its input was edited."""

    held: bool  # edited after it was approved: travels on only when starred again
    relayed_sites: int  # how many other sites received it (with the text approved then)


@dataclass(frozen=True, slots=True)
class CarriedCopy:
    """A message the bot sent to someone else that carries a person's name or words: a
    facilitators' feed card (or reception notice) quoting their input, a relay or digest
    with their highlight, or a check-in card that may quote it."""

    chat_id: int
    message_id: int
    kind: str  # "feed" (one input quoted), "relay" (a relay or digest), "card" (check-in card)
    # For a relay or digest: the other inputs it carried, to render it again without theirs.
    others: tuple[int, ...] = ()
    # The photo, document or voice note itself is shown (a caption, not a text, to edit).
    media: InputKind | None = None

    @property
    def only_theirs(self) -> bool:
        return self.kind != "card" and not self.others


@dataclass(frozen=True, slots=True)
class NewDelivery:
    """A message to enqueue. `key` names the decision (e.g. `push:<event>:<site>:<item>:<user>`)
    so that taking the same decision twice queues it once."""

    key: str
    event_key: str | None
    chat_id: int
    user_id: int | None  # the participant whose private chat this is, if it is one
    kind: str
    message: OutboxMessage
    priority: int = 0  # lower is sooner
    # Until when the message is worth sending: transient failures are retried until then,
    # after which the row is `missed`. None: the worker's default relevance.
    expires_at: datetime | None = None

    def __post_init__(self) -> None:
        if not self.key:
            raise ValueError("an outbox key cannot be empty")
        if self.kind not in DELIVERY_KINDS:
            raise ValueError(f"unknown delivery kind {self.kind!r}")


@dataclass(frozen=True, slots=True)
class OutboxRow:
    id: int
    key: str
    event_key: str | None
    chat_id: int
    user_id: int | None
    kind: str
    message: OutboxMessage
    status: DeliveryStatus
    attempts: int
    not_before: datetime | None
    created_at: datetime
    sent_at: datetime | None
    telegram_message_id: int | None
    error: str | None
    priority: int
    expires_at: datetime | None = None


# -- the agenda's state ---------------------------------------------------------------------


class ShiftReason(StrEnum):
    DELAY = "delay"
    NEXT = "next"
    RESUME = "resume"


@dataclass(frozen=True, slots=True)
class Shift:
    """The remaining programme of a site moved by `seconds`, from `from_item_key` on."""

    id: int
    site_key: str
    from_item_key: str
    seconds: int
    reason: ShiftReason
    created_at: datetime


@dataclass(frozen=True, slots=True)
class AdhocPrompt:
    id: int
    site_key: str
    group_key: str | None  # None: the whole site
    text: str
    opened_at: datetime
    closed_at: datetime | None


@dataclass(frozen=True, slots=True)
class SiteAgendaState:
    """Everything the database knows about one site's programme."""

    site_key: str
    shifts: tuple[Shift, ...] = ()
    paused_at: datetime | None = None
    fired: frozenset[tuple[str, str]] = frozenset()  # (item key, "start" | "reminder")
    adhoc: tuple[AdhocPrompt, ...] = ()


@dataclass(frozen=True, slots=True)
class Recipient:
    """A checked-in, consenting, reachable participant, with what rendering needs."""

    user_id: int
    chat_id: int
    group_key: str | None
    language: str | None  # chosen with /language
    telegram_language: str | None


@dataclass(frozen=True, slots=True)
class SiteCounts:
    checked_in: int
    unreachable: int


@dataclass(frozen=True, slots=True)
class Broadcast:
    id: int
    event_key: str
    site_key: str | None  # None: every site
    text: str
    created_by: int
    created_at: datetime
    sent_at: datetime | None = None
    cancelled_at: datetime | None = None
    recipients: int | None = None
    kind: str = "broadcast"  # or "greeting": from one site to the others


# -- inputs ------------------------------------------------------------------------------------


class InputKind(StrEnum):
    TEXT = "text"
    PHOTO = "photo"
    DOCUMENT = "document"
    VOICE = "voice"


class InputState(StrEnum):
    VISIBLE = "visible"
    HIDDEN = "hidden"  # a facilitator took it off the feed; still in the database
    WITHDRAWN = "withdrawn"  # its author took it back: it leaves every export


@dataclass(frozen=True, slots=True)
class IncomingMessage:
    """A participant's message as the input service needs it, Telegram-free."""

    chat_id: int
    message_id: int
    update_id: int | None
    kind: InputKind
    text: str  # the text, or the caption of a photo, document or voice note
    file_id: str | None = None
    file_unique_id: str | None = None
    file_name: str | None = None
    mime_type: str | None = None
    duration: int | None = None


@dataclass(frozen=True, slots=True)
class Input:
    id: int
    event_key: str
    user_id: int
    site_key: str
    group_key: str | None
    role: str
    category_key: str | None
    # The author's choice as it is now (it covers their earlier inputs too); None: never made,
    # which with `participant_choice` shows no name.
    anonymous: bool | None
    item_key: str | None
    adhoc_id: int | None
    kind: InputKind
    text: str
    file_id: str | None
    file_name: str | None
    chat_id: int
    message_id: int
    state: InputState
    created_at: datetime
    edited_at: datetime | None = None
    author_name: str = ""  # the participant's display name, for events that credit authors
    stars: int = 0
    votes: int = 0


@dataclass(frozen=True, slots=True)
class ConsoleSession:
    """An open session of the facilitators' console (found by the hash of its id)."""

    user_id: int
    csrf: str  # the session's token for its forms
    expires_at: datetime
