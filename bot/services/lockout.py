"""A lockout for repeated wrong codes.

Check-in and role codes could be guessed at the speed Telegram delivers messages. After
`limit` wrong codes within `window` a person may try no code for `pause`; a right code clears
their count. The count is kept in memory: a restart forgives, which costs a guesser a restart
of the bot they do not control.
"""

from __future__ import annotations

from collections import deque
from datetime import datetime, timedelta

from bot.ports import Clock


class CodeLockout:
    def __init__(
        self,
        clock: Clock,
        *,
        limit: int = 5,
        window: timedelta = timedelta(minutes=10),
        pause: timedelta = timedelta(minutes=15),
    ) -> None:
        self._clock = clock
        self._limit = limit
        self._window = window
        self._pause = pause
        self._misses: dict[int, deque[datetime]] = {}
        self._locked_until: dict[int, datetime] = {}

    def locked_until(self, user_id: int) -> datetime | None:
        """When the person may try a code again, if they may not now."""
        until = self._locked_until.get(user_id)
        if until is None:
            return None
        if self._clock.now() >= until:
            del self._locked_until[user_id]
            return None
        return until

    def wrong(self, user_id: int) -> bool:
        """Count a wrong code; True if the person is now locked out."""
        now = self._clock.now()
        misses = self._misses.setdefault(user_id, deque())
        misses.append(now)
        while misses and now - misses[0] >= self._window:
            misses.popleft()
        if len(misses) >= self._limit:
            misses.clear()
            self._locked_until[user_id] = now + self._pause
            return True
        return False

    def right(self, user_id: int) -> None:
        self._misses.pop(user_id, None)
