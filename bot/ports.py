"""What the services depend on. Storage and Telegram adapters implement these Protocols."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Any, Protocol

from bot.models import (
    Admission,
    Broadcast,
    CarriedCopy,
    CheckIn,
    Consent,
    ConsoleSession,
    DeliveryStatus,
    FacilitatorChat,
    HighlightReview,
    IncomingMessage,
    Input,
    InputState,
    LostChat,
    NewDelivery,
    OutboxMessage,
    OutboxRow,
    Participant,
    Recipient,
    Role,
    RoleGrant,
    ShiftReason,
    SiteAgendaState,
    SiteCounts,
)


class StorageUnavailableError(Exception):
    """The database could not be opened or used; storage adapters raise subclasses."""


DATABASE_READ_ONLY = "database read-only"
DATABASE_LOST = "database file deleted or replaced"


class StorageStoppedError(StorageUnavailableError):
    """The database takes no write until something outside the bot changes: its file was
    deleted or replaced (`DATABASE_LOST`, for good), or it became read-only
    (`DATABASE_READ_ONLY`, until it is writable again). Reading still works. The storage has
    logged the cause once; `state` names it."""

    def __init__(self, state: str) -> None:
        super().__init__(state)
        self.state = state


class Clock(Protocol):
    def now(self) -> datetime:
        """An aware datetime; tests and rehearsals pass a clock they control."""
        ...


class ParticipantRepo(Protocol):
    async def get(self, user_id: int) -> Participant | None: ...

    async def upsert(
        self,
        user_id: int,
        chat_id: int,
        display_name: str,
        now: datetime,
        telegram_language: str | None = None,
    ) -> Participant: ...

    async def set_language(self, user_id: int, language: str | None) -> None: ...

    async def delete(self, user_id: int) -> bool:
        """Erase the person and, through the schema's cascades, everything tied to them."""
        ...

    async def active_consent(self, user_id: int, event_key: str) -> Consent | None: ...

    async def withdrew_consent(self, user_id: int, event_key: str) -> bool:
        """The person's latest consent for the event was withdrawn (/withdraw)."""
        ...

    async def record_consent(
        self, user_id: int, event_key: str, version: str, now: datetime
    ) -> Consent: ...

    async def mark_unreachable(self, user_id: int, now: datetime) -> None:
        """Telegram answered Forbidden: later messages to this person are not attempted."""
        ...

    async def mark_reachable(self, user_id: int) -> None:
        """The person wrote to the bot again, so it may write to them again."""
        ...


class CheckInRepo(Protocol):
    async def get(self, event_key: str, user_id: int) -> CheckIn | None: ...

    async def save(self, checkin: CheckIn) -> None: ...

    async def delete(self, event_key: str, user_id: int) -> None: ...

    async def count_by_group(self, event_key: str, site_key: str) -> dict[str | None, int]: ...


class RoleRepo(Protocol):
    async def grant(
        self,
        event_key: str,
        user_id: int,
        role: Role,
        site_key: str | None,
        via: str,
        now: datetime,
    ) -> bool:
        """Record a role; return False when the person already had it."""
        ...

    async def of_user(self, event_key: str, user_id: int) -> Sequence[RoleGrant]: ...

    async def granted_by_codes(self, event_key: str) -> Sequence[RoleGrant]: ...

    async def revoke(self, event_key: str, user_id: int, role: Role, site_key: str | None) -> bool:
        """End a role; return False when the person did not have it."""
        ...

    async def holders(self, event_key: str) -> Sequence[RoleGrant]: ...


class OutboxRepo(Protocol):
    """Messages the bot sends on its own initiative, recorded before they are sent."""

    async def pending_to(self, chat_id: int) -> list[OutboxRow]:
        """The rows still waiting to be sent to `chat_id`, oldest first."""
        ...

    async def mark_rerouted(self, row_ids: Sequence[int], reason: str) -> None:
        """Pending rows whose copies were queued to other chats: never sent where they were
        meant to go (`unreachable`), and not counted as failed sends."""
        ...

    async def failed_sends(self) -> int:
        """Sends that did not arrive and will not be tried again: rows `failed`, and rows
        `unreachable` in a chat that is no participant's (a group, an organiser), not those
        rerouted before they were tried."""
        ...

    async def enqueue(self, items: Sequence[NewDelivery], now: datetime) -> int:
        """Queue the messages whose key is new; return how many were actually queued."""
        ...

    async def next_pending(self, now: datetime, limit: int) -> list[OutboxRow]:
        """Pending rows that are due, by priority then id."""
        ...

    async def next_per_chat(self, now: datetime, limit: int) -> list[OutboxRow]:
        """The earliest pending row of each chat, when it is due, by priority then id.

        A chat's later rows wait behind its earliest one (even one in backoff), and a chat
        with a row in 'sending' offers none, so that one chat's messages arrive in order
        while other chats are not held up.
        """
        ...

    async def mark_sending(self, row_id: int, now: datetime) -> bool:
        """Claim a pending row for one attempt; False if it is no longer pending."""
        ...

    async def claim(self, row_ids: Sequence[int], now: datetime) -> dict[int, DeliveryStatus]:
        """Claim pending rows for one attempt each: SENDING for those to send now, UNREACHABLE
        for those addressed to a participant known to be unreachable (settled, not sent);
        rows no longer pending (erased, taken otherwise) are left out."""
        ...

    async def pending_chats(self, chat_ids: Collection[int]) -> set[int]:
        """Those of `chat_ids` that still have a pending row."""
        ...

    async def with_prefix(self, prefix: str) -> list[OutboxRow]: ...

    async def replace_pending(self, row_id: int, message: OutboxMessage) -> bool: ...

    async def drop_pending(self, row_ids: Sequence[int]) -> None: ...

    async def mark_sent(self, row_id: int, message_id: int, now: datetime) -> None: ...

    async def mark_sent_many(self, sent: Sequence[tuple[int, int, datetime]]) -> None:
        """(row id, Telegram's message id, when) for each row Telegram took."""
        ...

    async def mark_pending_retry(self, row_id: int, not_before: datetime, error: str) -> None:
        """Back to pending, not to be tried before `not_before`."""
        ...

    async def mark_failed(self, row_id: int, error: str) -> None: ...

    async def mark_unreachable(self, row_id: int, error: str) -> None: ...

    async def mark_unknown(self, row_id: int, error: str) -> None: ...

    async def mark_missed(self, row_id: int, error: str) -> None:
        """Never sent: Telegram could not be reached before the row expired."""
        ...

    async def unknown_rows(self, limit: int) -> list[OutboxRow]:
        """Rows whose outcome is unknown and that have not been sent again yet, oldest first."""
        ...

    async def mark_resent(self, row_ids: Sequence[int]) -> None:
        """These unknown rows were queued again (as `resend:<id>`): their text goes."""
        ...

    async def recover_after_restart(self, now: datetime) -> int:
        """Rows a crash left in 'sending' become 'unknown'; return how many."""
        ...

    async def counts(self) -> dict[DeliveryStatus, int]: ...

    async def next_due_at(self, after: datetime | None = None) -> datetime | None:
        """The earliest `not_before` among pending rows (later than `after`, if given): when
        the worker has to look again."""
        ...

    async def by_key(self, key: str) -> OutboxRow | None: ...


# What a Sender may raise: the delivery worker decides on these without knowing Telegram.


class DeliveryError(Exception):
    """Base of the outcomes of a send other than success."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class RetryLater(DeliveryError):  # noqa: N818 - an instruction, as Telegram's 429 is
    """Flood control (429): nothing was sent; the whole bot must wait `seconds`."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"retry after {seconds:g}s")
        self.seconds = seconds


class Unreachable(DeliveryError):  # noqa: N818 - names the state the chat is in
    """The person blocked the bot, deleted their account, or the chat does not exist."""


class Rejected(DeliveryError):  # noqa: N818 - Telegram's verdict, not our error
    """Telegram refused this message for good (a 400); sending it again cannot succeed."""


class ChatMoved(Rejected):
    """The group was upgraded to a supergroup: the message belongs to `new_chat_id`."""

    def __init__(self, new_chat_id: int) -> None:
        super().__init__(f"group migrated to supergroup {new_chat_id}")
        self.new_chat_id = new_chat_id


class TransientFailure(DeliveryError):  # noqa: N818 - a passing state, retried
    """Telegram did not take the message (5xx, connection refused): safe to retry."""


class OutcomeUnknown(DeliveryError):  # noqa: N818 - the point is that we cannot tell
    """The request may have reached Telegram (a timeout, a dropped answer): not retried."""


class Sender(Protocol):
    """Sends one outbox message to Telegram; the only outbound path for outbox rows.

    Raises the exceptions above (RetryLater, Unreachable, Rejected, TransientFailure,
    OutcomeUnknown) so that the worker decides without knowing Telegram.
    """

    async def send(self, chat_id: int, message: OutboxMessage) -> int:
        """Send and return Telegram's message id."""
        ...

    async def edit(self, chat_id: int, message_id: int, message: OutboxMessage) -> int:
        """Replace the text (and buttons) of a message the bot sent; return its id."""
        ...

    async def delete(self, chat_id: int, message_id: int, fallback: OutboxMessage) -> int:
        """Delete a message the bot sent; where Telegram no longer allows that (older than
        48 hours), edit it to `fallback` instead. Returns the message id."""
        ...


class AgendaRepo(Protocol):
    """The agenda's state per site, and who receives what the agenda sends."""

    async def state(self, event_key: str, site_key: str) -> SiteAgendaState: ...

    async def add_shift(
        self,
        event_key: str,
        site_key: str,
        from_item_key: str,
        seconds: int,
        reason: ShiftReason,
        by: int | None,
        now: datetime,
    ) -> int: ...

    async def pause(
        self, event_key: str, site_key: str, by: int | None, now: datetime
    ) -> bool: ...

    async def unpause(self, event_key: str, site_key: str) -> None: ...

    async def mark_fired(
        self,
        event_key: str,
        site_key: str,
        item_key: str,
        what: str,
        outcome: str,
        now: datetime,
    ) -> bool: ...

    async def fired_outcomes(
        self, event_key: str, site_key: str
    ) -> dict[tuple[str, str], str]: ...

    async def open_adhoc(
        self,
        event_key: str,
        site_key: str,
        group_key: str | None,
        text: str,
        by: int | None,
        now: datetime,
    ) -> int: ...

    async def close_adhoc(self, event_key: str, site_key: str, now: datetime) -> int: ...

    async def recipients(
        self,
        event_key: str,
        site_key: str,
        group_key: str | None = None,
        missing_key: str | None = None,
        *,
        unreachable_too: bool = False,
    ) -> Sequence[Recipient]: ...

    async def unanswered(
        self, event_key: str, site_key: str, item_key: str
    ) -> Sequence[Recipient]: ...

    async def site_counts(self, event_key: str, site_key: str) -> SiteCounts: ...

    async def delivery_counts(self, key_prefix: str) -> dict[str, int]: ...

    async def missed_pushes(self, event_key: str, site_key: str) -> dict[str, int]:
        """Item key → copies of its push at the site that were `missed`."""
        ...

    async def facilitator_chats(self, event_key: str, site_key: str) -> list[int]: ...

    async def facilitators(self, event_key: str, site_key: str) -> list[FacilitatorChat]: ...


class BroadcastRepo(Protocol):
    async def draft(
        self,
        event_key: str,
        site_key: str | None,
        text: str,
        by: int,
        now: datetime,
        kind: str = "broadcast",
    ) -> Broadcast: ...

    async def get(self, broadcast_id: int) -> Broadcast | None: ...

    async def mark_sent(self, broadcast_id: int, recipients: int, now: datetime) -> bool: ...

    async def mark_cancelled(self, broadcast_id: int, now: datetime) -> bool: ...


class InputRepo(Protocol):
    """Participants' inputs, their edit history, facilitators' stars and participants' votes."""

    async def add(
        self,
        *,
        event_key: str,
        user_id: int,
        site_key: str,
        group_key: str | None,
        role: str,
        category_key: str | None,
        anonymous: bool,
        item_key: str | None,
        adhoc_id: int | None,
        message: IncomingMessage,
        now: datetime,
    ) -> Input | None: ...

    async def admission(
        self, event_key: str, user_id: int, chat_id: int, message_id: int
    ) -> Admission: ...

    async def get(self, input_id: int) -> Input | None: ...

    async def by_message(self, chat_id: int, message_id: int) -> Input | None: ...

    async def edit(self, input_id: int, text: str, now: datetime) -> None: ...

    async def history(self, input_id: int) -> list[str]: ...

    async def set_state(
        self, input_id: int, state: InputState, by: int | None, now: datetime
    ) -> None: ...

    async def of_user(self, event_key: str, user_id: int, limit: int) -> Sequence[Input]: ...

    async def count_of_user(self, event_key: str, user_id: int) -> int: ...

    async def for_prompt(
        self,
        event_key: str,
        site_key: str,
        item_key: str | None,
        adhoc_id: int | None,
        limit: int,
    ) -> Sequence[Input]: ...

    async def counts_by_group(
        self, event_key: str, site_key: str, item_key: str | None, adhoc_id: int | None
    ) -> dict[str | None, int]: ...

    async def toggle_star(self, input_id: int, user_id: int, now: datetime) -> bool: ...

    async def add_star(self, input_id: int, user_id: int, now: datetime) -> None: ...

    async def toggle_vote(self, input_id: int, user_id: int, now: datetime) -> bool: ...

    async def voted_by(self, user_id: int, input_ids: Sequence[int]) -> set[int]: ...


class RelayRepo(Protocol):
    """Highlights, what was relayed to which site, and the other sites' 👍."""

    async def add_highlight(
        self, input_id: int, event_key: str, site_key: str, reason: str, now: datetime
    ) -> bool: ...

    async def drop_highlight_if_unrelayed(self, input_id: int) -> bool: ...

    async def hold_highlight(self, input_id: int, now: datetime) -> bool: ...

    async def release_highlight(self, input_id: int) -> bool: ...

    async def review(self, input_id: int) -> HighlightReview | None: ...

    async def is_highlight(self, input_id: int) -> bool: ...

    async def pending(
        self, event_key: str, from_site: str, to_site: str, limit: int
    ) -> Sequence[Input]: ...

    async def top(
        self, event_key: str, site_key: str, limit: int, *, approved_only: bool = False
    ) -> Sequence[Input]: ...

    async def mark_relayed(
        self, input_ids: Sequence[int], to_site: str, mode: str, relay_key: str, now: datetime
    ) -> None: ...

    async def was_relayed_to(self, input_id: int, site_key: str) -> bool: ...

    async def last_live_relay(self, event_key: str, to_site: str) -> datetime | None: ...

    async def sources_relayed_to(self, event_key: str, to_site: str) -> set[str]: ...

    async def relayed_live(
        self, event_key: str, from_site: str, to_site: str, since: datetime | None, limit: int
    ) -> Sequence[Input]: ...

    async def toggle_reaction(
        self, input_id: int, user_id: int, site_key: str, now: datetime
    ) -> bool: ...

    async def reception(self, input_id: int) -> dict[str, int]: ...

    async def site_figures(self, event_key: str, site_key: str) -> tuple[int, int]: ...


class InboxRepo(Protocol):
    """Updates as fetched from Telegram, until they are handled."""

    async def store(
        self, items: Sequence[tuple[int, str | None, str]], now: datetime
    ) -> list[int]: ...

    async def next_offset(self) -> int: ...

    async def unfinished(self, limit: int) -> list[tuple[int, str]]: ...

    async def finish(self, update_id: int, now: datetime, error: str | None = None) -> None: ...

    async def finish_many(self, update_ids: Sequence[int], now: datetime) -> None: ...

    async def give_up(self, update_id: int, now: datetime) -> None: ...

    async def attempts(self, update_id: int) -> int: ...

    async def counts(self) -> dict[str, int]: ...

    async def quarantine(
        self, items: Sequence[tuple[int | None, str, str]], now: datetime
    ) -> None: ...

    async def quarantined(self) -> int: ...


class PrivacyRepo(Protocol):
    """Erasure from every table, consent withdrawal, a person's own data."""

    async def erase(self, user_id: int, reason: str, now: datetime) -> int | None: ...

    async def people_of_event(self, event_key: str) -> list[int]: ...

    async def withdraw_consent(self, user_id: int, event_key: str, now: datetime) -> bool: ...

    async def data_of(self, user_id: int) -> dict[str, Any]: ...

    async def copies_in_telegram(self, user_id: int) -> list[CarriedCopy]: ...

    async def discard_unconsented(self, user_id: int) -> bool: ...


class LostChatRepo(Protocol):
    """Chats the bot can no longer write to, remembered across restarts."""

    async def mark(self, chat_id: int, reason: str, moved_to: int | None, now: datetime) -> bool:
        """Record the chat as lost (or moved); True if it was not recorded already."""
        ...

    async def clear(self, chat_id: int) -> bool:
        """The bot is back in the chat; True if it had been recorded as lost."""
        ...

    async def all(self) -> dict[int, LostChat]:
        """Every lost chat, by id."""
        ...


class WallRepo(Protocol):
    """The walls' tokens and what they read (storage/walls.py)."""

    async def tokens(self, event_key: str) -> dict[str, str]: ...

    async def set_token(self, event_key: str, wall: str, token: str, now: datetime) -> None: ...

    async def latest(
        self, event_key: str, site_key: str, limit: int, *, starred_only: bool
    ) -> Sequence[Input]: ...

    async def answered(
        self, event_key: str, site_key: str, item_key: str | None, adhoc_id: int | None
    ) -> int: ...


class ConsoleRepo(Protocol):
    """The console's sign-in links and sessions, by hash, and its feed (storage/console.py)."""

    async def add_link(
        self, token_hash: str, event_key: str, user_id: int, now: datetime, expires: datetime
    ) -> None: ...

    async def use_link(self, token_hash: str, event_key: str, now: datetime) -> int | None: ...

    async def link_owner(self, token_hash: str, event_key: str) -> int | None: ...

    async def add_session(
        self,
        session_hash: str,
        event_key: str,
        user_id: int,
        csrf: str,
        now: datetime,
        expires: datetime,
    ) -> None: ...

    async def session(
        self, session_hash: str, event_key: str, now: datetime
    ) -> ConsoleSession | None: ...

    async def end_session(self, session_hash: str, now: datetime) -> None: ...

    async def feed(self, event_key: str, site_key: str, limit: int) -> Sequence[Input]: ...


class UnitOfWork(Protocol):
    """One storage transaction; the repositories are only used inside `transaction()`."""

    @property
    def participants(self) -> ParticipantRepo: ...

    @property
    def checkins(self) -> CheckInRepo: ...

    @property
    def roles(self) -> RoleRepo: ...

    @property
    def agenda(self) -> AgendaRepo: ...

    @property
    def broadcasts(self) -> BroadcastRepo: ...

    @property
    def inputs(self) -> InputRepo: ...

    @property
    def relay(self) -> RelayRepo: ...

    @property
    def inbox(self) -> InboxRepo: ...

    @property
    def privacy(self) -> PrivacyRepo: ...

    @property
    def outbox(self) -> OutboxRepo: ...

    @property
    def lost_chats(self) -> LostChatRepo: ...

    @property
    def walls(self) -> WallRepo: ...

    @property
    def console(self) -> ConsoleRepo: ...

    async def checkpoint(self) -> None:
        """Fold the write-ahead log into the database and empty it (after an erasure, so
        that erased rows do not linger in the log); outside any transaction."""

    def stopped(self) -> str | None:
        """`DATABASE_LOST` or `DATABASE_READ_ONLY` while the database takes no write (see
        `StorageStoppedError`), else None."""
        ...

    def transaction(self, *, urgent: bool = False) -> AbstractAsyncContextManager[None]:
        """One transaction at a time; `urgent` ones (the agenda's clock, the delivery
        worker) are let in before the others waiting."""
        ...
