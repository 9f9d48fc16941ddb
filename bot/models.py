"""Domain records the services and repositories exchange: frozen, Telegram-free, SQL-free."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


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


@dataclass(frozen=True, slots=True)
class RoleGrant:
    event_key: str
    user_id: int
    role: Role
    site_key: str | None  # None for organisers: they act on every site
    granted_at: datetime
    via: str  # "code", "event_file" or "settings"
