"""What the services depend on. Storage and Telegram adapters implement these Protocols."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Protocol

from bot.models import CheckIn, Consent, Participant, Role, RoleGrant


class Clock(Protocol):
    def now(self) -> datetime:
        """An aware datetime; tests and rehearsals pass a clock they control."""
        ...


class ParticipantRepo(Protocol):
    async def get(self, user_id: int) -> Participant | None: ...

    async def upsert(
        self, user_id: int, chat_id: int, display_name: str, now: datetime
    ) -> Participant: ...

    async def set_language(self, user_id: int, language: str | None) -> None: ...

    async def delete(self, user_id: int) -> bool:
        """Erase the person and, through the schema's cascades, everything tied to them."""
        ...

    async def active_consent(self, user_id: int, event_key: str) -> Consent | None: ...

    async def record_consent(
        self, user_id: int, event_key: str, version: str, now: datetime
    ) -> Consent: ...


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


class UnitOfWork(Protocol):
    """One storage transaction; the repositories are only used inside `transaction()`."""

    @property
    def participants(self) -> ParticipantRepo: ...

    @property
    def checkins(self) -> CheckInRepo: ...

    @property
    def roles(self) -> RoleRepo: ...

    def transaction(self) -> AbstractAsyncContextManager[None]: ...
