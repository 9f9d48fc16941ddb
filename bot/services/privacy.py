"""Erasure on request: a participant's data leaves every table."""

from __future__ import annotations

from bot.models import UserRef
from bot.ports import UnitOfWork


class PrivacyService:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def forget(self, user: UserRef) -> bool:
        """Erase the person; True when there was anything to erase."""
        async with self._uow.transaction():
            return await self._uow.participants.delete(user.user_id)
